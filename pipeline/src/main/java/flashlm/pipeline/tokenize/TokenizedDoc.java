package flashlm.pipeline.tokenize;

import java.io.Serializable;

/**
 * One tokenized document between the encode and pack stages: its id, split, shard and token ids
 * (with BOS/EOS). A JavaBean, public with setters, for Spark's bean encoder; not an API.
 */
public final class TokenizedDoc implements Serializable {
  private static final long serialVersionUID = 1L;
  private String docId;
  private String split;
  private int shard;
  private int[] ids;

  public TokenizedDoc() {}

  TokenizedDoc(String docId, String split, int shard, int[] ids) {
    this.docId = docId;
    this.split = split;
    this.shard = shard;
    this.ids = ids;
  }

  public String getDocId() {
    return docId;
  }

  public void setDocId(String docId) {
    this.docId = docId;
  }

  public String getSplit() {
    return split;
  }

  public void setSplit(String split) {
    this.split = split;
  }

  public int getShard() {
    return shard;
  }

  public void setShard(int shard) {
    this.shard = shard;
  }

  public int[] getIds() {
    return ids;
  }

  public void setIds(int[] ids) {
    this.ids = ids;
  }
}
