package flashlm.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.jni.NativeException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The ring through Java, ranks as threads of this JVM on loopback. */
class RingCollectiveTest {
  /** Runs that must succeed: generous, the cores are shared. */
  private static final Duration OK = Duration.ofSeconds(60);
  /** Runs with a fault: the timeout the test waits out. */
  private static final Duration FAULT = Duration.ofSeconds(2);
  /** How late after a fault (plus the timeout) a rank may fail on a busy machine. */
  private static final long SLACK_MS = 3_000;
  /** 64 MB of floats, and sizes around the world sizes (0, 1, 7, not divisible). */
  static final int[] SIZES = {0, 1, 7, 8 * 1000 + 3, 16 << 20};

  /** Per size and rank, the hash of the result; rank 0 checks it against the float64 mean. */
  static long[][] allreduceSizes(int world, long seed) {
    List<RankThreads.Outcome<long[]>> out = RankThreads.ring(world, OK, c -> {
      long[] hashes = new long[SIZES.length];
      for (int s = 0; s < SIZES.length; s++) {
        FloatBuffer x = AllreduceCase.inputs(c.rank(), SIZES[s], seed);
        c.allreduceMean(x);
        // rank 0 checks the values; the others must hold the same bits (compared below)
        String bad = c.rank() == 0 ? AllreduceCase.check(x, world, seed) : null;
        if (bad != null) {
          throw new AssertionError("size " + SIZES[s] + ", rank " + c.rank() + ": " + bad);
        }
        hashes[s] = AllreduceCase.hash(x);
      }
      return hashes;
    });
    long[][] h = new long[world][];
    for (RankThreads.Outcome<long[]> o : out) {
      h[o.rank()] = o.get();
    }
    return h;
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4, 8})
  void allreduceMeanIsTheFloat64MeanWithinRoundingAndTheSameBitsOnEveryRankAndRun(int world) {
    long[][] first = allreduceSizes(world, 7);
    long[][] second = allreduceSizes(world, 7);
    for (int r = 0; r < world; r++) {
      assertArrayEquals(first[0], first[r], "rank " + r + " vs rank 0, per size");
      assertArrayEquals(first[r], second[r], "rank " + r + ": run 1 vs run 2, per size");
    }
  }

  @Test
  void scalarCollectivesAgreeOnEveryRank() {
    int world = 3;
    List<RankThreads.Outcome<List<Object>>> out = RankThreads.ring(world, OK, c -> {
      int r = c.rank();
      c.barrier();
      return List.of(c.allreduceMean(r + 0.5), c.allreduceMax(r == 1 ? 7.25 : -r),
          c.broadcast(r == 0 ? Long.MIN_VALUE + 5 : r), c.broadcast(r == 0 ? Math.PI : r),
          List.of(box(c.allGather(r == 2 ? Long.MAX_VALUE : (long) r << 40))));
    });
    for (RankThreads.Outcome<List<Object>> o : out) {
      List<Object> v = o.get();
      assertEquals(1.5, (double) v.get(0), "mean of 0.5, 1.5, 2.5 on rank " + o.rank());
      assertEquals(7.25, (double) v.get(1));
      assertEquals(Long.MIN_VALUE + 5, (long) v.get(2));
      assertEquals(Math.PI, (double) v.get(3));
      assertEquals(List.of(0L, 1L << 40, Long.MAX_VALUE), v.get(4));
    }
  }

  private static Long[] box(long[] v) {
    Long[] b = new Long[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = v[i];
    }
    return b;
  }

  /** The default allGather (two exact halves through allreduceMax) matches the ring's own. */
  @Test
  void theDefaultAllGatherIsExactForAnyLong() {
    long[] values = {Long.MIN_VALUE, -1, Long.MAX_VALUE};
    List<RankThreads.Outcome<long[]>> out = RankThreads.ring(3, OK, c -> {
      Collective plain = new Collective() { // the interface's default allGather over the ring
        public int rank() { return c.rank(); }
        public int worldSize() { return c.worldSize(); }
        public void allreduceMean(FloatBuffer g) { c.allreduceMean(g); }
        public double allreduceMean(double v) { return c.allreduceMean(v); }
        public double allreduceMax(double v) { return c.allreduceMax(v); }
        public long broadcast(long v) { return c.broadcast(v); }
        public double broadcast(double v) { return c.broadcast(v); }
        public void barrier() { c.barrier(); }
        public void close() {}
      };
      return plain.allGather(values[c.rank()]);
    });
    for (RankThreads.Outcome<long[]> o : out) {
      assertArrayEquals(values, o.get(), "rank " + o.rank());
    }
  }

  @Test
  void aWorldOfOneIsTheIdentityAndNeedsNoPeers() {
    try (RingCollective c = RingCollective.connect(m -> {
      throw new AssertionError("no rendezvous for one rank");
    }, 0, 1, null, null, OK)) {
      FloatBuffer x = AllreduceCase.inputs(0, 5, 1);
      long before = AllreduceCase.hash(x);
      c.allreduceMean(x);
      assertEquals(before, AllreduceCase.hash(x));
      assertEquals(2.5, c.allreduceMean(2.5));
      assertArrayEquals(new long[] {9}, c.allGather(9));
    }
  }

  /**
   * A rank that closes mid-transfer: the others fail at once, the first to notice naming it (the
   * other may learn from that rank's closing, and name that one).
   */
  @Test
  void aPeerThatClosesMidTransferFailsTheOthersPromptlyNamingIt() {
    int world = 3;
    int victim = 2;
    List<String> addresses = new ArrayList<>();
    CountDownLatch running = new CountDownLatch(world);
    AtomicLong closedAt = new AtomicLong();
    List<RankThreads.Outcome<Void>> out = RankThreads.ring(world, OK, r -> RankThreads.SECRET,
        addresses::addAll, c -> {
          if (c.rank() == victim) { // closes its collective while a call is in flight
            Thread closer = new Thread(() -> {
              await(running);
              sleep(200);
              closedAt.set(System.currentTimeMillis());
              c.close();
            });
            closer.start();
          }
          loop(c, running);
          return null;
        });
    String name = "rank " + victim + " (" + addresses.get(victim) + ")";
    int named = 0;
    for (RankThreads.Outcome<Void> o : out) {
      if (o.rank() == victim) { // in a call (native) or between two (Java)
        assertTrue(o.error() != null && o.error().getMessage().contains("closed"), o.toString());
        continue;
      }
      NativeException e = assertInstanceOf(NativeException.class, o.error(), "rank " + o.rank());
      assertEquals(NativeException.ECOMM, e.code(), e.getMessage());
      assertTrue(o.endMillis() - closedAt.get() < SLACK_MS, "rank " + o.rank() + " failed "
          + (o.endMillis() - closedAt.get()) + " ms after the close");
      named += e.getMessage().contains(name) ? 1 : 0;
    }
    assertTrue(named > 0, "no rank named " + name + ": " + out);
  }

  /**
   * A rank that stops calling: within the timeout the others fail, and the first to notice names
   * it (the other learns from that rank's closing).
   */
  @Test
  void aPeerThatStopsAnsweringFailsTheOthersWithinTheTimeoutNamingIt() {
    int world = 3;
    int victim = 2;
    List<String> addresses = new ArrayList<>();
    CountDownLatch running = new CountDownLatch(world);
    CountDownLatch othersDone = new CountDownLatch(world - 1);
    AtomicLong stoppedAt = new AtomicLong();
    List<RankThreads.Outcome<Void>> out = RankThreads.ring(world, FAULT, r -> RankThreads.SECRET,
        addresses::addAll, c -> {
          if (c.rank() == victim) {
            for (int i = 0; i < 2; i++) {
              c.allreduceMean(AllreduceCase.inputs(victim, 1 << 20, i));
            }
            running.countDown();
            stoppedAt.set(System.currentTimeMillis());
            othersDone.await(RankThreads.WATCHDOG.toSeconds(), TimeUnit.SECONDS); // hangs
            return null;
          }
          try {
            loop(c, running);
          } finally {
            othersDone.countDown();
          }
          return null;
        });
    String name = "rank " + victim + " (" + addresses.get(victim) + ")";
    int named = 0;
    for (RankThreads.Outcome<Void> o : out) {
      if (o.rank() == victim) {
        continue;
      }
      NativeException e = assertInstanceOf(NativeException.class, o.error(), "rank " + o.rank());
      assertTrue(e.code() == NativeException.ETIMEOUT || e.code() == NativeException.ECOMM,
          e.getMessage());
      long late = o.endMillis() - stoppedAt.get();
      assertTrue(late <= FAULT.toMillis() + SLACK_MS, "rank " + o.rank() + " failed " + late
          + " ms after rank " + victim + " stopped (timeout " + FAULT + ")");
      if (e.getMessage().contains(name)) {
        named++;
        assertEquals(NativeException.ETIMEOUT, e.code(), e.getMessage());
      }
    }
    assertTrue(named > 0, "no rank named " + name + ": " + out);
  }

  /** Every rank runs 1M-float allreduces until one fails; counts down once two have run. */
  private static void loop(Collective c, CountDownLatch running) {
    FloatBuffer x = AllreduceCase.inputs(c.rank(), 1 << 20, 3);
    for (int calls = 0; ; calls++) {
      if (calls == 2) {
        running.countDown();
      }
      c.allreduceMean(x);
    }
  }

  @Test
  void aRankWithAnotherSecretIsRefusedByBothNeighbours() {
    byte[] other = "another secret of thirty-two b!!".getBytes(StandardCharsets.US_ASCII);
    List<String> addresses = new ArrayList<>();
    List<RankThreads.Outcome<Void>> out = RankThreads.ring(2, FAULT,
        r -> r == 1 ? other : RankThreads.SECRET, addresses::addAll, c -> null);
    for (RankThreads.Outcome<Void> o : out) {
      NativeException e = assertInstanceOf(NativeException.class, o.error(), "rank " + o.rank());
      assertEquals(NativeException.EAUTH, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("authentication with rank " + (1 - o.rank()) + " at "
          + addresses.get(1 - o.rank())), e.getMessage());
    }
  }

  /**
   * A stranger that connects to a listener during the rendezvous is refused and noted; the ring
   * still forms, and once connect returns nothing listens on those addresses.
   */
  @Test
  void strangersAreRefusedAndNotedAndNothingListensAfterTheRingForms() throws Exception {
    List<String> addresses = new ArrayList<>();
    List<Socket> strangers = new ArrayList<>();
    List<RankThreads.Outcome<String>> out = RankThreads.ring(2, OK, r -> RankThreads.SECRET,
        peers -> {
          addresses.addAll(peers);
          try {
            Socket s = new Socket("127.0.0.1", port(peers.get(0)));
            OutputStream o = s.getOutputStream();
            o.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            o.write(new byte[64]);
            o.flush();
            strangers.add(s);
          } catch (IOException e) {
            throw new AssertionError(e);
          }
        }, c -> {
          assertEquals(2.0, c.allreduceMean(c.rank() * 4.0));
          return ((RingCollective) c).notes();
        });
    String stranger = "127.0.0.1:" + strangers.get(0).getLocalPort();
    assertTrue(out.get(0).get().contains(stranger), "rank 0's notes: " + out.get(0).get());
    assertEquals("", out.get(1).get());
    for (String a : addresses) {
      assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port(a)).close(),
          "something still listens on " + a);
    }
    strangers.get(0).close();
  }

  private static int port(String hostPort) {
    return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
  }

  @Test
  void closeEndsABlockedCallAndLaterCallsAreRefused() {
    CountDownLatch blocked = new CountDownLatch(1);
    List<RankThreads.Outcome<Throwable>> out = RankThreads.ring(2, OK, c -> {
      if (c.rank() == 1) {
        blocked.await(); // never calls: rank 0 waits in its allreduce
        return null;
      }
      Thread closer = new Thread(() -> {
        sleep(300);
        c.close();
        c.close(); // idempotent
      });
      closer.start();
      long t0 = System.currentTimeMillis();
      NativeException e = assertThrows(NativeException.class, () -> c.allreduceMean(1.0));
      assertTrue(System.currentTimeMillis() - t0 < OK.toMillis() / 2, "the call ended late");
      blocked.countDown();
      closer.join();
      return assertThrows(IllegalStateException.class, () -> c.allreduceMean(1.0));
    });
    assertTrue(out.get(0).get().getMessage().contains("rank 0 of 2: the collective is closed"),
        out.get(0).get().getMessage());
    assertNull(out.get(1).error());
  }

  @Test
  void refusesWhatCannotFormARing() {
    Rendezvous none = m -> List.of(m);
    IllegalArgumentException shortSecret = assertThrows(IllegalArgumentException.class,
        () -> RingCollective.connect(none, 0, 2, new byte[15], "127.0.0.1", OK));
    assertTrue(shortSecret.getMessage().contains("15 bytes"), shortSecret.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> RingCollective.connect(none, 2, 2, RankThreads.SECRET, "127.0.0.1", OK));
    IllegalStateException wrong = assertThrows(IllegalStateException.class,
        () -> RingCollective.connect(none, 0, 2, RankThreads.SECRET, "127.0.0.1", OK));
    assertTrue(wrong.getMessage().contains("expected 2 addresses"), wrong.getMessage());
  }

  private static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
