package flashlm.train;

import flashlm.dist.Collective;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The check that data-parallel ranks hold the same weights. They should, bit for bit: the
 * allreduce gives every rank the same gradient bits and the update is the same arithmetic on
 * every rank. What breaks it is a rank that computes differently (another build, another CPU's
 * kernels, a memory fault); then the ranks train different models while the loss still looks
 * fine. Every {@code distributed.checksum_every} updates the ranks compare a 64-bit hash of
 * their parameters' bits and stop loudly on a difference.
 */
final class WeightsChecksum {
  private WeightsChecksum() {}

  /** FNV-1a over the raw bits of {@code params}, in four interleaved lanes (for speed). */
  static long of(FloatBuffer params) {
    long[] h = {0xcbf29ce484222325L, 0x84222325cbf29ce4L, 0x9ce484222325cbf2L, 0x2325cbf29ce48422L};
    int n = params.capacity();
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      for (int k = 0; k < 4; k++) {
        h[k] = (h[k] ^ Float.floatToRawIntBits(params.get(i + k))) * 0x100000001b3L;
      }
    }
    for (; i < n; i++) {
      h[0] = (h[0] ^ Float.floatToRawIntBits(params.get(i))) * 0x100000001b3L;
    }
    return ((h[0] * 31 + h[1]) * 31 + h[2]) * 31 + h[3];
  }

  /**
   * Compares every rank's hash of {@code params} (one all-gather).
   *
   * @throws IllegalStateException on every rank, naming the step and the ranks that differ from
   *     rank 0
   */
  static void compare(Collective collective, FloatBuffer params, long step) {
    long[] all = collective.allGather(of(params));
    List<Integer> differ = new ArrayList<>();
    for (int r = 1; r < all.length; r++) {
      if (all[r] != all[0]) {
        differ.add(r);
      }
    }
    if (!differ.isEmpty()) {
      StringBuilder sums = new StringBuilder();
      for (int r = 0; r < all.length; r++) {
        sums.append(r == 0 ? "" : ", ").append(String.format("rank %d %016x", r, all[r]));
      }
      throw new IllegalStateException("the ranks' weights differ after step " + step + ": rank(s) "
          + differ + " hold other weights than rank 0 (checksums " + sums + "). Every rank must"
          + " compute the same bits: run every rank with the same FlashLM build and the same"
          + " kernels (FLASHLM_FORCE_SCALAR=1 everywhere if the hosts' CPUs differ). --resume"
          + " continues from the newest checkpoint (rank 0's weights); distributed.checksum_every"
          + "=1 finds the first step that differs");
    }
  }
}
