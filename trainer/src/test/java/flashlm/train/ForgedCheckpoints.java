package flashlm.train;

import flashlm.config.Configs;
import flashlm.model.ParamLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/** Checkpoint files made by hand, as a hostile or broken writer would make them. */
public final class ForgedCheckpoints {
  private static final byte[] MAGIC = {'F', 'L', 'M', 'C', 'K', 'P', 'T', 0x1A};

  private ForgedCheckpoints() {}

  /** A header of {@code config} with {@code tensors} claiming P and S values. */
  public static Checkpoint.Header header(TrainConfig config, List<ParamLayout.Tensor> tensors,
      long p, long s) {
    return Checkpoint.Header.untrained(config, 1, "t", 0, tensors, p, s);
  }

  /**
   * The 32-byte prefix with counts {@code p} and {@code s}, the JSON of {@code header}, then
   * {@code tail} zero bytes; cut to {@code length} bytes when that is not -1.
   */
  public static byte[] file(Checkpoint.Header header, long p, long s, int tail, int length)
      throws Exception {
    byte[] json = Configs.json().writeValueAsBytes(header);
    ByteBuffer b = ByteBuffer.allocate(32 + json.length + tail).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).putInt(Checkpoint.FORMAT_VERSION).putInt(json.length).putLong(p).putLong(s);
    b.put(json);
    return length < 0 ? b.array() : Arrays.copyOf(b.array(), length);
  }
}
