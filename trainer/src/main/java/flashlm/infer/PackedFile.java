package flashlm.infer;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import flashlm.config.Configs;
import flashlm.fs.AtomicFiles;
import flashlm.hash.Sha256;
import flashlm.model.ModelSpec;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The packed model file ({@code flashlm export --format packed}), version {@value
 * #FORMAT_VERSION}; everything a model needs to generate and be evaluated, in one file. All
 * numbers little-endian:
 *
 * <pre>
 * magic             8 bytes  "FLMPACK" 0x1A
 * format version    u32      1
 * header length     u32      H
 * weights length    u64      W
 * tokenizer length  u64      K  (0: none embedded)
 * header            H bytes  UTF-8 JSON: {@link Header} (model config, embedding type, the
 *                            tokenizer's sha256 and separators, where the weights came from)
 * weights           W bytes  the packed weights (libflashlm's format, flashlm.h "inference"):
 *                            2-bit ternary linears with their scales (fp32 linears for a float
 *                            model), fp32 or bf16 embedding, fp32 norms
 * tokenizer         K bytes  the tokenizer.json the model was trained with
 * crc32             u32      of every byte before it
 * end magic         4 bytes  "FEND"
 * </pre>
 *
 * <p>Written with {@link AtomicFiles#write} (a reader sees a whole file or none). The same
 * weights and header give the same bytes: the header is canonical JSON (keys in a fixed order,
 * no time stamps). A reader refuses, naming the file and what to do, another magic or version,
 * a length that is not the one the prefix implies (truncated or extended), a header that does
 * not parse, a checksum mismatch, and a tokenizer whose sha256 is not the header's.
 */
public final class PackedFile {
  public static final int FORMAT_VERSION = 1;
  /** The file name {@code export --format packed} writes in its output directory. */
  public static final String NAME = "model.flmpack";
  private static final byte[] MAGIC = {'F', 'L', 'M', 'P', 'A', 'C', 'K', 0x1A};
  private static final byte[] END = {'F', 'E', 'N', 'D'};
  private static final int PREFIX = 32;
  private static final int SUFFIX = 8;
  private static final int MAX_HEADER = 1 << 20;
  private static final int CHUNK = 1 << 20;

  private PackedFile() {}

  /**
   * The tokenizer a model was trained with.
   *
   * @param sha256 hex SHA-256 of its tokenizer.json bytes
   * @param bosId its BOS id, or null
   * @param eosId its EOS id, or null (generation stops there)
   * @param bosToken the BOS token's text, or null
   * @param eosToken the EOS token's text, or null
   * @param addBos whether the training documents started with BOS
   * @param addEos whether they ended with EOS
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record TokenizerInfo(String sha256, Integer bosId, Integer eosId, String bosToken,
      String eosToken, Boolean addBos, Boolean addEos) {
    public TokenizerInfo {
      Objects.requireNonNull(sha256, "tokenizer sha256");
      addBos = addBos != null && addBos;
      addEos = addEos != null && addEos;
    }
  }

  /**
   * Where the weights came from.
   *
   * @param checkpoint the checkpoint file's name (not its directory, so a moved run exports the
   *     same bytes)
   * @param step its step
   * @param table the sequences table it trained on
   * @param tableVersion that table's version
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Source(String checkpoint, long step, String table, long tableVersion) {}

  /**
   * The header.
   *
   * @param formatVersion {@link #FORMAT_VERSION}
   * @param model the architecture (the parameter layout and the context follow from it)
   * @param embedding how the embedding is stored
   * @param tokenizer the tokenizer, or null when none is embedded
   * @param source provenance, or null
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Header(int formatVersion, ModelSpec model, Embedding embedding,
      TokenizerInfo tokenizer, Source source) {
    public Header {
      Objects.requireNonNull(model, "model");
      Objects.requireNonNull(embedding, "embedding");
    }
  }

  /**
   * A file read back.
   *
   * @param path where it was read
   * @param header its header
   * @param weights the packed weights (position 0, limit = capacity)
   * @param tokenizer the tokenizer.json bytes, or null
   */
  public record Contents(String path, Header header, ByteBuffer weights, byte[] tokenizer) {
    /** Loads the weights into a {@link PackedModel}; the caller closes it. */
    public PackedModel load() {
      return PackedModel.load(header.model(), header.embedding(), weights);
    }
  }

  /**
   * Writes a packed model to {@code path}.
   *
   * @param weights packed weights of {@code header.model()} ({@link PackedModel#pack}), whole
   * @param tokenizer tokenizer.json bytes whose sha256 the header names, or null (then the
   *     header has none either)
   */
  public static void write(Configuration conf, String path, Header header, ByteBuffer weights,
      byte[] tokenizer) {
    if ((tokenizer == null) != (header.tokenizer() == null)) {
      throw new IllegalArgumentException("a tokenizer and its header entry go together");
    }
    if (tokenizer != null && !Sha256.hex(tokenizer).equals(header.tokenizer().sha256())) {
      throw new IllegalArgumentException("the tokenizer's bytes do not have the sha256 the"
          + " header names");
    }
    long expected = PackedModel.bytes(header.model(), header.embedding());
    if (weights.capacity() != expected) {
      throw new IllegalArgumentException("packed weights of " + weights.capacity() + " bytes for"
          + " a model that needs " + expected);
    }
    byte[] json = headerJson(header);
    byte[] tok = tokenizer == null ? new byte[0] : tokenizer;
    AtomicFiles.write(conf, path, out -> {
      CheckedOutputStream c = new CheckedOutputStream(out, new CRC32());
      ByteBuffer prefix = ByteBuffer.allocate(PREFIX).order(ByteOrder.LITTLE_ENDIAN);
      prefix.put(MAGIC).putInt(FORMAT_VERSION).putInt(json.length).putLong(weights.capacity())
          .putLong(tok.length);
      c.write(prefix.array());
      c.write(json);
      writeBuffer(c, weights);
      c.write(tok);
      ByteBuffer end = ByteBuffer.allocate(SUFFIX).order(ByteOrder.LITTLE_ENDIAN);
      end.putInt((int) c.getChecksum().getValue()).put(END);
      out.write(end.array());
    });
  }

  /** The canonical header JSON: compact, keys in declaration order, maps sorted. */
  static byte[] headerJson(Header header) {
    try {
      return Configs.json().writer().without(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsBytes(header);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize the packed model header", e);
    }
  }

  /** Whether {@code path} starts with this format's magic (a cheap test; {@link #read} checks). */
  public static boolean isPacked(Configuration conf, String path) {
    Path p = new Path(path);
    try {
      FileSystem fs = p.getFileSystem(conf);
      if (!fs.isFile(p)) {
        return false;
      }
      try (FSDataInputStream in = fs.open(p)) {
        byte[] m = new byte[MAGIC.length];
        return in.read(m) == m.length && Arrays.equals(m, MAGIC);
      }
    } catch (IOException e) {
      return false;
    }
  }

  /** Reads and checks a packed model file (see the class comment for what is refused). */
  public static Contents read(Configuration conf, String path) {
    Path p = new Path(path);
    try {
      FileSystem fs = p.getFileSystem(conf);
      long length = fs.getFileStatus(p).getLen();
      try (FSDataInputStream raw = fs.open(p)) {
        CheckedInputStream checked = new CheckedInputStream(raw, new CRC32());
        DataInputStream in = new DataInputStream(checked);
        ByteBuffer prefix = ByteBuffer.wrap(readN(in, PREFIX, path, length))
            .order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[MAGIC.length];
        prefix.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
          throw new IllegalArgumentException(path + " is not a FlashLM packed model (it does not"
              + " start with FLMPACK); make one with: flashlm export --set format=packed");
        }
        int version = prefix.getInt();
        if (version != FORMAT_VERSION) {
          throw new IllegalArgumentException(path + " is packed model format " + version
              + "; this build reads format " + FORMAT_VERSION + ": export the checkpoint again"
              + " with this build");
        }
        int h = prefix.getInt();
        long w = prefix.getLong();
        long k = prefix.getLong();
        if (h < 2 || h > MAX_HEADER || w < 0 || k < 0 || w > Integer.MAX_VALUE - 8
            || k > Integer.MAX_VALUE - 8 || PREFIX + (long) h + w + k + SUFFIX != length) {
          throw new IllegalArgumentException(path + " is truncated or damaged: " + length
              + " bytes, its prefix implies " + (PREFIX + (long) h + w + k + SUFFIX)
              + " (header " + h + ", weights " + w + ", tokenizer " + k + "); export it again");
        }
        Header header = parseHeader(path, readN(in, h, path, length));
        long expected = PackedModel.bytes(header.model(), header.embedding());
        if (w != expected) {
          throw new IllegalArgumentException(path + " holds " + w + " bytes of weights; its"
              + " model needs " + expected + ": the file is damaged");
        }
        ByteBuffer weights = ByteBuffer.allocate((int) w); // loading passes its array as is
        readBuffer(in, weights, path, length);
        byte[] tokenizer = k == 0 ? null : readN(in, (int) k, path, length);
        long crc = checked.getChecksum().getValue();
        ByteBuffer suffix = ByteBuffer.wrap(readN(in, SUFFIX, path, length))
            .order(ByteOrder.LITTLE_ENDIAN);
        int stored = suffix.getInt();
        byte[] end = new byte[END.length];
        suffix.get(end);
        if (!Arrays.equals(end, END) || stored != (int) crc) {
          throw new IllegalArgumentException(path + " is corrupt: its checksum does not match"
              + " (stored " + Integer.toUnsignedString(stored, 16) + ", computed "
              + Long.toHexString(crc) + "); export it again");
        }
        if ((tokenizer == null) != (header.tokenizer() == null) || (tokenizer != null
            && !Sha256.hex(tokenizer).equals(header.tokenizer().sha256()))) {
          throw new IllegalArgumentException(path + ": the embedded tokenizer does not match the"
              + " sha256 its header names; export it again");
        }
        return new Contents(path, header, weights.flip(), tokenizer);
      }
    } catch (FileNotFoundException e) {
      throw new IllegalArgumentException("packed model not found: " + path, e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
    }
  }

  private static Header parseHeader(String path, byte[] json) {
    try {
      Header h = Configs.json().readValue(json, Header.class);
      if (h.formatVersion() != FORMAT_VERSION) {
        throw new IllegalArgumentException(path + ": header format " + h.formatVersion());
      }
      return h;
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(path + ": the header does not parse (" + e.getMessage()
          + "); the file is damaged: export it again", e);
    }
  }

  private static byte[] readN(DataInputStream in, int n, String path, long length)
      throws IOException {
    byte[] b = new byte[n];
    try {
      in.readFully(b);
    } catch (EOFException e) {
      throw new IllegalArgumentException(path + " is truncated (" + length + " bytes)", e);
    }
    return b;
  }

  private static void readBuffer(DataInputStream in, ByteBuffer dst, String path, long length)
      throws IOException {
    byte[] chunk = new byte[CHUNK];
    while (dst.hasRemaining()) {
      int n = Math.min(CHUNK, dst.remaining());
      try {
        in.readFully(chunk, 0, n);
      } catch (EOFException e) {
        throw new IllegalArgumentException(path + " is truncated (" + length + " bytes)", e);
      }
      dst.put(chunk, 0, n);
    }
  }

  private static void writeBuffer(OutputStream out, ByteBuffer src) throws IOException {
    ByteBuffer b = src.duplicate().clear();
    byte[] chunk = new byte[CHUNK];
    while (b.hasRemaining()) {
      int n = Math.min(CHUNK, b.remaining());
      b.get(chunk, 0, n);
      out.write(chunk, 0, n);
    }
  }
}
