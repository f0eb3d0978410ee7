package flashlm.pipeline.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.PairFlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import scala.Tuple2;

/**
 * The encode stage, per partition: documents (doc_id, text, group) in, (key, token ids) out, with
 * BOS prepended and EOS appended as configured. Lazy: a task holds one batch at a time.
 *
 * <p>DJL's {@code Encoding} copies ten arrays out of the native encoding (tokens as Java strings,
 * offsets, masks...) where packing needs the ids alone: this stage asks the native library for the
 * ids only and frees each encoding at once, about a quarter less CPU per token.
 */
final class EncodeDocuments implements PairFlatMapFunction<Iterator<Row>, DocKey, int[]> {
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
  public Iterator<Tuple2<DocKey, int[]>> call(Iterator<Row> documents) {
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

  private final class Batches implements Iterator<Tuple2<DocKey, int[]>> {
    private final Iterator<Row> documents;
    private final HuggingFaceTokenizer tokenizer;
    private final ArrayDeque<Tuple2<DocKey, int[]>> ready = new ArrayDeque<>();

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
    public Tuple2<DocKey, int[]> next() {
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
      long[][] ids = encodeIds(tokenizer, n < batchSize ? Arrays.copyOf(texts, n) : texts);
      for (int i = 0; i < n; i++) {
        ready.add(new Tuple2<>(new DocKey(rows[i].getInt(2), rows[i].getString(0)),
            withSeparators(ids[i])));
      }
    }
  }

  /**
   * The ids of each text, as {@code tokenizer.batchEncode(texts)} gives them, without building
   * DJL's {@code Encoding} objects. The tokenizer's own settings (no special tokens added, no
   * truncation, no padding) hold: they live in the native tokenizer.
   */
  static long[][] encodeIds(HuggingFaceTokenizer tokenizer, String[] texts) {
    TokenizersLibrary lib = TokenizersLibrary.LIB;
    long[] encodings = lib.batchEncode(tokenizer.getHandle(), texts, false);
    long[][] ids = new long[encodings.length][];
    try {
      for (int i = 0; i < encodings.length; i++) {
        ids[i] = lib.getTokenIds(encodings[i]);
      }
    } finally {
      for (long e : encodings) {
        lib.deleteEncoding(e);
      }
    }
    return ids;
  }
}
