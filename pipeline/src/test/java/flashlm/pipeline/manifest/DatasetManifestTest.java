package flashlm.pipeline.manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import org.junit.jupiter.api.Test;

class DatasetManifestTest {
  /** The config a manifest stores for good in the table's history passes the redaction. */
  @Test
  void theStoredConfigIsRedacted() throws Exception {
    JsonNode config = Configs.json().readTree("{\"tokenizer\": \"/t.json\","
        + " \"eos_token\": \"</s>\", \"api_key\": \"k-123\","
        + " \"revision\": \"hf_abcdefghijklmnopqrstuvwxyz12\"}");
    DatasetManifest m = new DatasetManifest(DatasetManifest.FORMAT_VERSION, "tokenize", "f", "t",
        null, null, null, null, null, null, 8, 1, null, null, config);
    String json = m.toJson();
    assertFalse(json.contains("k-123") || json.contains("hf_abcdefghijklmnopqrstuvwxyz12"), json);
    assertTrue(json.contains("\"api_key\":\"" + Configs.MASK + "\""), json);
    assertEquals("/t.json", m.config().get("tokenizer").asText());
    assertEquals("</s>", m.config().get("eos_token").asText());
    assertEquals(m, DatasetManifest.fromJson(Configs.json().readTree(json)));
  }
}
