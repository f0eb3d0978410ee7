package flashlm.train;

import flashlm.data.SequencesSnapshot;
import flashlm.dist.Collective;
import flashlm.model.ModelSpec;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** What the sequences table must be for a run: its shape, enough shards, one version. */
final class TableChecks {
  private TableChecks() {}

  /** The table {@code opening} opened, or its failure as thrown by the opening itself. */
  static SequencesSnapshot opened(CompletableFuture<SequencesSnapshot> opening) {
    try {
      return opening.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }

  /** Shards for every rank, the model's seq_len, a vocabulary the model covers. */
  static void check(SequencesSnapshot table, ModelSpec spec, int worldSize) {
    if (table.numShards() < worldSize) {
      throw new IllegalArgumentException("distributed.world_size " + worldSize + " is more than"
          + " the " + table.numShards() + " shards of " + table.describe() + ": each rank reads"
          + " whole shards, so set distributed.world_size to at most " + table.numShards()
          + ", or pack the table with more shards");
    }
    if (table.seqLen() != spec.seqLen()) {
      throw new IllegalArgumentException(table.describe() + " holds rows of seq_len "
          + table.seqLen() + " but model.seq_len is " + spec.seqLen() + "; set model.seq_len="
          + table.seqLen() + " or pack a table with seq_len " + spec.seqLen());
    }
    if (table.vocabSize() > spec.vocabSize()) {
      throw new IllegalArgumentException(table.describe() + " has vocab_size "
          + table.vocabSize() + ", larger than model.vocab_size " + spec.vocabSize()
          + "; set model.vocab_size=" + table.vocabSize());
    }
  }

  /**
   * The ranks must read one version: rank 0 sends its version, and a rank that opened another
   * fails (the barrier stage passes the version its driver resolved, as data.version).
   */
  static void checkSameVersion(SequencesSnapshot table, Collective collective) {
    if (collective.worldSize() > 1) {
      long first = collective.broadcast(table.version());
      if (first != table.version()) {
        throw new IllegalStateException("rank " + collective.rank() + " opened "
            + table.describe() + " but rank 0 opened version " + first + ": the ranks of a run"
            + " must read one version; set data.version (the barrier stage sets it to the version"
            + " its driver resolved)");
      }
    }
  }
}
