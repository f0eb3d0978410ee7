package flashlm.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import flashlm.config.Configs;
import flashlm.data.SequenceBatches;
import flashlm.fs.AtomicFiles;
import flashlm.model.ParamLayout;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumException;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The checkpoint file format, version {@value #FORMAT_VERSION}. All numbers little-endian:
 *
 * <pre>
 * magic             8 bytes  "FLMCKPT" 0x1A
 * format version    u32      1
 * header length     u32      H
 * parameter count   u64      P
 * optimizer count   u64      S  (2P for AdamW [m | v], P for SGD [momentum])
 * header            H bytes  UTF-8 JSON: {@link Header} (resolved config, step, time used, seed,
 *                            data table/version, world size and every rank's data position,
 *                            budget decay window, tensor layout)
 * parameters        P x f32  the flat buffer, {@link ParamLayout} order
 * optimizer state   S x f32
 * crc32             u32      of every byte before it
 * end magic         4 bytes  "FEND"
 * </pre>
 *
 * <p>Written through the Hadoop FileSystem API with {@link AtomicFiles#write}, so a reader sees a
 * whole file or none, and the bytes are on the disk before the name is. A file can still be
 * damaged afterwards (an interrupted copy, a power cut under a tool that does not sync, a
 * filesystem that is not atomic, bad storage); two checks tell how:
 *
 * <ul>
 *   <li><b>complete</b> ({@link #incomplete}): the header reads, the file's length is the one the
 *       header implies, {@code 32 + H + 4 (P + S) + 8}, and the end magic is there. Cheap: the
 *       header, the file status and the last 4 bytes. {@link CheckpointDir#latest} skips an
 *       incomplete file in favour of the previous checkpoint. A file of the right length whose
 *       end magic (or magic) reads as zeros is incomplete, not damaged: the file is written front
 *       to back and the end magic, which has no zero byte, last; after a power cut, a filesystem
 *       with delayed allocation (ext4, xfs) shows the blocks whose data never reached the disk as
 *       zeros up to the length it had recorded. Damage to a finished file (a flipped bit, a bad
 *       sector, a file changed by hand) leaves the end magic as it was, or changes it to
 *       something other than exactly four zero bytes.
 *   <li><b>intact</b> ({@link #read}): the CRC-32 of every byte matches. A complete file whose
 *       checksum does not match was changed after it was written; {@link #read} refuses it with
 *       an error naming the file, since quietly falling back would hide a storage fault.
 * </ul>
 *
 * <p>The header is untrusted input: its counts and tensor layout are checked against each other
 * and against the file's length before anything is allocated from them.
 */
public final class Checkpoint {
  public static final int FORMAT_VERSION = 1;
  private static final byte[] MAGIC = {'F', 'L', 'M', 'C', 'K', 'P', 'T', 0x1A};
  private static final byte[] END = {'F', 'E', 'N', 'D'};
  private static final int CHUNK = 1 << 20;
  /** Bytes before the header JSON: magic, version, header length, P, S. */
  private static final int PREFIX = 32;
  /** Bytes after the tensors: CRC-32 and end magic. */
  private static final int SUFFIX = 8;
  /** Bounds that only damage exceeds (headers are a few KB), checked before allocating. */
  private static final int MAX_HEADER = 1 << 24;
  private static final long MAX_VALUES = 1L << 40;
  private static final String LOST = "never reached the disk (a power cut after its length was"
      + " recorded)";
  private static final String ZERO_TAIL = "it is zero-filled at its end, where the end magic"
      + " belongs: its last data " + LOST;

  private Checkpoint() {}

  /**
   * Everything a checkpoint records besides the tensors.
   *
   * @param config the resolved training config
   * @param step optimizer updates done
   * @param elapsedMillis wall-clock time the run has used, over all its resumes
   * @param seed initialisation and data-order seed
   * @param table the sequences table the run reads
   * @param tableVersion the Delta version it reads
   * @param epoch data position of rank 0: epoch of its next training batch
   * @param index data position of rank 0: row of its next training batch in its epoch
   * @param decayStart the time budget's decay window (see {@link LrSchedule}), or null
   * @param decayEnd end of that window, or null
   * @param decayFromLr learning rate the window decays from, or null
   * @param optimizer "adamw" or "sgd"
   * @param tensors the parameter layout
   * @param paramCount P
   * @param optimizerCount S
   * @param worldSize the ranks of the run that wrote it (absent in checkpoints of one process: 1)
   * @param positions every rank's data position, element r being rank r's (absent: rank 0's,
   *     {@code epoch} and {@code index})
   */
  public record Header(TrainConfig config, long step, long elapsedMillis, long seed, String table,
      long tableVersion, long epoch, long index, Long decayStart, Long decayEnd, Double decayFromLr,
      String optimizer, List<ParamLayout.Tensor> tensors, long paramCount, long optimizerCount,
      Integer worldSize, List<SequenceBatches.Position> positions) {
    public Header {
      Objects.requireNonNull(config, "config");
      Objects.requireNonNull(optimizer, "optimizer");
      tensors = List.copyOf(Objects.requireNonNull(tensors, "tensors"));
      worldSize = worldSize == null ? 1 : worldSize;
      positions = positions == null ? List.of(new SequenceBatches.Position(epoch, index))
          : List.copyOf(positions);
      if (worldSize < 1 || positions.size() != worldSize
          || !positions.get(0).equals(new SequenceBatches.Position(epoch, index))) {
        throw new IllegalArgumentException("world_size " + worldSize + " with " + positions.size()
            + " rank positions, the first " + positions.get(0) + " against epoch " + epoch
            + " index " + index);
      }
    }

    /**
     * The header of a run of one process at {@code step} that has read nothing yet (data position
     * 0 of epoch 0), has spent no time and is outside any decay window: what a model written
     * before training (an initialisation, an import) carries. The seed and the optimizer are the
     * config's; {@code optimizerCount} is the size of the optimizer state written with it.
     */
    public static Header untrained(TrainConfig config, long step, String table, long tableVersion,
        List<ParamLayout.Tensor> tensors, long paramCount, long optimizerCount) {
      return new Header(config, step, 0, config.seed(), table, tableVersion, 0, 0, null, null,
          null, config.optimizer().type().id(), tensors, paramCount, optimizerCount, 1, null);
    }

    /** The layout recorded in the header. */
    public ParamLayout layout() {
      return ParamLayout.of(tensors);
    }
  }

  /**
   * Writes {@code header}, {@code params} (P values from index 0) and {@code state} (S values)
   * to {@code path} atomically.
   */
  public static void write(Configuration conf, String path, Header header, FloatBuffer params,
      FloatBuffer state) {
    byte[] json;
    try {
      json = Configs.json().writeValueAsBytes(Configs.redacted(Configs.json().valueToTree(header)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize the checkpoint header", e);
    }
    AtomicFiles.write(conf, path, raw -> {
      CheckedOutputStream out = new CheckedOutputStream(raw, new CRC32());
      ByteBuffer head = ByteBuffer.allocate(PREFIX).order(ByteOrder.LITTLE_ENDIAN);
      head.put(MAGIC).putInt(FORMAT_VERSION).putInt(json.length).putLong(header.paramCount())
          .putLong(header.optimizerCount());
      out.write(head.array());
      out.write(json);
      byte[] chunk = new byte[CHUNK];
      writeFloats(out, params, header.paramCount(), chunk);
      writeFloats(out, state, header.optimizerCount(), chunk);
      ByteBuffer tail = ByteBuffer.allocate(SUFFIX).order(ByteOrder.LITTLE_ENDIAN);
      tail.putInt((int) out.getChecksum().getValue()).put(END);
      raw.write(tail.array());
    });
  }

  /**
   * Reads only the header of {@code path}, checked against the file's length (so that a caller
   * may allocate what it says).
   *
   * @throws IllegalArgumentException naming the file when it is not a complete checkpoint
   */
  public static Header readHeader(Configuration conf, String path) {
    return read(conf, path, null, null, false);
  }

  /**
   * Reads {@code path} into {@code params} (P values from index 0) and, unless null, {@code state}
   * (S values), checking the checksum.
   *
   * @throws IllegalArgumentException naming the file and what to do when it is not a checkpoint,
   *     has another format version, is truncated or corrupt, or does not fit the buffers
   */
  public static Header read(
      Configuration conf, String path, FloatBuffer params, FloatBuffer state) {
    return read(conf, path, params, state, true);
  }

  /**
   * Why {@code path} is not a complete checkpoint (see the class comment), or null when it is.
   *
   * @throws IllegalArgumentException when it is a checkpoint of another format version: whole,
   *     but for another build
   */
  static String incomplete(Configuration conf, String path) {
    Path file = new Path(path);
    try {
      FileSystem fs = file.getFileSystem(conf);
      long length;
      try {
        length = fs.getFileStatus(file).getLen();
      } catch (FileNotFoundException e) {
        return "it was removed while the directory was read";
      }
      try (FSDataInputStream in = fs.open(file)) {
        Head head;
        try {
          head = readHeader(new DataInputStream(in), path, length);
        } catch (EOFException e) {
          return "it ends inside its header (" + length + " bytes)";
        } catch (OtherVersion e) {
          throw e;
        } catch (IllegalArgumentException | ChecksumException e) {
          return zeroFilled(in, length) ? "it is zero-filled (zeros where its magic and end"
              + " magic belong, " + length + " bytes): its data " + LOST : e.getMessage();
        }
        if (length != head.fileLength()) {
          return "it is " + length + " bytes but its header implies " + head.fileLength()
              + " (an interrupted write or copy)";
        }
        return zeroTail(in, length) ? ZERO_TAIL : null;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint " + path + ": " + e.getMessage(), e);
    }
  }

  /** Whether the file's first and last bytes are zeros: nothing of it reached the disk. */
  private static boolean zeroFilled(FSDataInputStream in, long length) throws IOException {
    if (length < MAGIC.length + SUFFIX) {
      return false;
    }
    byte[] head = new byte[MAGIC.length];
    in.readFully(0, head);
    return allZero(head) && zeroTail(in, length);
  }

  /** Whether the 4 bytes where the end magic belongs (the last ones written) are zeros. */
  private static boolean zeroTail(FSDataInputStream in, long length) throws IOException {
    byte[] end = new byte[END.length];
    in.readFully(length - END.length, end);
    return allZero(end);
  }

  private static boolean allZero(byte[] bytes) {
    for (byte b : bytes) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  private static Header read(Configuration conf, String path, FloatBuffer params, FloatBuffer state,
      boolean tensors) {
    Path file = new Path(path);
    try (FSDataInputStream raw = file.getFileSystem(conf).open(file);
        CheckedInputStream checked = new CheckedInputStream(raw, new CRC32());
        DataInputStream in = new DataInputStream(checked)) {
      long length = file.getFileSystem(conf).getFileStatus(file).getLen();
      Head head = readHeader(in, path, length);
      Header header = head.header();
      if (length != head.fileLength()) {
        throw new IllegalArgumentException(path + " is truncated: it is " + length + " bytes but"
            + " its header implies " + head.fileLength() + " (an interrupted write or copy); use"
            + " an earlier checkpoint");
      }
      long p = header.paramCount();
      long s = header.optimizerCount();
      if (!tensors) {
        return header;
      }
      check(path, "parameters", p, params);
      if (state != null) {
        check(path, "optimizer state values", s, state);
      }
      byte[] chunk = new byte[CHUNK];
      readFloats(in, params, p, chunk);
      readFloats(in, state, s, chunk);
      int expected = (int) checked.getChecksum().getValue();
      ByteBuffer tail = ByteBuffer.allocate(SUFFIX).order(ByteOrder.LITTLE_ENDIAN);
      in.readFully(tail.array());
      if (allZero(Arrays.copyOfRange(tail.array(), 4, 8))) {
        throw new IllegalArgumentException(path + " is incomplete: " + ZERO_TAIL + "; use an"
            + " earlier checkpoint (--resume skips it)");
      }
      if (tail.getInt() != expected
          || !Arrays.equals(Arrays.copyOfRange(tail.array(), 4, 8), END)) {
        throw new IllegalArgumentException(path + " is corrupt (checksum mismatch): it is"
            + " complete, but its bytes changed after it was written. Check the storage; to go on,"
            + " move it out of the directory and --resume continues from the previous checkpoint");
      }
      return header;
    } catch (ChecksumException e) {
      throw new IllegalArgumentException(path + " is corrupt (" + e.getMessage() + "); resume from"
          + " an earlier checkpoint", e);
    } catch (EOFException e) {
      throw new IllegalArgumentException(path + " is truncated (an interrupted copy?); use an"
          + " earlier checkpoint", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint " + path + ": " + e.getMessage(), e);
    }
  }

  /** A whole checkpoint of another format version: not damage, so never skipped as such. */
  private static final class OtherVersion extends IllegalArgumentException {
    OtherVersion(String message) {
      super(message);
    }
  }

  /** A header and the length of the file it heads: {@code 32 + H + 4 (P + S) + 8}. */
  private record Head(Header header, long fileLength) {}

  /**
   * Reads the magic bytes, format version, counts and header JSON of a file of {@code length}
   * bytes, and checks them against each other and the length before allocating anything.
   */
  private static Head readHeader(DataInputStream in, String path, long length) throws IOException {
    byte[] magic = new byte[MAGIC.length];
    in.readFully(magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new IllegalArgumentException(path + " is not a FlashLM checkpoint (wrong magic"
          + " bytes); pass a ckpt-*.flm file written by flashlm train");
    }
    ByteBuffer head = ByteBuffer.allocate(PREFIX - MAGIC.length).order(ByteOrder.LITTLE_ENDIAN);
    in.readFully(head.array());
    int version = head.getInt();
    if (version != FORMAT_VERSION) {
      throw new OtherVersion(path + " has checkpoint format version " + version
          + "; this build reads version " + FORMAT_VERSION + ". Resume or export it with the"
          + " FlashLM build that wrote it, or start a new run in another checkpoint.dir");
    }
    int jsonLength = head.getInt();
    long p = head.getLong();
    long s = head.getLong();
    // each bound alone, so that p + s cannot overflow
    if (jsonLength <= 0 || jsonLength > MAX_HEADER || p < 0 || p > MAX_VALUES || s < 0
        || s > MAX_VALUES) {
      throw new IllegalArgumentException(path + " is corrupt: impossible header length or counts ("
          + jsonLength + ", " + p + ", " + s + ")");
    }
    if (PREFIX + (long) jsonLength > length) {
      throw new EOFException(path + ": a header of " + jsonLength + " bytes in a file of "
          + length);
    }
    byte[] json = new byte[jsonLength];
    in.readFully(json);
    Header header = parseHeader(path, json);
    if (header.paramCount() != p || header.optimizerCount() != s) {
      throw new IllegalArgumentException(path + " is corrupt: its header disagrees with its"
          + " counts (" + p + ", " + s + ")");
    }
    checkLayout(path, header);
    return new Head(header, PREFIX + jsonLength + Float.BYTES * (p + s) + SUFFIX);
  }

  /** The tensors must tile {@code [0, P)} in order, each of positive dimensions. */
  private static void checkLayout(String path, Header header) {
    long next = 0;
    for (ParamLayout.Tensor t : header.tensors()) {
      long size = 1;
      for (int d : t.shape()) {
        if (d <= 0 || size > MAX_VALUES / d) {
          size = -1;
          break;
        }
        size *= d;
      }
      if (t.name() == null || size < 0 || t.offset() != next || size > MAX_VALUES - next) {
        throw new IllegalArgumentException(path + " is corrupt: tensor " + t + " of its tensor"
            + " layout has an impossible shape or does not start at offset " + next
            + ", where the one before it ends");
      }
      next += size;
    }
    if (next != header.paramCount()) {
      throw new IllegalArgumentException(path + " is corrupt: its tensor layout covers " + next
          + " parameters but it holds " + header.paramCount());
    }
  }

  private static Header parseHeader(String path, byte[] json) {
    try {
      return Configs.json().readValue(new String(json, StandardCharsets.UTF_8), Header.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(path + ": cannot parse the checkpoint header: "
          + e.getOriginalMessage(), e);
    }
  }

  private static void check(String path, String what, long count, FloatBuffer dest) {
    if (dest.capacity() != count) {
      throw new IllegalArgumentException(path + " holds " + count + " " + what + " but the model"
          + " here has " + dest.capacity() + ": it was written for another model or optimizer."
          + " Resume with the config saved beside it (config.json) or use another checkpoint.dir");
    }
  }

  /** Writes {@code count} floats of {@code src} from index 0, little-endian, in chunks. */
  private static void writeFloats(OutputStream out, FloatBuffer src, long count, byte[] chunk)
      throws IOException {
    FloatBuffer view = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    for (long pos = 0; pos < count; ) {
      int n = (int) Math.min(view.capacity(), count - pos);
      view.clear();
      view.put(src.slice((int) pos, n));
      out.write(chunk, 0, n * Float.BYTES);
      pos += n;
    }
  }

  /** Reads {@code count} floats into {@code dest} from index 0, or skips them if dest is null. */
  private static void readFloats(DataInputStream in, FloatBuffer dest, long count, byte[] chunk)
      throws IOException {
    FloatBuffer view = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    for (long pos = 0; pos < count; ) {
      int n = (int) Math.min(view.capacity(), count - pos);
      in.readFully(chunk, 0, n * Float.BYTES);
      if (dest != null) {
        dest.put((int) pos, view, 0, n);
      }
      pos += n;
    }
  }
}
