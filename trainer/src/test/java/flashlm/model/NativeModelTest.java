package flashlm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.jni.Native;
import flashlm.jni.NativeException;
import flashlm.reference.ReferenceModel;
import flashlm.reference.ReferenceTrainable;
import flashlm.train.AlphaValues;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The native model (fp32, C kernels) against the double-precision reference model on the same
 * parameters and tokens: loss, every gradient tensor and the logits, quantisation on and off,
 * learnable alpha on (at {@link AlphaValues}, one of them 0) and off.
 */
class NativeModelTest {
  /** fp32 against double: relative to the largest magnitude of the tensor compared. */
  private static final double TOL_FLOAT = 1e-5;
  /**
   * With BitLinear: an fp32 activation within rounding of a quantisation step can round the other
   * way than in double, moving it by one step (1/127 of its row's max); none did at these sizes,
   * this leaves room for one.
   */
  private static final double TOL_TERNARY = 1e-3;
  private static final double TOL_LOSS_FLOAT = 1e-6;
  private static final double TOL_LOSS_TERNARY = 1e-4;
  private static final int BATCH = 3;

  static ModelSpec spec(String arch, String quant) {
    return spec(arch, quant, false);
  }

  static ModelSpec spec(String arch, String quant, boolean alpha) {
    return spec(arch, quant, alpha, "int16");
  }

  static ModelSpec spec(String arch, String quant, boolean alpha, String dx) {
    return spec(arch, quant, alpha, dx, "int16");
  }

  static ModelSpec spec(String arch, String quant, boolean alpha, String dx, String dw) {
    boolean tf = arch.equals("transformer");
    return new ModelSpec(ModelSpec.Arch.of(arch), 67, 32, 2, tf ? 2 : null, 48, 9,
        ModelSpec.Quant.of(quant), alpha, null, null, 0.1, ModelSpec.BackwardDx.of(dx),
        ModelSpec.BackwardDw.of(dw));
  }

  static int[] tokens(ModelSpec spec, int batch, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[batch * (spec.seqLen() + 1)];
    for (int i = 0; i < t.length; i++) {
      t[i] = r.nextInt(spec.vocabSize());
    }
    return t;
  }

  @ParameterizedTest(name = "{0} quant={1} learnable_alpha={2} backward_dx={3} backward_dw={4}")
  @CsvSource({"transformer,none,false,int16,int16", "transformer,ternary,false,int16,int16",
      "ffn,none,false,int16,int16", "ffn,ternary,false,int16,int16",
      "transformer,ternary,true,int16,int16", "ffn,ternary,true,int16,int16",
      "transformer,none,true,int16,int16", "ffn,none,true,int16,int16",
      "transformer,ternary,false,fp32,int16", "ffn,ternary,true,fp32,int16",
      "transformer,ternary,true,fp32,int16", "transformer,ternary,false,int16,fp32",
      "ffn,ternary,true,int16,fp32", "transformer,ternary,true,fp32,fp32"})
  void lossGradientsAndLogitsMatchTheReference(String arch, String quant, boolean alpha,
      String dx, String dw) {
    ModelSpec spec = spec(arch, quant, alpha, dx, dw);
    double tol = spec.ternary() ? TOL_TERNARY : TOL_FLOAT;
    ReferenceTrainable ref = new ReferenceTrainable(spec, 7);
    AlphaValues.set(spec, ref.params());
    String what = arch + " " + quant + (alpha ? " alpha" : "") + " dx " + dx + " dw " + dw;
    try (NativeModel nat = NativeModel.create(spec, BATCH)) {
      nat.params().put(0, ref.params(), 0, ref.params().capacity());
      int[] tok = tokens(spec, BATCH, 11);
      float refLoss = ref.forwardBackward(tok, BATCH);
      float natLoss = nat.forwardBackward(tok, BATCH);
      System.out.printf("%s: loss reference %.7f native %.7f%n", what, refLoss, natLoss);
      double lossTol = spec.ternary() ? TOL_LOSS_TERNARY : TOL_LOSS_FLOAT;
      assertEquals(refLoss, natLoss, lossTol * refLoss, "loss");
      List<String> failures = new ArrayList<>();
      for (ParamLayout.Tensor t : nat.layout().tensors()) {
        compare(what + " grad " + t.name(), nat.grads(), ref.grads(),
            (int) t.offset(), (int) t.size(), tol, failures);
      }
      ReferenceModel model = ref.reference();
      int t = spec.seqLen();
      int v = spec.vocabSize();
      double[] logits = new double[BATCH * t * v];
      model.forward(tok, BATCH, logits);
      for (int len : new int[] {1, 4, t}) { // causal: position len-1 sees only the first len tokens
        int[] prefix = new int[BATCH * len];
        for (int b = 0; b < BATCH; b++) {
          System.arraycopy(tok, b * (t + 1), prefix, b * len, len);
        }
        float[] got = nat.lastLogits(prefix, BATCH, len);
        float[] want = new float[BATCH * v];
        for (int b = 0; b < BATCH; b++) {
          for (int j = 0; j < v; j++) {
            want[b * v + j] = (float) logits[((b * t) + len - 1) * v + j];
          }
        }
        compare(what + " logits len " + len, FloatBuffer.wrap(got),
            FloatBuffer.wrap(want), 0, want.length, tol, failures);
      }
      assertTrue(failures.isEmpty(), String.join("\n", failures));
    }
  }

  /**
   * The integer dW over 270 tokens (30 rows of 9): a block of 256 tokens and one of 14, each
   * quantised on its own. Native float against the double reference measured under a tenth of
   * TOL_TERNARY here.
   */
  @ParameterizedTest(name = "{0} learnable_alpha={1}")
  @CsvSource({"ffn,false", "transformer,true"})
  void integerDwMatchesTheReferenceOverSeveralBlocksOfTokens(String arch, boolean alpha) {
    int batch = 30;
    ModelSpec spec = spec(arch, "ternary", alpha, "int16", "int16");
    ReferenceTrainable ref = new ReferenceTrainable(spec, 7);
    AlphaValues.set(spec, ref.params());
    try (NativeModel nat = NativeModel.create(spec, batch)) {
      nat.params().put(0, ref.params(), 0, ref.params().capacity());
      int[] tok = tokens(spec, batch, 11);
      float refLoss = ref.forwardBackward(tok, batch);
      assertEquals(refLoss, nat.forwardBackward(tok, batch), TOL_LOSS_TERNARY * refLoss, "loss");
      List<String> failures = new ArrayList<>();
      for (ParamLayout.Tensor t : nat.layout().tensors()) {
        compare(arch + " " + batch * spec.seqLen() + " tokens grad " + t.name(), nat.grads(),
            ref.grads(), (int) t.offset(), (int) t.size(), TOL_TERNARY, failures);
      }
      assertTrue(failures.isEmpty(), String.join("\n", failures));
    }
  }

  /** Prints the max difference and records a failure if it exceeds tol * max|want|. */
  private static void compare(String what, FloatBuffer got, FloatBuffer want, int off, int n,
      double tol, List<String> failures) {
    double scale = 0;
    double maxDiff = 0;
    int worst = off;
    for (int i = off; i < off + n; i++) {
      scale = Math.max(scale, Math.abs(want.get(i)));
      double d = Math.abs(got.get(i) - want.get(i));
      if (!(d <= maxDiff)) {
        maxDiff = d;
        worst = i;
      }
    }
    double allowed = tol * Math.max(scale, 1e-30);
    System.out.printf("  %-58s max diff %.3e (%.3f of tolerance; scale %.3e)%n", what, maxDiff,
        maxDiff / allowed, scale);
    if (!(maxDiff <= allowed)) {
      failures.add(String.format(
          "%s: max diff %.3e > %.1e * %.3e at [%d]: native %.9g reference %.9g", what, maxDiff, tol,
          scale, worst - off, got.get(worst), want.get(worst)));
    }
  }

  @Test
  void layoutIsParamLayoutAndBuffersAreTheModelsMemory() {
    for (ModelSpec spec : new ModelSpec[] {spec("transformer", "ternary"), spec("ffn", "none"),
        spec("transformer", "ternary", true), spec("ffn", "none", true),
        new ModelSpec(ModelSpec.Arch.FFN, 1024, 192, 6, null, 384, 256,
            ModelSpec.Quant.TERNARY, false, null, null, null, null, null)}) {
      try (NativeModel m = NativeModel.create(spec, 1)) {
        assertEquals(ParamLayout.of(spec).tensors(), m.layout().tensors());
        assertEquals(m.layout().size(), m.params().capacity());
        assertEquals(spec.parameterCount(), m.params().capacity());
        assertEquals(m.params().capacity(), m.grads().capacity());
        assertTrue(m.params().isDirect() && m.grads().isDirect());
        assertSame(m.params(), m.params());
      }
    }
    // the alphas come after everything else: the switch leaves the other offsets alone
    for (String arch : new String[] {"transformer", "ffn"}) {
      List<ParamLayout.Tensor> on = ParamLayout.of(spec(arch, "ternary", true)).tensors();
      List<ParamLayout.Tensor> off = ParamLayout.of(spec(arch, "ternary", false)).tensors();
      assertEquals(off, on.subList(0, off.size()));
      int alphas = on.size() - off.size();
      assertEquals(2 * (arch.equals("ffn") ? 2 : 7), alphas);
      for (ParamLayout.Tensor t : on.subList(off.size(), on.size())) {
        assertTrue(t.name().endsWith("_proj.alpha") && t.size() == 1 && !t.decay(), t.toString());
      }
      assertEquals("model.layers.1.mlp.down_proj.alpha", on.get(on.size() - 1).name());
    }
  }

  @Test
  void errorsNameTheProblem() {
    ModelSpec spec = spec("transformer", "ternary");
    try (NativeModel m = NativeModel.create(spec, 2)) {
      int[] tok = tokens(spec, 2, 3);
      tok[spec.seqLen() + 1 + 4] = 1000;
      NativeException e = assertThrows(NativeException.class, () -> m.loss(tok, 2));
      assertTrue(e.getMessage().contains("id 1000 at row 1 position 4"), e.getMessage());
      assertEquals(NativeException.EINVAL, e.code());
      assertThrows(IllegalArgumentException.class, () -> m.forwardBackward(tok, 3));
      assertThrows(IllegalArgumentException.class, () -> m.forwardBackward(new int[5], 1));
      assertThrows(IllegalArgumentException.class, () -> m.lastLogits(tok, 1, spec.seqLen() + 1));
      m.close();
      m.close();
      assertThrows(IllegalStateException.class, () -> m.loss(tok, 1));
    }
    NativeException e = assertThrows(NativeException.class, () -> NativeModel.create(spec, 0));
    assertTrue(e.getMessage().contains("max_batch 0"), e.getMessage());
  }

  @Test
  void aClosedModelsBuffersAndMethodsThrow() {
    NativeModel m = NativeModel.create(spec("ffn", "none"), 1);
    FloatBuffer params = m.params();
    FloatBuffer grads = m.grads();
    int n = params.capacity();
    m.close();
    m.close(); // idempotent
    assertThrows(IllegalStateException.class, m::params);
    assertThrows(IllegalStateException.class, m::grads);
    assertThrows(IllegalStateException.class, m::zeroGrads);
    assertThrows(IndexOutOfBoundsException.class, () -> params.get(0));
    assertThrows(IndexOutOfBoundsException.class, () -> grads.put(n - 1, 1f));
    assertThrows(IndexOutOfBoundsException.class, () -> params.slice(0, n));
    NativeException e = assertThrows(NativeException.class, () -> Native.scale(params, 0, n, 2f));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }

  @Test
  void gradientsAccumulateUntilZeroed() {
    ModelSpec spec = spec("ffn", "ternary");
    ReferenceTrainable ref = new ReferenceTrainable(spec, 5);
    try (NativeModel m = NativeModel.create(spec, 2)) {
      m.params().put(0, ref.params(), 0, ref.params().capacity());
      int[] tok = tokens(spec, 2, 9);
      float l1 = m.forwardBackward(tok, 2);
      float[] once = new float[m.grads().capacity()];
      m.grads().get(0, once);
      float l2 = m.forwardBackward(tok, 2);
      assertEquals(l1, l2, 0f, "same batch, same loss");
      assertEquals(l1, m.loss(tok, 2), 0f, "loss-only equals forward/backward");
      for (int i = 0; i < once.length; i += 97) {
        assertEquals(2 * once[i], m.grads().get(i), 1e-6 * Math.abs(once[i]) + 1e-12, "grad " + i);
      }
      m.zeroGrads();
      for (int i = 0; i < once.length; i += 97) {
        assertEquals(0f, m.grads().get(i));
      }
    }
  }
}
