package flashlm.pipeline.ingest;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * One byte range {@code [start, end)} of a text file, read by one task: the documents that start
 * in it, exactly those a single pass over the whole file gives there (same text, same offsets),
 * so that a large file is read by several tasks.
 *
 * <p>A document starts at 0 or right after a separator match, matches being found left to right
 * without overlap. A scan that begins in the middle of the file finds the same matches only from
 * a place where no match can be under way: right after a byte that does not occur in the
 * separator (for a separator like {@code "\n\n"}, whose matches depend on where a run of newlines
 * began, this matters). The range looks back from {@code start} for such a byte (or the file's
 * start), scans from there, skips what starts before {@code start} without decoding it, and
 * keeps the segments whose offset is in the range; the last one is read past {@code end} to its
 * separator, as the next range skips it.
 *
 * @param file the file
 * @param start first byte of the range
 * @param end first byte after it
 */
record TextRange(SourceFile file, long start, long end) implements Serializable {
  private static final int LOOK_BACK = 1 << 16;

  /** Opens a file's bytes at an offset. */
  interface Opener {
    InputStream openAt(long offset) throws IOException;
  }

  /** The ranges of {@code file} (of {@code size} bytes), {@code bytes} long but the last. */
  static java.util.List<TextRange> of(SourceFile file, long size, long bytes) {
    java.util.List<TextRange> out = new java.util.ArrayList<>();
    long start = 0;
    do {
      long end = size - start <= bytes ? size : start + bytes;
      out.add(new TextRange(file, start, end));
      start = end;
    } while (start < size);
    return out;
  }

  /** The segments that start in this range, read with {@code opener}. */
  Iterator<TextSplitter.Segment> segments(Opener opener, String separator) throws IOException {
    byte[] sep = separator.getBytes(StandardCharsets.UTF_8);
    long from = start == 0 ? 0 : syncPoint(opener, start, sep);
    TextSplitter splitter =
        new TextSplitter(file.getLocation(), opener.openAt(from), separator, from);
    if (start > 0) {
      splitter.skip(); // a partial document: it starts before this range
      while (splitter.nextOffset() >= 0 && splitter.nextOffset() < start) {
        splitter.skip(); // documents between the look-back point and the range
      }
    }
    return new Owned(splitter);
  }

  /**
   * The offset after the last byte before {@code start} that is not a separator byte, or 0: a
   * scan from there is in the state a scan from 0 has there.
   */
  static long syncPoint(Opener opener, long start, byte[] separator) throws IOException {
    boolean[] inSeparator = new boolean[256];
    for (byte b : separator) {
      inSeparator[b & 0xff] = true;
    }
    byte[] chunk = new byte[LOOK_BACK];
    long end = start;
    while (end > 0) {
      long from = Math.max(0, end - LOOK_BACK);
      int n = (int) (end - from);
      try (InputStream in = opener.openAt(from)) {
        readFully(in, chunk, n);
      }
      for (int i = n - 1; i >= 0; i--) {
        if (!inSeparator[chunk[i] & 0xff]) {
          return from + i + 1;
        }
      }
      end = from;
    }
    return 0;
  }

  private static void readFully(InputStream in, byte[] buf, int n) throws IOException {
    int done = 0;
    while (done < n) {
      int r = in.read(buf, done, n - done);
      if (r < 0) {
        throw new IOException("file ended before byte " + n + " of a look-back read");
      }
      done += r;
    }
  }

  /** The splitter's segments while they start before {@code end}; closes it at the end. */
  private final class Owned implements Iterator<TextSplitter.Segment> {
    private final TextSplitter splitter;
    private boolean done;

    Owned(TextSplitter splitter) {
      this.splitter = splitter;
    }

    @Override
    public boolean hasNext() {
      if (!done) {
        long next = splitter.nextOffset();
        if (next < 0 || next >= end || !splitter.hasNext()) {
          done = true;
          splitter.closeQuietly();
        }
      }
      return !done;
    }

    @Override
    public TextSplitter.Segment next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return splitter.next();
    }
  }
}
