package flashlm.data;

import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Many small storage requests at once: the footers of a rank's data files, the listings of a
 * snapshot's partition directories. Each call mostly waits on storage (on S3 tens of milliseconds
 * a request), so they run on a few threads, more than there are cores, and the results come back
 * in the order of the input. The first failure in input order is the one thrown, as a sequential
 * loop would throw it; the calls still running are interrupted.
 */
final class Concurrently {
  /** Requests in flight at most. */
  static final int THREADS = 8;

  private static final AtomicInteger POOLS = new AtomicInteger();

  private Concurrently() {}

  /** {@code f} of each item, in order; one item runs on the calling thread. */
  static <T, R> List<R> map(List<T> items, Function<T, R> f) {
    if (items.size() <= 1) {
      List<R> out = new ArrayList<>(items.size());
      items.forEach(t -> out.add(f.apply(t)));
      return out;
    }
    String name = "flashlm-io-" + POOLS.incrementAndGet() + "-";
    AtomicInteger threads = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(THREADS, items.size()), r -> {
      Thread t = new Thread(r, name + threads.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<R>> pending = new ArrayList<>(items.size());
      for (T t : items) {
        pending.add(pool.submit(() -> f.apply(t)));
      }
      List<R> out = new ArrayList<>(items.size());
      for (Future<R> p : pending) {
        out.add(p.get());
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
      throw new UncheckedIOException(new InterruptedIOException("interrupted"));
    } finally {
      pool.shutdownNow();
    }
  }
}
