package flashlm.pipeline.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;

/**
 * The encode stage, per partition: documents (doc_id, text, split, shard) in, token ids out,
 * {@code batchSize} documents per DJL {@code batchEncode} call, with BOS prepended and EOS
 * appended as configured. Lazy: a task holds one batch at a time.
 */
final class EncodeDocuments implements MapPartitionsFunction<Row, TokenizedDoc> {
  private static final long serialVersionUID = 1L;

  private final Broadcast<byte[]> tokenizerJson;
  private final String sha256;
  private final String name;
  private final int batchSize;
  private final int bosId; // -1: none
  private final int eosId; // -1: none

  EncodeDocuments(Broadcast<byte[]> tokenizerJson, String sha256, String name, int batchSize,
      int bosId, int eosId) {
    this.tokenizerJson = tokenizerJson;
    this.sha256 = sha256;
    this.name = name;
    this.batchSize = batchSize;
    this.bosId = bosId;
    this.eosId = eosId;
  }

  @Override
  public Iterator<TokenizedDoc> call(Iterator<Row> documents) {
    HuggingFaceTokenizer tokenizer = Tokenizers.shared(sha256, tokenizerJson.value(), name);
    return new Batches(documents, tokenizer);
  }

  /** Token ids of one encoding, with the separators. */
  int[] withSeparators(long[] ids) {
    int head = bosId >= 0 ? 1 : 0;
    int[] out = new int[head + ids.length + (eosId >= 0 ? 1 : 0)];
    if (bosId >= 0) {
      out[0] = bosId;
    }
    for (int i = 0; i < ids.length; i++) {
      out[head + i] = (int) ids[i];
    }
    if (eosId >= 0) {
      out[out.length - 1] = eosId;
    }
    return out;
  }

  private final class Batches implements Iterator<TokenizedDoc> {
    private final Iterator<Row> documents;
    private final HuggingFaceTokenizer tokenizer;
    private final ArrayDeque<TokenizedDoc> ready = new ArrayDeque<>();

    Batches(Iterator<Row> documents, HuggingFaceTokenizer tokenizer) {
      this.documents = documents;
      this.tokenizer = tokenizer;
    }

    @Override
    public boolean hasNext() {
      if (ready.isEmpty() && documents.hasNext()) {
        encodeBatch();
      }
      return !ready.isEmpty();
    }

    @Override
    public TokenizedDoc next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ready.poll();
    }

    private void encodeBatch() {
      Row[] rows = new Row[batchSize];
      String[] texts = new String[batchSize];
      int n = 0;
      while (n < batchSize && documents.hasNext()) {
        rows[n] = documents.next();
        texts[n] = rows[n].isNullAt(1) ? "" : rows[n].getString(1);
        n++;
      }
      if (n < batchSize) {
        texts = java.util.Arrays.copyOf(texts, n);
      }
      Encoding[] encodings = tokenizer.batchEncode(texts);
      for (int i = 0; i < n; i++) {
        ready.add(new TokenizedDoc(rows[i].getString(0), rows[i].getString(2),
            rows[i].getInt(3), withSeparators(encodings[i].getIds())));
      }
    }
  }
}
