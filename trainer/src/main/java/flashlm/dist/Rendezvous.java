package flashlm.dist;

import java.util.List;

/**
 * How ranks exchange their listening addresses before the ring connects: every rank calls
 * {@link #allGather} once with its message and gets every rank's message, in rank order. In a
 * Spark barrier stage this is {@code BarrierTaskContext.allGather}; in tests, threads or
 * processes that meet through a shared object or directory.
 */
@FunctionalInterface
public interface Rendezvous {
  /** Every rank's message, element r being rank r's; blocks until all ranks have called. */
  List<String> allGather(String message);
}
