package flashlm.pipeline.tokenize;

import java.io.Serializable;
import java.util.Comparator;

/**
 * The shuffle key of one tokenized document: its group ({@link Groups}: split and shard) and its
 * doc_id, ordered by group then doc_id, the order rows are packed in.
 */
record DocKey(int group, String docId) implements Serializable {
  /** The packing order (a serializable comparator for Spark's sort). */
  static final Comparator<DocKey> ORDER = new Order();

  private static final class Order implements Comparator<DocKey>, Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public int compare(DocKey a, DocKey b) {
      int c = Integer.compare(a.group(), b.group());
      return c != 0 ? c : a.docId().compareTo(b.docId());
    }
  }
}
