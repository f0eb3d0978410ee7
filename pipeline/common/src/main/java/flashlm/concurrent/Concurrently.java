package flashlm.concurrent;

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
import java.util.function.Supplier;

/**
 * Independent calls at once, their results in the order of the input: the footers of a rank's
 * data files and the listings of a snapshot's directories (each call mostly waits on storage, on
 * S3 tens of milliseconds a request, so more threads than cores), or the parts of an audit as
 * concurrent Spark jobs. The first failure in input order is the one thrown, as a sequential loop
 * would throw it; the calls still running are interrupted.
 */
public final class Concurrently {
  private static final AtomicInteger POOLS = new AtomicInteger();

  private Concurrently() {}

  /** Each of {@code parts} on a thread of its own; their results in order. */
  public static <T> List<T> run(List<Supplier<T>> parts) {
    return map(parts, parts.size(), Supplier::get);
  }

  /**
   * {@code f} of each item on at most {@code threads} threads; the results in order. One item
   * runs on the calling thread.
   */
  public static <T, R> List<R> map(List<T> items, int threads, Function<T, R> f) {
    if (items.size() <= 1) {
      List<R> out = new ArrayList<>(items.size());
      items.forEach(t -> out.add(f.apply(t)));
      return out;
    }
    String name = "flashlm-concurrently-" + POOLS.incrementAndGet() + "-";
    AtomicInteger started = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, items.size()), r -> {
      Thread t = new Thread(r, name + started.incrementAndGet());
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
      throw new UncheckedIOException(new InterruptedIOException("interrupted while waiting for "
          + items.size() + " concurrent calls"));
    } finally {
      pool.shutdownNow();
    }
  }
}
