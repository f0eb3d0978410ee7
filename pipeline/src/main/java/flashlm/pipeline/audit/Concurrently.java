package flashlm.pipeline.audit;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * Independent parts of one audit run as concurrent Spark jobs: one part's driver work (log
 * replay, listing, planning) overlaps another's reading, which on a small cluster is most of an
 * audit's time.
 */
final class Concurrently {
  private Concurrently() {}

  /** The results of {@code parts}, in order; the first failure is rethrown. */
  static <T> List<T> run(List<Supplier<T>> parts) {
    ExecutorService pool = Executors.newFixedThreadPool(parts.size());
    try {
      List<Future<T>> running = new ArrayList<>();
      for (Supplier<T> p : parts) {
        running.add(pool.submit(p::get));
      }
      List<T> out = new ArrayList<>();
      for (Future<T> f : running) {
        out.add(f.get());
      }
      return out;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AuditException("audit interrupted", e);
    } finally {
      pool.shutdownNow();
    }
  }
}
