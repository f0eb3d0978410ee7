package flashlm.pipeline.hub;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HubClientTest {
  static final HubToken TOKEN = HubToken.fromEnv(Map.of("HF_TOKEN", "hf_secretValue123"));

  @Test
  void theTokenIsRefusedOverPlainHttpToAnythingButLoopback() {
    for (String endpoint : List.of("http://hub.example", "http://10.0.0.1:8080",
        "http://127.0.0.1.evil.example", "http://localhost.evil.example")) {
      HubException e = assertThrows(HubException.class,
          () -> new HubClient(config(endpoint), TOKEN), endpoint);
      assertTrue(e.getMessage().contains("plain http to " + endpoint)
          && e.getMessage().contains("https"), e.getMessage());
      assertFalse(e.getMessage().contains("hf_secretValue123"));
      assertDoesNotThrow(() -> new HubClient(config(endpoint), HubToken.NONE), "no token");
    }
    for (String endpoint : List.of("https://huggingface.co", "http://127.0.0.1:8080",
        "http://localhost:1", "http://[::1]:8080", "http://127.1.2.3")) {
      assertDoesNotThrow(() -> new HubClient(config(endpoint), TOKEN), endpoint);
    }
    assertTrue(HubToken.mayGoTo(URI.create("HTTPS://hub.example/x")));
    assertFalse(HubToken.mayGoTo(URI.create("ftp://127.0.0.1/x")));
  }

  @Test
  void redactionRemovesTheTokenAndAnythingShapedLikeAHubToken() {
    HubToken plain = HubToken.fromEnv(Map.of("HF_TOKEN", "not-shaped-like-hf"));
    assertEquals("HTTP 401 Bearer *** and hf_***, hf_ alone",
        plain.redact("HTTP 401 Bearer not-shaped-like-hf and hf_OtherToken9, hf_ alone"));
    assertEquals("Bearer ***", TOKEN.redact("Bearer hf_secretValue123"));
    assertEquals("hf_*** x", HubToken.NONE.redact("hf_abc x"));
    assertEquals(null, TOKEN.redact(null));
  }

  private static DownloadConfig config(String endpoint) {
    return DownloadConfig.of(Map.of("repo", "a/b", "patterns", List.of("x"), "endpoint", endpoint));
  }
}
