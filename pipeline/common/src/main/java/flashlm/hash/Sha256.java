package flashlm.hash;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 as lower-case hex: the one way every module hashes files, tables and configs. */
public final class Sha256 {
  private static final HexFormat HEX = HexFormat.of();
  private static final int BUFFER = 1 << 20;

  private Sha256() {}

  /** A fresh SHA-256 digest, for hashing bytes as they stream past. */
  public static MessageDigest digest() {
    return newDigest("SHA-256");
  }

  /** A fresh JDK message digest; every JDK has SHA-256 and SHA-1. */
  public static MessageDigest newDigest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(algorithm + " missing from this JDK", e);
    }
  }

  /** Hex SHA-256 of {@code bytes}. */
  public static String hex(byte[] bytes) {
    return HEX.formatHex(digest().digest(bytes));
  }

  /** Hex SHA-256 of the UTF-8 bytes of {@code text}. */
  public static String hex(String text) {
    return hex(text.getBytes(StandardCharsets.UTF_8));
  }

  /** Hex SHA-256 of everything {@code in} yields; the stream is read to its end, not closed. */
  public static String hex(InputStream in) throws IOException {
    MessageDigest digest = digest();
    byte[] buffer = new byte[BUFFER];
    for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
      digest.update(buffer, 0, n);
    }
    return HEX.formatHex(digest.digest());
  }

  /** Lower-case hex of a finished digest's bytes. */
  public static String hexOf(byte[] digestBytes) {
    return HEX.formatHex(digestBytes);
  }
}
