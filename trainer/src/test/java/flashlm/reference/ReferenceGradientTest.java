package flashlm.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.model.ModelSpec;
import flashlm.train.AlphaValues;
import flashlm.model.ParamLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hand-written backward of the reference models against central finite differences, with
 * learnable alpha off and on (alphas at {@link AlphaValues}, one of them 0).
 */
class ReferenceGradientTest {
  /** Step of the central difference on a parameter. */
  static final double FD_STEP = 1e-5;
  /** |analytic - numeric| must be below ABS + REL * max(|analytic|, |numeric|). */
  static final double FD_ABS_TOL = 1e-8;
  static final double FD_REL_TOL = 1e-5;
  static final int SAMPLES_PER_TENSOR = 6;

  static ModelSpec transformer(String quant, boolean alpha) {
    return new ModelSpec(ModelSpec.Arch.TRANSFORMER, 11, 8, 2, 2, 12, 5,
        ModelSpec.Quant.of(quant), alpha, 10000.0, 1e-5, 0.02, null, null);
  }

  static ModelSpec ffn(String quant, boolean alpha) {
    return new ModelSpec(ModelSpec.Arch.FFN, 13, 8, 2, null, 12, 6, ModelSpec.Quant.of(quant),
        alpha, null, 1e-5, 0.02, null, null);
  }

  /** Random weights large enough that every path carries gradient; norms near 1. */
  static ReferenceModel randomModel(ModelSpec spec, long seed) {
    ReferenceModel m = new ReferenceModel(spec);
    SplittableRandom r = new SplittableRandom(seed);
    for (ParamLayout.Tensor t : m.layout().tensors()) {
      boolean matrix = t.shape().length > 1;
      for (long i = t.offset(); i < t.offset() + t.size(); i++) {
        m.params()[(int) i] = matrix ? r.nextGaussian() * 0.5 : 1 + 0.2 * r.nextGaussian();
      }
    }
    AlphaValues.set(spec, m.params());
    return m;
  }

  static int[] randomTokens(ModelSpec spec, int batch, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] tokens = new int[batch * (spec.seqLen() + 1)];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(spec.vocabSize());
    }
    return tokens;
  }

  /**
   * int16 dX and dW against the exact ones: each dY is off by at most half of 1/32767 of the
   * largest value of its token (dX) or of its output in its block of tokens (dW), which moves
   * gradients by about 1e-5 of their scale; 1e-3 leaves room for sums that cancel.
   */
  static final double DX16_TOL = 1e-3;

  @ParameterizedTest(name = "learnable_alpha={0} backward_dx={1} backward_dw={2}")
  @CsvSource({"false,INT16,FP32", "true,INT16,FP32", "false,FP32,INT16", "true,FP32,INT16",
      "false,INT16,INT16", "true,INT16,INT16"})
  void int16GradientsAreCloseToTheExactOnesButNotEqual(boolean alpha, ModelSpec.BackwardDx dx,
      ModelSpec.BackwardDw dw) {
    for (ModelSpec exact : new ModelSpec[] {transformer("ternary", alpha), ffn("ternary", alpha)}) {
      ModelSpec int16 = exact.withBackward(dx, dw);
      exact = exact.withBackward(ModelSpec.BackwardDx.FP32, ModelSpec.BackwardDw.FP32);
      ReferenceModel a = randomModel(exact, 7);
      ReferenceModel b = randomModel(int16, 7);
      int[] tokens = randomTokens(exact, 2, 11);
      assertEquals(a.forwardBackward(tokens, 2), b.forwardBackward(tokens, 2), "the forward");
      int differing = 0;
      List<String> failures = new ArrayList<>();
      for (ParamLayout.Tensor t : a.layout().tensors()) {
        double scale = 0;
        double maxDiff = 0;
        for (long i = t.offset(); i < t.offset() + t.size(); i++) {
          scale = Math.max(scale, Math.abs(a.grads()[(int) i]));
          double d = Math.abs(a.grads()[(int) i] - b.grads()[(int) i]);
          maxDiff = Math.max(maxDiff, d);
          differing += d > 0 ? 1 : 0;
        }
        if (!(maxDiff <= DX16_TOL * scale)) {
          failures.add(exact.arch().id() + " " + t.name() + ": " + dx + " dX, " + dw
              + " dW move the gradient by " + maxDiff + ", more than " + DX16_TOL
              + " of its scale " + scale);
        }
      }
      assertTrue(failures.isEmpty(), String.join("\n", failures));
      assertTrue(differing > 0, dx + " dX, " + dw + " dW gave the exact gradients: not quantised");
    }
  }

  @ParameterizedTest(name = "learnable_alpha={0}")
  @ValueSource(booleans = {false, true})
  void transformerGradientsMatchFiniteDifferences(boolean alpha) {
    checkGradients(transformer("none", alpha));
  }

  @ParameterizedTest(name = "learnable_alpha={0}")
  @ValueSource(booleans = {false, true})
  void ffnGradientsMatchFiniteDifferences(boolean alpha) {
    checkGradients(ffn("none", alpha));
  }

  private static void checkGradients(ModelSpec spec) {
    int batch = 2;
    ReferenceModel m = randomModel(spec, 7);
    int[] tokens = randomTokens(spec, batch, 11);
    m.forwardBackward(tokens, batch);
    double[] p = m.params();
    SplittableRandom pick = new SplittableRandom(3);
    List<String> failures = new ArrayList<>();
    for (ParamLayout.Tensor t : m.layout().tensors()) {
      double maxAbs = 0;
      double maxRel = 0;
      for (int s = 0; s < SAMPLES_PER_TENSOR; s++) {
        int i = (int) (t.offset() + pick.nextLong(t.size()));
        double saved = p[i];
        p[i] = saved + FD_STEP;
        double plus = m.forward(tokens, batch, null);
        p[i] = saved - FD_STEP;
        double minus = m.forward(tokens, batch, null);
        p[i] = saved;
        double numeric = (plus - minus) / (2 * FD_STEP);
        double analytic = m.grads()[i];
        double diff = Math.abs(analytic - numeric);
        double scale = Math.max(Math.abs(analytic), Math.abs(numeric));
        maxAbs = Math.max(maxAbs, diff);
        maxRel = Math.max(maxRel, diff / Math.max(scale, 1e-30));
        if (diff > FD_ABS_TOL + FD_REL_TOL * scale && failures.size() < 10) {
          failures.add(
              t.name()
                  + "["
                  + (i - t.offset())
                  + "]: analytic "
                  + analytic
                  + " numeric "
                  + numeric);
        }
      }
      System.out.printf("%-45s max abs %.3e max rel %.3e%n", t.name(), maxAbs, maxRel);
    }
    assertTrue(
        failures.isEmpty(), "gradient mismatches (first 10):\n" + String.join("\n", failures));
  }
}
