package flashlm.cluster;

import flashlm.train.Collective;
import java.nio.FloatBuffer;

/**
 * A placeholder for the ring allreduce until it is built into the trainer: it has the rank and
 * world size of its task (so each rank reads its own shards and only rank 0 writes checkpoints),
 * makes the rendezvous's one {@code allGather} as the ring does, and reduces nothing, so ranks
 * train independently. Its first reduction waits for every rank once more (a second {@code
 * allGather}), as the ring's first allreduce does: no rank takes a step (and rank 0 writes no
 * checkpoint) before every rank has started its trainer and chosen its checkpoint. Closing it
 * makes later calls fail, as closing the ring does.
 */
final class StandInCollective implements Collective {
  private final int rank;
  private final int world;
  private final Rendezvous rendezvous;
  private boolean started;
  private volatile boolean closed;

  private StandInCollective(int rank, int world, Rendezvous rendezvous) {
    this.rank = rank;
    this.world = world;
    this.rendezvous = rendezvous;
  }

  static StandInCollective connect(Rendezvous rendezvous, int rank, int world, String bindHost) {
    rendezvous.allGather(bindHost + ":0");
    return new StandInCollective(rank, world, rendezvous);
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
    open();
  }

  @Override
  public double allreduceMean(double value) {
    open();
    return value;
  }

  private void open() {
    if (closed) {
      throw new IllegalStateException("rank " + rank + ": the collective is closed");
    }
    if (!started) {
      started = true;
      rendezvous.allGather("started");
    }
  }

  @Override
  public void close() {
    closed = true;
  }
}
