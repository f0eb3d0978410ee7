package flashlm.dist;

import com.fasterxml.jackson.annotation.JsonCreator;
import flashlm.config.ConfigEnum;
import java.util.Locale;

/**
 * How gradients travel between ranks ({@code distributed.backend}): {@code cpu-ring}, the TCP
 * ring built here, or {@code nccl} / {@code hccl}, the accelerator vendors' libraries, which
 * {@link Collectives#connect} looks for and this build does not drive.
 */
public enum CommBackend implements ConfigEnum {
  CPU_RING,
  NCCL,
  HCCL;

  @Override
  public String id() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  @JsonCreator
  public static CommBackend of(String id) {
    return ConfigEnum.parse(CommBackend.class, "distributed.backend", id);
  }
}
