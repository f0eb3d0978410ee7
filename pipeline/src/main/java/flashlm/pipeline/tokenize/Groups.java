package flashlm.pipeline.tokenize;

import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import flashlm.table.SequencesTable;
import org.apache.spark.Partitioner;
import org.apache.spark.sql.Column;

/**
 * The (split, shard) groups rows are packed in, numbered {@code split * num_shards + shard} with
 * train 0 and validation 1, and the partitioner that gives each group a partition of its own: the
 * pack stage sees every document of its group, and only those.
 */
final class Groups extends Partitioner {
  private static final long serialVersionUID = 1L;
  private final int numShards;

  Groups(int numShards) {
    this.numShards = numShards;
  }

  /** The group of a document from its split and shard columns. */
  static Column column(Column split, Column shard, int numShards) {
    return when(split.equalTo(lit(SequencesTable.VALIDATION)), lit(numShards)).otherwise(lit(0))
        .plus(shard);
  }

  String split(int group) {
    return group < numShards ? SequencesTable.TRAIN : SequencesTable.VALIDATION;
  }

  int shard(int group) {
    return group % numShards;
  }

  @Override
  public int numPartitions() {
    return 2 * numShards;
  }

  @Override
  public int getPartition(Object key) {
    return ((DocKey) key).group();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Groups g && g.numShards == numShards;
  }

  @Override
  public int hashCode() {
    return numShards;
  }
}
