package flashlm.pipeline.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

/**
 * Text to ids and back with the tokenizer a table was made with, on the driver (evaluation,
 * generation): the same DJL tokenizer, options and ids-only encoding as the tokenize job, so a
 * document gets exactly the ids it got in the table (special-token strings in the text encode
 * as text, see {@link OrdinaryText}); BOS and EOS are the caller's to add. The tokenizer is shared
 * per JVM ({@link Tokenizers}), so closing is not needed.
 */
public final class TextEncoder {
  private final HuggingFaceTokenizer tokenizer;

  private TextEncoder(HuggingFaceTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** The encoder of {@code file}. */
  public static TextEncoder of(TokenizerFile file) {
    return new TextEncoder(Tokenizers.shared(file.sha256(), file.bytes(), file.location()));
  }

  /** The encoder of a tokenizer.json's bytes ({@code name} for errors). */
  public static TextEncoder of(byte[] tokenizerJson, String sha256, String name) {
    return new TextEncoder(Tokenizers.shared(sha256, tokenizerJson, name));
  }

  /** The ids of each text, as the tokenize job encodes documents (without separators). */
  public int[][] encode(String[] texts) {
    long[][] ids = EncodeDocuments.encodeIds(tokenizer, texts);
    int[][] out = new int[ids.length][];
    for (int i = 0; i < ids.length; i++) {
      out[i] = new int[ids[i].length];
      for (int j = 0; j < ids[i].length; j++) {
        out[i][j] = (int) ids[i][j];
      }
    }
    return out;
  }

  /** The text of {@code ids}, special tokens (BOS, EOS) left out. */
  public String decode(int[] ids) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    return tokenizer.decode(l, true);
  }
}
