package flashlm.pipeline.hub;

import flashlm.hash.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * The two hashes a downloaded file is checked with, computed in one pass as bytes arrive: its
 * sha256 (an LFS file's oid) and its git blob id, {@code sha1("blob SIZE\0" + bytes)} (the oid
 * the tree API gives for a file kept in git). {@link #count()} says how many bytes went in, so a
 * resumed download can check that the digest covers exactly the bytes already on disk.
 */
final class Hashes {
  private static final int BUFFER = 1 << 20;
  private final MessageDigest sha256 = Sha256.digest();
  private final MessageDigest gitSha1 = Sha256.newDigest("SHA-1");
  private long count;

  /** Fresh digests for a file of {@code size} bytes (the size is part of the git blob id). */
  Hashes(long size) {
    gitSha1.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
  }

  /** Digests of a file of {@code size} bytes whose first bytes are {@code prefix}'s content. */
  static Hashes over(long size, InputStream prefix) throws IOException {
    Hashes h = new Hashes(size);
    byte[] buffer = new byte[BUFFER];
    try (prefix) {
      for (int n = prefix.read(buffer); n >= 0; n = prefix.read(buffer)) {
        h.update(buffer, 0, n);
      }
    }
    return h;
  }

  void update(byte[] bytes, int offset, int length) {
    sha256.update(bytes, offset, length);
    gitSha1.update(bytes, offset, length);
    count += length;
  }

  long count() {
    return count;
  }

  /** The result; the digests are spent afterwards. */
  Result finish() {
    return new Result(HexFormat.of().formatHex(sha256.digest()),
        HexFormat.of().formatHex(gitSha1.digest()));
  }

  /** Lower-case hex digests of a whole file. */
  record Result(String sha256, String gitSha1) {}
}
