package flashlm.dist;

import flashlm.jni.Native;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Chooses the {@link Collective} of a rank by {@code distributed.backend}. {@code cpu-ring} is
 * the TCP ring of libflashlm ({@link RingCollective}), the one this build drives and tests.
 * {@code nccl} and {@code hccl} are the accelerator vendors' libraries: they are looked for with
 * the dynamic loader ({@code dlopen}, as a backend would load them) only when asked for, and the
 * error says which library was looked for and whether it was found; this build has no code that
 * drives them, so either way the answer is to use {@code cpu-ring}.
 */
public final class Collectives {
  private Collectives() {}

  /**
   * Connects this rank with {@code backend}; the arguments are those of {@link
   * RingCollective#connect}.
   *
   * @throws UnsupportedOperationException for nccl or hccl, naming the library looked for and
   *     what the loader said
   */
  public static Collective connect(CommBackend backend, Rendezvous rendezvous, int rank,
      int world, byte[] secret, String bindHost, Duration timeout) {
    if (backend == CommBackend.CPU_RING) {
      return RingCollective.connect(rendezvous, rank, world, secret, bindHost, timeout);
    }
    throw new UnsupportedOperationException(unavailable(backend));
  }

  /** The shared libraries a backend loads, in the order they are tried. */
  static List<String> libraries(CommBackend backend) {
    return switch (backend) {
      case NCCL -> List.of("libnccl.so.2", "libnccl.so");
      case HCCL -> List.of("libhccl.so");
      case CPU_RING -> List.of();
    };
  }

  /** Why {@code backend} (nccl, hccl) cannot be used here, after looking for its library. */
  static String unavailable(CommBackend backend) {
    List<String> tried = new ArrayList<>();
    for (String lib : libraries(backend)) {
      if (Native.libraryProbe(lib) == 0) {
        return "distributed.backend " + backend.id() + ": " + lib + " is present, but this"
            + " FlashLM build drives only cpu-ring (the TCP ring) and has no " + backend.id()
            + " backend; set distributed.backend=cpu-ring";
      }
      tried.add(lib + " (" + Native.lastError() + ")");
    }
    String vendor = backend == CommBackend.NCCL ? "NCCL (NVIDIA)" : "HCCL (Huawei Ascend CANN)";
    return "distributed.backend " + backend.id() + " needs the " + vendor + " library, which the"
        + " dynamic loader cannot load here: tried " + String.join("; ", tried) + ". Install it"
        + " and add its directory to LD_LIBRARY_PATH, or set distributed.backend=cpu-ring (the"
        + " TCP ring, the backend this build drives)";
  }
}
