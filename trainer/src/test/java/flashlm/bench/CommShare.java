package flashlm.bench;

import flashlm.config.Configs;
import flashlm.data.SequencesFixture;
import flashlm.dist.Collective;
import flashlm.dist.LocalRendezvous;
import flashlm.dist.RankThreads;
import flashlm.dist.RingCollective;
import flashlm.jni.Native;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * How much of a data-parallel step is communication: the measurement behind the decision
 * whether to overlap the gradient allreduce with the backward pass (issue 12). Runs {@code
 * --world} ranks of a config as threads of this JVM ({@code --threads} OpenMP threads each) on
 * a random table of the config's shape, and prints per rank the step time, the time inside the
 * gradient allreduce (waiting for the slower rank included) and its share, then the time of the
 * same allreduce alone (every rank ready: what overlapping could hide at most).
 *
 * <pre>
 * java -cp ... flashlm.bench.CommShare --conf conf/v7-ts.json [--world 2] [--threads 1]
 *     [--steps 6] [--set data.batch_size=8 ...]
 * </pre>
 *
 * A test source, not shipped, not a test.
 */
public final class CommShare {
  private CommShare() {}

  public static void main(String[] args) throws Exception {
    Path conf = null;
    int world = 2;
    int threads = 1;
    int steps = 6;
    List<String> overrides = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--conf" -> conf = Path.of(args[++i]);
        case "--world" -> world = Integer.parseInt(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--set" -> overrides.add(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    TrainConfig base = Configs.load(conf, TrainConfig.class, overrides);
    Path tmp = Files.createTempDirectory("commshare");
    int batch = base.data().batchSize();
    SequencesFixture.random(tmp.resolve("table"), base.model().seqLen(),
        base.model().vocabSize(), world, batch * 4, batch, 1);
    List<String> o = new ArrayList<>(overrides);
    o.addAll(List.of("data.table=" + tmp.resolve("table"), "max_steps=" + (steps + 1),
        "time_budget=null", "checkpoint=null", "eval_every=0", "eval_batches=0",
        "log.every=1000000", "distributed.checksum_every=0"));
    TrainConfig run = Configs.load(conf, TrainConfig.class, o);
    int nThreads = threads;
    LocalRendezvous rv = new LocalRendezvous(world);
    Duration timeout = Duration.ofMinutes(10);
    int w = world;
    List<RankThreads.Outcome<long[]>> out = RankThreads.run(world, r -> new Timed(
        RingCollective.connect(rv.forRank(r), r, w, RankThreads.SECRET, "127.0.0.1", timeout)),
        col -> {
          Native.setNumThreads(nThreads);
          Timed t = (Timed) col;
          Trainer.builder(run).optCollective(col).optOut(new PrintStream(OutputStream
              .nullOutputStream())).build().run();
          return new long[] {t.first, t.last, t.inside, t.calls, t.size};
        });
    long params = out.get(0).get()[4];
    System.out.printf("%s: %,d parameters (%.1f MB of gradients), %d ranks x %d threads,"
        + " batch %d per rank, %d steps measured (the first left out)%n", conf, params,
        params * 4 / 1e6, world, threads, batch, steps);
    for (RankThreads.Outcome<long[]> r : out) {
      long[] v = r.get();
      double wall = (v[1] - v[0]) / 1e9 / (v[3] - 1);
      double comm = v[2] / 1e9 / (v[3] - 1);
      System.out.printf("rank %d: %.3f s per step, %.4f s in the allreduce (%.1f%%)%n",
          r.rank(), wall, comm, 100 * comm / wall);
    }
    List<RankThreads.Outcome<Double>> alone = RankThreads.ring(world, timeout, col -> {
      FloatBuffer g = ByteBuffer.allocateDirect((int) params * 4).order(ByteOrder.nativeOrder())
          .asFloatBuffer();
      double best = Double.MAX_VALUE;
      for (int i = 0; i < 5; i++) {
        col.barrier();
        long t0 = System.nanoTime();
        col.allreduceMean(g);
        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
      }
      return best;
    });
    System.out.printf("the same allreduce alone (best of 5, rank 0): %.4f s%n",
        alone.get(0).get());
  }

  /** Times the gradient allreduce; the first update's is left out (start-up). */
  private static final class Timed implements Collective {
    private final Collective c;
    long first;
    long last;
    long inside;
    long calls;
    long size;

    Timed(Collective c) {
      this.c = c;
    }

    @Override
    public void allreduceMean(FloatBuffer grads) {
      long t0 = System.nanoTime();
      c.allreduceMean(grads);
      long t1 = System.nanoTime();
      if (calls++ == 0) {
        first = t1;
      } else {
        inside += t1 - t0;
      }
      last = t1;
      size = grads.capacity();
    }

    // the rest delegates
    public int rank() { return c.rank(); }
    public int worldSize() { return c.worldSize(); }
    public double allreduceMean(double v) { return c.allreduceMean(v); }
    public double allreduceMax(double v) { return c.allreduceMax(v); }
    public long broadcast(long v) { return c.broadcast(v); }
    public double broadcast(double v) { return c.broadcast(v); }
    public void barrier() { c.barrier(); }
    public long[] allGather(long v) { return c.allGather(v); }
    public void close() { c.close(); }
  }
}
