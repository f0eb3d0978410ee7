package flashlm.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The HuggingFace safetensors format, fp32 only:
 *
 * <pre>
 * u64 LE   N, the header length
 * N bytes  UTF-8 JSON, padded with spaces to a multiple of 8:
 *          {"__metadata__": {string: string}, NAME: {"dtype": "F32", "shape": [..],
 *           "data_offsets": [begin, end]}, ...}   offsets in bytes from the start of the data
 * data     the tensors back to back, little-endian, in header order
 * </pre>
 */
public final class Safetensors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CHUNK_FLOATS = 1 << 18;

  private Safetensors() {}

  /**
   * One tensor to write.
   *
   * @param name tensor name
   * @param shape dimensions, row-major
   * @param data exactly the tensor's values, from index 0
   */
  public record Tensor(String name, int[] shape, FloatBuffer data) {
    long size() {
      long n = 1;
      for (int s : shape) {
        n *= s;
      }
      return n;
    }
  }

  /** Writes {@code tensors} in order with {@code metadata}. */
  public static void write(OutputStream out, List<Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    ObjectNode header = JSON.createObjectNode();
    ObjectNode meta = header.putObject("__metadata__");
    metadata.forEach(meta::put);
    long offset = 0;
    for (Tensor t : tensors) {
      if (t.data().remaining() != t.size()) {
        throw new IllegalArgumentException("tensor " + t.name() + " has " + t.data().remaining()
            + " values for shape " + java.util.Arrays.toString(t.shape()));
      }
      ObjectNode e = header.putObject(t.name());
      e.put("dtype", "F32");
      ArrayNode shape = e.putArray("shape");
      for (int s : t.shape()) {
        shape.add(s);
      }
      long bytes = t.size() * Float.BYTES;
      e.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    out.write(head.array());
    ByteBuffer chunk =
        ByteBuffer.allocate(CHUNK_FLOATS * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    FloatBuffer view = chunk.asFloatBuffer();
    for (Tensor t : tensors) {
      FloatBuffer src = t.data().duplicate();
      while (src.hasRemaining()) {
        int n = Math.min(CHUNK_FLOATS, src.remaining());
        view.clear();
        view.put(src.slice(src.position(), n));
        src.position(src.position() + n);
        out.write(chunk.array(), 0, n * Float.BYTES);
      }
    }
  }
}
