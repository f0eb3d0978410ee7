package flashlm.pipeline.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;

class HubPathsTest {
  @Test
  void listingPathsMustBeSafeRelativePaths() {
    for (String ok : List.of("README.md", "sample/10BT/000_00000.parquet", "data/a:b.txt",
        "a..b/.hidden", "x/_flashlm_partial/y", "dir with space/é.txt")) {
      assertNull(HubPaths.problem(ok), ok);
    }
    for (String bad : List.of("", "/etc/passwd", "data\\..\\x", "a\u0000b", "a\nb",
        "s3a://bucket/x", "file:/tmp/x", "C:x", "./a", "a/./b", "../a", "data/../../x", "a//b",
        "a/", "_flashlm_partial/x.part", "_flashlm_download.json")) {
      assertNotNull(HubPaths.problem(bad), bad);
    }
    assertNotNull(HubPaths.problem(null));
  }

  @Test
  void resolutionStaysStrictlyUnderTheDestination() {
    Path dest = new Path("file:/d/raw");
    assertEquals(new Path("file:/d/raw/a/b.txt"), HubPaths.resolveUnder(dest, "a/b.txt"));
    assertTrue(HubPaths.isUnder(dest, new Path("file:/d/raw/x")));
    assertFalse(HubPaths.isUnder(dest, new Path("file:/d/raw")), "the destination itself");
    assertFalse(HubPaths.isUnder(dest, new Path("file:/d/rawx/y")), "a sibling with a prefix");
    assertFalse(HubPaths.isUnder(dest, new Path("file:/d/raw/../x")));
    assertFalse(HubPaths.isUnder(dest, new Path("s3a://d/raw/x")), "another filesystem");
    assertFalse(HubPaths.isUnder(new Path("s3a://b1/raw"), new Path("s3a://b2/raw/x")));
    HubException e = assertThrows(HubException.class,
        () -> HubPaths.resolveUnder(dest, "data/../../x"));
    assertTrue(e.getMessage().contains("'data/../../x'") && e.getMessage().contains("'..'"),
        e.getMessage());
    HubException nul = assertThrows(HubException.class, () -> HubPaths.resolveUnder(dest,
        "a\u0000b"));
    assertTrue(nul.getMessage().contains("a\\u0000b"), "shown, not printed raw: "
        + nul.getMessage());
  }

  @Test
  void commitsAndHashesHaveTheirExactShapes() {
    assertTrue(HubPaths.isObjectId("0123456789abcdef0123456789abcdef01234567"));
    assertFalse(HubPaths.isObjectId("0123456789ABCDEF0123456789abcdef01234567"));
    assertFalse(HubPaths.isObjectId("main"));
    assertFalse(HubPaths.isObjectId("../../../etc"));
    assertFalse(HubPaths.isObjectId(null));
    assertTrue(HubPaths.isSha256("0".repeat(64)));
    assertFalse(HubPaths.isSha256("0".repeat(63) + "g"));
  }
}
