package flashlm.pipeline.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import flashlm.fs.HadoopFiles;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartFileTest {
  static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
  @TempDir Path dir;

  @Test
  void localDestinationsAppendInPlace() throws Exception {
    org.apache.hadoop.fs.Path dest = new org.apache.hadoop.fs.Path(dir.toUri());
    org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(dest, "a/b.txt");
    FileSystem fs = HadoopFiles.fileSystem(new Configuration(), target);
    PartFile part = PartFile.forTarget(fs, dest, target, "a/b.txt", COMMIT);
    assertInstanceOf(PartFile.InPlace.class, part);
    appendAndCommit(part);
    assertEquals("hello world", Files.readString(dir.resolve("a/b.txt")));
    assertFalse(Files.exists(dir.resolve("_flashlm_partial/a/b.txt.0123456789ab.part")));
  }

  @Test
  void stagedPartsUploadWhenCommitted() throws Exception {
    org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(dir.resolve("out/c.txt")
        .toUri());
    FileSystem fs = HadoopFiles.fileSystem(new Configuration(), target);
    Path local = dir.resolve("staging/c.txt.part");
    PartFile part = new PartFile.Staged(fs, local, target);
    appendAndCommit(part);
    assertEquals("hello world", Files.readString(dir.resolve("out/c.txt")));
    assertFalse(Files.exists(local), "the staged copy is removed after the upload");
  }

  /** Two appends (as two responses would), then the move into place. */
  private static void appendAndCommit(PartFile part) throws Exception {
    assertEquals(0, part.length());
    try (OutputStream out = part.openAppend()) {
      out.write("hello ".getBytes(StandardCharsets.UTF_8));
    }
    try (OutputStream out = part.openAppend()) {
      out.write("world".getBytes(StandardCharsets.UTF_8));
    }
    assertEquals(11, part.length());
    part.commit();
  }
}
