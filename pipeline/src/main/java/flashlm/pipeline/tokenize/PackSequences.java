package flashlm.pipeline.tokenize;

import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.MapPartitionsFunction;

/**
 * The pack stage, per partition: tokenized documents sorted by (split, shard, doc_id), each
 * (split, shard) wholly inside the partition, in; rows of exactly {@code seqLen + 1} ids out,
 * numbered densely from 0 within their (split, shard). Documents run back to back across row
 * boundaries; the incomplete last row of each (split, shard) is dropped (the manifest counts it).
 */
final class PackSequences implements MapPartitionsFunction<TokenizedDoc, PackedRow> {
  private static final long serialVersionUID = 1L;
  private final int rowLength;

  PackSequences(int seqLen) {
    this.rowLength = seqLen + 1;
  }

  @Override
  public Iterator<PackedRow> call(Iterator<TokenizedDoc> docs) {
    return new Rows(docs);
  }

  private final class Rows implements Iterator<PackedRow> {
    private final Iterator<TokenizedDoc> docs;
    private String split;
    private int shard;
    private long seqIndex;
    private int[] row = new int[rowLength];
    private int filled;
    private int[] ids = new int[0]; // the current document's ids
    private int pos; // next id of the current document to pack
    private PackedRow next;

    Rows(Iterator<TokenizedDoc> docs) {
      this.docs = docs;
    }

    @Override
    public boolean hasNext() {
      while (next == null) {
        if (pos == ids.length) {
          if (!docs.hasNext()) {
            return false;
          }
          TokenizedDoc d = docs.next();
          if (!d.getSplit().equals(split) || d.getShard() != shard) {
            split = d.getSplit(); // a new (split, shard): the previous one's tail is dropped
            shard = d.getShard();
            seqIndex = 0;
            filled = 0;
          }
          ids = d.getIds();
          pos = 0;
          continue;
        }
        int n = Math.min(rowLength - filled, ids.length - pos);
        System.arraycopy(ids, pos, row, filled, n);
        pos += n;
        filled += n;
        if (filled == rowLength) {
          next = new PackedRow(split, shard, seqIndex++, row);
          row = new int[rowLength];
          filled = 0;
        }
      }
      return true;
    }

    @Override
    public PackedRow next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      PackedRow r = next;
      next = null;
      return r;
    }
  }
}
