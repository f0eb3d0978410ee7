package flashlm.train;

import flashlm.data.SequenceBatches;
import flashlm.data.SequencesSnapshot;
import flashlm.dist.Collective;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The fixed set of validation batches a run evaluates on. */
final class EvalBatches {
  private EvalBatches() {}

  /**
   * The first batches of epoch 0 of the rank's validation shards, shuffled by the seed: the
   * same set at every evaluation. Every rank takes as many as the rank with the fewest rows
   * holds (each rank's mean loss then weighs the same), none if one holds less than a batch.
   */
  static List<int[]> of(SequencesSnapshot table, TrainConfig config, Collective collective,
      TrainLog log) {
    String split = config.data().validationSplit();
    int batch = config.data().batchSize();
    long[] rows = collective.allGather(table.rows(split, collective.rank(),
        collective.worldSize()));
    long fewest = Arrays.stream(rows).min().orElseThrow();
    String held = rows.length == 1 ? rows[0] + " rows" : "rows " + Arrays.toString(rows)
        + " on ranks 0.." + (rows.length - 1);
    if (fewest < batch) {
      log.info("no evaluation: " + table.describe() + " split " + split + " holds " + held
          + ", fewer than one batch of " + batch + (rows.length == 1 ? "" : " on a rank"));
      return List.of();
    }
    int count = (int) Math.min(config.evalBatches(), fewest / batch);
    if (rows.length > 1 && count < config.evalBatches()) {
      log.info("evaluating " + count + " batches on each rank (split " + split + " holds "
          + held + ")");
    }
    SequenceBatches v = SequenceBatches.builder(table).setSplit(split).setBatchSize(batch)
        .optRank(collective.rank(), collective.worldSize()).optSeed(config.seed())
        .optWindowTokens(config.data().shuffleWindow()).build();
    List<int[]> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(v.next());
    }
    return out;
  }
}
