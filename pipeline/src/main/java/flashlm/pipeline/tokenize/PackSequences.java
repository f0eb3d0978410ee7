package flashlm.pipeline.tokenize;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.FlatMapFunction;
import scala.Tuple2;

/**
 * The pack stage, per partition: tokenized documents sorted by (group, doc_id) in, each group
 * wholly inside the partition; blocks of rows of exactly {@code seqLen + 1} ids out, numbered
 * densely from 0 within their group. Documents run back to back across row boundaries; the
 * incomplete last row of each group is dropped (its size is in the group's last block, for the
 * manifest). Lazy: a task holds one block at a time.
 */
final class PackSequences
    implements FlatMapFunction<Iterator<Tuple2<DocKey, int[]>>, PackedBlock> {
  private static final long serialVersionUID = 1L;
  /** Ids per block, about: 1 MiB, whatever seq_len is (a block holds at least one row). */
  static final int BLOCK_IDS = 1 << 18;
  private final int rowLength;
  private final int blockRows;

  PackSequences(int seqLen) {
    this(seqLen, Math.max(1, BLOCK_IDS / (seqLen + 1)));
  }

  PackSequences(int seqLen, int blockRows) {
    this.rowLength = seqLen + 1;
    this.blockRows = blockRows;
  }

  @Override
  public Iterator<PackedBlock> call(Iterator<Tuple2<DocKey, int[]>> docs) {
    return new Blocks(docs);
  }

  private final class Blocks implements Iterator<PackedBlock> {
    private final Iterator<Tuple2<DocKey, int[]>> docs;
    private final ArrayDeque<PackedBlock> ready = new ArrayDeque<>();
    private int group = -1; // none yet
    private long seqIndex; // of the current block's first row
    private int[] block;
    private int filled; // ids in the current block
    private long documents; // of the current group
    private long tokens;

    Blocks(Iterator<Tuple2<DocKey, int[]>> docs) {
      this.docs = docs;
    }

    @Override
    public boolean hasNext() {
      while (ready.isEmpty()) {
        if (!docs.hasNext()) {
          if (group < 0) {
            return false;
          }
          finishGroup();
          group = -1;
          continue;
        }
        Tuple2<DocKey, int[]> d = docs.next();
        if (d._1().group() != group) {
          if (group >= 0) {
            finishGroup(); // the previous group's tail is dropped
          }
          group = d._1().group();
          seqIndex = 0;
          block = new int[blockRows * rowLength];
          filled = 0;
          documents = 0;
          tokens = 0;
        }
        append(d._2());
      }
      return true;
    }

    @Override
    public PackedBlock next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ready.poll();
    }

    private void append(int[] ids) {
      documents++;
      tokens += ids.length;
      int pos = 0;
      while (pos < ids.length) {
        int n = Math.min(block.length - filled, ids.length - pos);
        System.arraycopy(ids, pos, block, filled, n);
        pos += n;
        filled += n;
        if (filled == block.length) {
          ready.add(new PackedBlock(group, seqIndex, blockRows, block, false, 0, 0, 0));
          seqIndex += blockRows;
          block = new int[blockRows * rowLength];
          filled = 0;
        }
      }
    }

    private void finishGroup() {
      int rows = filled / rowLength;
      ready.add(new PackedBlock(group, seqIndex, rows, Arrays.copyOf(block, rows * rowLength),
          true, documents, tokens, filled % rowLength));
      block = null;
    }
  }
}
