package flashlm.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import flashlm.model.NativeModel;
import flashlm.train.TrainConfig;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DocumentScoreTest {
  /** Sums of hundreds of per-token losses in double against each other. */
  private static final double TOLERANCE = 1e-5;

  private static int[] tokens(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(48);
    }
    return t;
  }

  @Test
  void aModelWithZeroWeightsCostsLnVocabPerTokenOverEveryWindow() {
    TrainConfig c = Tiny.config("transformer", "t");
    // zero weights: the embedding is 0, so every layer adds 0 and the logits are all 0: a uniform
    // distribution, -ln(1/48) = ln 48 nats for every token, whatever the context
    FloatBuffer zero = FloatBuffer.allocate((int) flashlm.model.ParamLayout.of(c.model()).size());
    try (PackedModel m = PackedModel.fromParams(c.model(), zero, Embedding.F32)) {
      for (int n : new int[] {2, 71, 72, 200}) {
        DocumentScore.Score s = DocumentScore.score(m, tokens(n, n), 30);
        assertEquals(n - 1, s.tokens());
        assertEquals((n - 1) * Math.log(48), s.nll(), TOLERANCE * n, "n " + n);
      }
    }
  }

  @Test
  void everyTokenIsScoredOnceWithTheWindowThePlanGivesIt() {
    TrainConfig c = Tiny.config("ffn", "t");
    int seqLen = 70;
    int stride = 25;
    int n = 150; // windows start at 0, 25, 50, 75 and 79 (the last ends at the end)
    int[] doc = tokens(n, 9);
    try (NativeModel ref = Tiny.model(c.model(), 4);
        PackedModel m = PackedModel.fromParams(c.model(), ref.params(), Embedding.F32)) {
      DocumentScore.Score s = DocumentScore.score(m, doc, stride);
      assertEquals(5, s.windows());
      double want = 0;
      int[] starts = {0, 25, 50, 75, 79};
      int scored = 0;
      for (int start : starts) {
        int len = Math.min(seqLen, n - 1 - start);
        for (int t = scored; t < start + len; t++) { // target t + 1 given doc[start .. t]
          int[] ctx = Arrays.copyOfRange(doc, start, t + 1);
          float[] logits = ref.lastLogits(ctx, 1, ctx.length);
          double max = Double.NEGATIVE_INFINITY;
          for (float l : logits) {
            max = Math.max(max, l);
          }
          double z = 0;
          for (float l : logits) {
            z += Math.exp(l - max);
          }
          want += max + Math.log(z) - logits[doc[t + 1]];
        }
        scored = start + len;
      }
      assertEquals(n - 1, scored);
      assertEquals(want, s.nll(), TOLERANCE * Math.abs(want));
    }
  }

  @Test
  void aStrideOutsideTheContextIsRefused() {
    TrainConfig c = Tiny.config("ffn", "t");
    FloatBuffer zero = FloatBuffer.allocate((int) flashlm.model.ParamLayout.of(c.model()).size());
    try (PackedModel m = PackedModel.fromParams(c.model(), zero, Embedding.F32)) {
      assertThrows(IllegalArgumentException.class, () -> DocumentScore.score(m, tokens(9, 1), 0));
      assertThrows(IllegalArgumentException.class, () -> DocumentScore.score(m, tokens(9, 1), 71));
      assertThrows(IllegalArgumentException.class, () -> DocumentScore.score(m, new int[1], 5));
    }
  }
}
