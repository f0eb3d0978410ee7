package flashlm.pipeline.bpe;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2's {@code bytes_to_unicode} table: every byte maps to one printable character, so a byte
 * sequence becomes a string without whitespace or control characters. Printable Latin-1 bytes
 * ({@code !..~}, {@code ¡..¬}, {@code ®..ÿ}) map to themselves; the other 68 bytes map to
 * U+0100.. in byte order (space becomes {@code Ġ}, newline {@code Ċ}).
 */
final class ByteLevel {
  /** byte value (0..255) -> character. */
  private static final char[] BYTE_TO_CHAR = new char[256];
  /** character -> byte value, -1 where the character is not in the alphabet. */
  private static final int[] CHAR_TO_BYTE = new int[256 + 68];

  static {
    java.util.Arrays.fill(CHAR_TO_BYTE, -1);
    int next = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char c = printable ? (char) b : (char) (256 + next++);
      BYTE_TO_CHAR[b] = c;
      CHAR_TO_BYTE[c] = b;
    }
  }

  private ByteLevel() {}

  /** The character byte {@code b} (0..255) maps to. */
  static char charOf(int b) {
    return BYTE_TO_CHAR[b];
  }

  /** The byte value character {@code c} stands for, or -1 if it is not a byte-level character. */
  static int byteOf(char c) {
    return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
  }

  /** Maps {@code bytes} to their byte-level string (one char per byte). */
  static String encode(byte[] bytes) {
    char[] out = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
    }
    return new String(out);
  }

  /** Maps a piece of text to the byte-level string of its UTF-8 encoding. */
  static String encode(String text) {
    return encode(text.getBytes(StandardCharsets.UTF_8));
  }

  /** Inverse of {@link #encode(byte[])}; rejects characters outside the alphabet. */
  static byte[] decode(String byteLevel) {
    byte[] out = new byte[byteLevel.length()];
    for (int i = 0; i < out.length; i++) {
      int b = byteOf(byteLevel.charAt(i));
      if (b < 0) {
        throw new IllegalArgumentException("not a byte-level character: U+"
            + Integer.toHexString(byteLevel.charAt(i)) + " in '" + byteLevel + "'");
      }
      out[i] = (byte) b;
    }
    return out;
  }
}
