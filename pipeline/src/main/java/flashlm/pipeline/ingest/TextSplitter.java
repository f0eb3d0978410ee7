package flashlm.pipeline.ingest;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Splits a UTF-8 byte stream into segments at a separator, streaming: memory is one segment, not
 * the file. Each segment is decoded strictly; a malformed byte is an {@link IngestException} that
 * names the file and the byte offset. Splitting bytes before decoding is safe because no byte of
 * a valid multi-byte UTF-8 sequence equals an ASCII byte, and UTF-8 is self-synchronising for
 * non-ASCII separators.
 *
 * <p>The segments are the raw text between separators (also the empty ones); callers strip and
 * drop blank ones.
 */
final class TextSplitter implements Iterator<TextSplitter.Segment>, Closeable {
  /** Largest segment accepted: a file without separators would otherwise be read whole. */
  static final int MAX_SEGMENT_BYTES = 64 << 20;
  private static final int READ_BUFFER = 1 << 16;

  /** One segment: its byte offset in the file and its text. */
  record Segment(long offset, String text) {}

  private final String file;
  private final InputStream in;
  private final byte[] separator;
  private final int[] fallback; // KMP failure function of the separator
  private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT);
  private final byte[] buffer = new byte[READ_BUFFER];
  private int bufferPos;
  private int bufferLen;
  private long position; // the file offset after the bytes consumed from the stream
  private byte[] segment = new byte[8192];
  private int segmentLen;
  private long segmentStart;
  private int matched; // separator bytes matched at the end of the segment
  private boolean eof;
  private Segment next;

  /**
   * @param file the file's name in errors
   * @param in the file's bytes; closed by {@link #close}
   * @param separator a non-empty separator
   */
  TextSplitter(String file, InputStream in, String separator) {
    this(file, in, separator, 0);
  }

  /**
   * A splitter over a stream that starts at byte {@code start} of the file, where no separator
   * match is under way ({@link TextRange} finds such a place): offsets are the file's.
   */
  TextSplitter(String file, InputStream in, String separator, long start) {
    this.file = file;
    this.in = in;
    this.separator = separator.getBytes(StandardCharsets.UTF_8);
    this.fallback = failureFunction(this.separator);
    this.position = start;
    this.segmentStart = start;
  }

  /** The file's offset after the bytes read from the stream so far. */
  long position() {
    return position;
  }

  /**
   * The offset of the segment the next {@link #hasNext} reads, or -1 when none is left; only
   * meaningful before that call (no segment read ahead).
   */
  long nextOffset() {
    return next != null ? next.offset() : eof ? -1 : segmentStart;
  }

  /** Reads past the next segment without keeping or decoding it (a partial document). */
  void skip() {
    if (next != null) {
      next = null;
      return;
    }
    try {
      while (!eof) {
        if (bufferPos == bufferLen) {
          bufferLen = in.read(buffer);
          bufferPos = 0;
          if (bufferLen < 0) {
            bufferLen = 0;
            eof = true;
            break;
          }
        }
        if (advance(buffer[bufferPos++])) {
          break;
        }
      }
      segmentStart = position;
      segmentLen = 0;
    } catch (IOException e) {
      throw new IngestException(file + ": read failed at byte offset " + position + ": "
          + e.getMessage(), e);
    }
  }

  @Override
  public boolean hasNext() {
    if (next == null && !eof) {
      next = readSegment();
    }
    return next != null;
  }

  @Override
  public Segment next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Segment s = next;
    next = null;
    return s;
  }

  @Override
  public void close() throws IOException {
    in.close();
  }

  private Segment readSegment() {
    try {
      while (true) {
        if (bufferPos == bufferLen) {
          bufferLen = in.read(buffer);
          bufferPos = 0;
          if (bufferLen < 0) {
            bufferLen = 0;
            eof = true;
            // The text after the last separator is a segment too (maybe empty).
            return emit(segmentLen);
          }
        }
        byte b = buffer[bufferPos++];
        append(b);
        if (advance(b)) {
          return emit(segmentLen - separator.length);
        }
      }
    } catch (IOException e) {
      throw new IngestException(file + ": read failed at byte offset " + position + ": "
          + e.getMessage(), e);
    }
  }

  /** Consumes one byte; true when it completes a separator match. */
  private boolean advance(byte b) {
    position++;
    while (matched > 0 && separator[matched] != b) {
      matched = fallback[matched - 1];
    }
    if (separator[matched] == b) {
      matched++;
    }
    if (matched == separator.length) {
      matched = 0;
      return true;
    }
    return false;
  }

  private void append(byte b) {
    if (segmentLen == segment.length) {
      if (segmentLen >= MAX_SEGMENT_BYTES) {
        throw new IngestException(file + ": the document at byte offset " + segmentStart
            + " is longer than " + (MAX_SEGMENT_BYTES >> 20) + " MiB; is the separator right?");
      }
      segment = Arrays.copyOf(segment, Math.min(MAX_SEGMENT_BYTES, segment.length * 2));
    }
    segment[segmentLen++] = b;
  }

  private Segment emit(int length) {
    Segment s = new Segment(segmentStart, decode(length));
    segmentStart = position;
    segmentLen = 0;
    return s;
  }

  private String decode(int length) {
    ByteBuffer bytes = ByteBuffer.wrap(segment, 0, length);
    CharBuffer chars = CharBuffer.allocate(length); // UTF-8 never has more chars than bytes
    decoder.reset();
    CoderResult result = decoder.decode(bytes, chars, true);
    if (!result.isError()) {
      result = decoder.flush(chars);
    }
    if (result.isError()) {
      long at = segmentStart + bytes.position();
      throw new IngestException(file + ": invalid UTF-8 at byte offset " + at + " (in the document"
          + " starting at byte offset " + segmentStart + "); the file must be UTF-8 text");
    }
    return chars.flip().toString();
  }

  private static int[] failureFunction(byte[] pattern) {
    int[] f = new int[pattern.length];
    for (int i = 1, k = 0; i < pattern.length; i++) {
      while (k > 0 && pattern[i] != pattern[k]) {
        k = f[k - 1];
      }
      if (pattern[i] == pattern[k]) {
        k++;
      }
      f[i] = k;
    }
    return f;
  }

  /** Wraps an IOException from closing in an unchecked one naming the file. */
  void closeQuietly() {
    try {
      close();
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": close failed", e);
    }
  }
}
