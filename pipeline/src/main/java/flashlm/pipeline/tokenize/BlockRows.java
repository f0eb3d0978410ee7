package flashlm.pipeline.tokenize;

import java.util.Arrays;
import java.util.Iterator;
import org.apache.spark.api.java.function.FlatMapFunction;

/** The rows of a {@link PackedBlock}, as the sequences table holds them. */
final class BlockRows implements FlatMapFunction<PackedBlock, PackedRow> {
  private static final long serialVersionUID = 1L;
  private final Groups groups;
  private final int rowLength;

  BlockRows(Groups groups, int seqLen) {
    this.groups = groups;
    this.rowLength = seqLen + 1;
  }

  @Override
  public Iterator<PackedRow> call(PackedBlock b) {
    String split = groups.split(b.group());
    int shard = groups.shard(b.group());
    PackedRow[] rows = new PackedRow[b.rows()];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = new PackedRow(split, shard, b.firstSeqIndex() + i,
          Arrays.copyOfRange(b.tokens(), i * rowLength, (i + 1) * rowLength));
    }
    return Arrays.asList(rows).iterator();
  }
}
