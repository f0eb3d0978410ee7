package flashlm.train;

import flashlm.data.SequenceBatches.Position;
import flashlm.dist.Collective;
import java.util.ArrayList;
import java.util.List;

/**
 * Every rank's place in the training data, which a checkpoint must hold: each rank reads its own
 * shards (those with {@code shard % world_size == rank}) in its own shuffled order, so ranks
 * whose shards differ in length are at different positions after the same step. Rank 0 writes
 * the checkpoint, so it gathers the others' positions first; a resumed rank takes its own back.
 * A different world size would give each rank other shards, so a checkpoint continues only with
 * the world size that wrote it.
 */
final class RankPositions {
  private RankPositions() {}

  /** Every rank's position, element r being rank r's: two all-gathers, on every rank. */
  static List<Position> gather(Collective collective, Position mine) {
    long[] epochs = collective.allGather(mine.epoch());
    long[] indexes = collective.allGather(mine.index());
    List<Position> all = new ArrayList<>(epochs.length);
    for (int r = 0; r < epochs.length; r++) {
      all.add(new Position(epochs[r], indexes[r]));
    }
    return all;
  }

  /**
   * Refuses to continue {@code path}, written by a run of {@code header.worldSize()} ranks, with
   * {@code worldSize} ranks.
   */
  static void checkWorldSize(Checkpoint.Header header, String path, int worldSize) {
    if (header.worldSize() != worldSize) {
      throw new IllegalArgumentException(path + " was written by a run of "
          + ranks(header.worldSize()) + " (distributed.world_size " + header.worldSize()
          + "), but this run has " + ranks(worldSize) + ". Each rank reads the shards s with s %"
          + " world_size == rank in an order of its own, so a run continues exactly only with"
          + " the world size that wrote its checkpoints: resume with distributed.world_size="
          + header.worldSize() + ", or set checkpoint.dir to a new directory to start over");
    }
  }

  /** Where {@code rank} resumes in the data of the checkpoint {@code header}. */
  static Position of(Checkpoint.Header header, int rank) {
    return header.positions().get(rank);
  }

  private static String ranks(int n) {
    return n == 1 ? "1 rank" : n + " ranks";
  }
}
