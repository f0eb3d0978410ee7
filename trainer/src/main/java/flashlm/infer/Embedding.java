package flashlm.infer;

import com.fasterxml.jackson.annotation.JsonCreator;
import flashlm.config.ConfigEnum;
import flashlm.jni.Native;

/**
 * How a packed model stores its embedding (also the tied output head): {@code f32}, exactly the
 * trained values, or {@code bf16}, half the bytes, rounded to nearest even and widened back to
 * fp32 when the model loads (so a bf16 file is smaller on disk, not in memory).
 */
public enum Embedding implements ConfigEnum {
  F32(Native.EMB_F32),
  BF16(Native.EMB_BF16);

  private final int code;

  Embedding(int code) {
    this.code = code;
  }

  /** The native library's code for it. */
  int code() {
    return code;
  }

  @JsonCreator
  public static Embedding of(String id) {
    return ConfigEnum.parse(Embedding.class, "embedding", id);
  }
}
