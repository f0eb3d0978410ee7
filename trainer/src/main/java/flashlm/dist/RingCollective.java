package flashlm.dist;

import flashlm.jni.Native;
import flashlm.jni.NativeException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The native TCP ring of libflashlm as a {@link Collective}: rank r sends to rank r+1 and
 * receives from rank r-1 (mod the world size); an allreduce is a ring reduce-scatter then
 * all-gather over the flat buffer, chunked and pipelined, whose sum is taken in a fixed order,
 * so every rank gets the same bits in every run.
 *
 * <p>Every connection is authenticated with the run's secret (HMAC answers to random nonces; the
 * secret never goes on the wire); a connection that fails is closed and listed in {@link
 * #notes()}. The listener exists only while the ring connects: nothing listens before the
 * rendezvous or after {@link #connect} returns.
 *
 * <p>Every call waits at most the timeout for a byte to move: a peer that dies makes its
 * neighbours fail at once, a peer that hangs makes them fail after the timeout, and a failing
 * rank shuts its connections so that the failure travels around the ring. The errors ({@link
 * NativeException}) name the peer's rank and {@code host:port}; the first rank to notice names
 * the rank that died or hangs, the others the neighbour that closed on them.
 *
 * <p>One call at a time; {@link #close} may come from any thread and ends a call blocked in
 * another one promptly.
 */
public final class RingCollective implements Collective {
  private final int rank;
  private final int world;
  private final String notes;
  private final Object calls = new Object();
  private final long handle;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Whether the communicator is freed (guarded by {@link #calls}). */
  private boolean freed;

  private RingCollective(long handle, int rank, int world, String notes) {
    this.handle = handle;
    this.rank = rank;
    this.world = world;
    this.notes = notes;
  }

  /**
   * Opens the native listener on {@code bindHost} (an ephemeral port), exchanges "host:port"
   * through {@code rendezvous} (one {@code allGather}), connects the ring, authenticating with
   * {@code secret}, and closes the listener. World 1 opens nothing and calls no rendezvous.
   *
   * @param rendezvous how the ranks exchange addresses
   * @param rank this rank, 0 to world - 1
   * @param world the number of ranks
   * @param secret the run's shared secret, at least 16 bytes (every rank passes the same)
   * @param bindHost the address (or name) of this rank's host that its peers reach it on
   * @param timeout how long connecting may take, and then how long any call waits for a peer
   * @throws NativeException when the ring cannot connect, naming the peer's rank and address
   * @throws IllegalStateException when the rendezvous returns other than one address per rank
   */
  public static RingCollective connect(Rendezvous rendezvous, int rank, int world, byte[] secret,
      String bindHost, Duration timeout) {
    if (world < 1 || rank < 0 || rank >= world) {
      throw new IllegalArgumentException("rank " + rank + " of world size " + world
          + ": need 0 <= rank < world size");
    }
    int timeoutMs = timeoutMillis(timeout);
    if (world > 1 && (secret == null || secret.length < 16)) {
      throw new IllegalArgumentException("the run's secret has " + (secret == null ? 0
          : secret.length) + " bytes; the ring needs at least 16");
    }
    if (world > 1 && (bindHost == null || bindHost.isBlank())) {
      throw new IllegalArgumentException("rank " + rank + ": no address to listen on (bindHost"
          + " is empty): pass the address of this host that the other ranks can reach");
    }
    long[] h = new long[1];
    if (world == 1) {
      Native.check(Native.commCreate(h, 0, new String[] {""}, new byte[16], 0, 1, timeoutMs),
          "ring of one rank");
      return new RingCollective(h[0], 0, 1, "");
    }
    int[] port = new int[1];
    Native.check(Native.listen(h, port, bindHost, 0), "rank " + rank + " of " + world
        + ": listening on " + bindHost);
    long listener = h[0];
    try {
      String me = hostPort(bindHost, port[0]);
      List<String> peers = rendezvous.allGather(me);
      if (peers == null || peers.size() != world || !me.equals(peers.get(rank))) {
        throw new IllegalStateException("rank " + rank + " of " + world + ": the rendezvous"
            + " returned " + peers + ", expected " + world + " addresses with " + me + " at"
            + " index " + rank);
      }
      Native.check(Native.commCreate(h, listener, peers.toArray(String[]::new), secret, rank,
          world, timeoutMs), "rank " + rank + " of " + world + ": connecting the ring " + peers);
      try {
        return new RingCollective(h[0], rank, world, Native.commNotes(h[0]));
      } catch (RuntimeException e) {
        Native.commFree(h[0]);
        throw e;
      }
    } finally {
      Native.listenerClose(listener);
    }
  }

  /** "host:port", with an IPv6 literal in brackets. */
  static String hostPort(String host, int port) {
    return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
  }

  private static int timeoutMillis(Duration timeout) {
    if (timeout == null || timeout.isNegative() || timeout.isZero()
        || timeout.toMillis() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("timeout " + timeout + " must be positive and at most "
          + Integer.MAX_VALUE + " ms");
    }
    return (int) Math.max(1, timeout.toMillis());
  }

  /** Connections refused while the ring was made ("refused host:port: why; ..."), "" if none. */
  public String notes() {
    return notes;
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int worldSize() {
    return world;
  }

  @Override
  public void allreduceMean(FloatBuffer grads) {
    synchronized (calls) {
      long n = grads.capacity();
      Native.check(Native.commAllreduceSum(open(), grads, 0, n), "ring allreduce");
      if (world > 1) {
        // the sum is the same bits on every rank, and so is this one rounded multiply
        Native.check(Native.scale(grads, 0, n, 1f / world), "ring allreduce");
      }
    }
  }

  @Override
  public double allreduceMean(double value) {
    return reduce(value, Native.OP_SUM) / world;
  }

  @Override
  public double allreduceMax(double value) {
    return reduce(value, Native.OP_MAX);
  }

  private double reduce(double value, int op) {
    double[] v = {value};
    synchronized (calls) {
      Native.check(Native.commAllreduceDoubles(open(), v, op), "ring allreduce");
    }
    return v[0];
  }

  @Override
  public long broadcast(long value) {
    byte[] b = ByteBuffer.allocate(Long.BYTES).putLong(value).array();
    synchronized (calls) {
      Native.check(Native.commBroadcast(open(), b, 0), "ring broadcast");
    }
    return ByteBuffer.wrap(b).getLong();
  }

  @Override
  public double broadcast(double value) {
    return Double.longBitsToDouble(broadcast(Double.doubleToRawLongBits(value)));
  }

  @Override
  public void barrier() {
    synchronized (calls) {
      Native.check(Native.commBarrier(open()), "ring barrier");
    }
  }

  /** One int64 sum of a one-hot vector: each slot holds one rank's value, exactly. */
  @Override
  public long[] allGather(long value) {
    long[] v = new long[world];
    v[rank] = value;
    synchronized (calls) {
      Native.check(Native.commAllreduceLongs(open(), v, Native.OP_SUM), "ring all-gather");
    }
    return v;
  }

  /** The live handle; the caller holds {@link #calls}. */
  private long open() {
    if (closed.get() || freed) {
      throw new IllegalStateException("rank " + rank + " of " + world + ": the collective is"
          + " closed");
    }
    return handle;
  }

  /**
   * Shuts the connections (a call blocked in another thread fails promptly), then frees the
   * communicator once no call runs. Idempotent, from any thread.
   */
  @Override
  public void close() {
    if (closed.getAndSet(true)) {
      return;
    }
    Native.commClose(handle); // wakes a call in progress; it then leaves the lock at once
    synchronized (calls) {
      freed = true;
      Native.check(Native.commFree(handle), "closing the ring");
    }
  }
}
