package flashlm.pipeline.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.fs.HadoopFiles;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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

  @Test
  void stagedPartsLiveInAPrivateFolderAsPrivateFiles() throws Exception {
    Path staging = StagingDir.under(dir);
    assertEquals("rwx------", perms(staging));
    PartFile.Staged part = PartFile.staged(localFs(), staging, target("out/d.txt"), COMMIT);
    try (OutputStream out = part.openAppend()) {
      out.write(1);
    }
    assertEquals("rw-------", perms(Path.of(part.location())));
    assertEquals(staging, StagingDir.under(dir), "found again, and accepted");
    part.abandon();
    assertFalse(Files.exists(Path.of(part.location())), "a failed file's part is removed");
  }

  @Test
  void aStagingFolderOthersMayWriteToIsRefused() throws Exception {
    Path shared = dir.resolve("flashlm-download-" + System.getProperty("user.name")
        .replaceAll("[^A-Za-z0-9._-]", "_"));
    Files.createDirectory(shared);
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
    PartFile.UnsafePart e = assertThrows(PartFile.UnsafePart.class, () -> StagingDir.under(dir));
    assertTrue(e.getMessage().contains(shared.toString())
        && e.getMessage().contains("rwxrwxrwx") && e.getMessage().contains("rwx------"),
        e.getMessage());

    Files.delete(shared);
    Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"));
    Files.createSymbolicLink(shared, elsewhere);
    PartFile.UnsafePart link = assertThrows(PartFile.UnsafePart.class,
        () -> StagingDir.under(dir));
    assertTrue(link.getMessage().contains("symbolic link"), link.getMessage());
  }

  @Test
  void aLinkPlantedWhereAStagedPartGoesIsNeverFollowed() throws Exception {
    Path staging = StagingDir.under(dir);
    Path victim = Files.writeString(dir.resolve("victim.txt"), "precious");
    PartFile.Staged part = PartFile.staged(localFs(), staging, target("out/e.txt"), COMMIT);
    Files.createSymbolicLink(Path.of(part.location()), victim);
    assertThrows(PartFile.UnsafePart.class, part::openAppend);
    assertThrows(PartFile.UnsafePart.class, part::length);
    assertThrows(PartFile.UnsafePart.class, part::openRead);
    assertEquals("precious", Files.readString(victim));
    part.delete();
    assertTrue(Files.exists(victim), "deleting the part removes the link, not its target");
  }

  private org.apache.hadoop.fs.Path target(String rel) {
    return new org.apache.hadoop.fs.Path(dir.resolve(rel).toUri());
  }

  private FileSystem localFs() throws Exception {
    return HadoopFiles.fileSystem(new Configuration(), target("x"));
  }

  private static String perms(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
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
