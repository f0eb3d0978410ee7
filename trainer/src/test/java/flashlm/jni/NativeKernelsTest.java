package flashlm.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.train.Kernels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The native update kernels against the Java twins, over odd lengths and offsets. */
class NativeKernelsTest {
  /** Same fp32 formulas, vectorised (a fused multiply-add may round once instead of twice). */
  private static final double TOL_UPDATE = 1e-6;
  /** Double sums of the same squares in another order. */
  private static final double TOL_SUM = 1e-12;
  private static final int[] SIZES = {1, 3, 7, 31, 33, 255, 1023};

  private final Kernels nat = new NativeKernels();
  private final SplittableRandom random = new SplittableRandom(3);

  private FloatBuffer direct(int n) {
    FloatBuffer b = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (int i = 0; i < n; i++) {
      b.put(i, (float) random.nextDouble(-1, 1));
    }
    return b;
  }

  private static FloatBuffer copy(FloatBuffer src) {
    FloatBuffer b = ByteBuffer.allocateDirect(src.capacity() * 4).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
    b.put(0, src, 0, src.capacity());
    return b;
  }

  private static double maxRelDiff(FloatBuffer a, FloatBuffer b) {
    double worst = 0;
    for (int i = 0; i < a.capacity(); i++) {
      double d = Math.abs(a.get(i) - b.get(i)) / (1 + Math.abs(b.get(i)));
      worst = d > worst || Double.isNaN(d) ? d : worst;
    }
    return worst;
  }

  @Test
  void updatesMatchJavaKernels() {
    for (int n : SIZES) {
      int off = n % 5;
      int total = n + off + 3; // the range sits inside the buffer: edges stay untouched
      FloatBuffer p = direct(total);
      FloatBuffer m = direct(total);
      FloatBuffer v = direct(total);
      for (int i = 0; i < total; i++) {
        v.put(i, Math.abs(v.get(i)));
      }
      FloatBuffer q = direct(total);
      FloatBuffer mom = direct(total);
      FloatBuffer p2 = copy(p);
      FloatBuffer m2 = copy(m);
      FloatBuffer v2 = copy(v);
      FloatBuffer q2 = copy(q);
      FloatBuffer mom2 = copy(mom);
      for (int step = 1; step <= 3; step++) {
        FloatBuffer g = direct(total);
        nat.adamw(p, g, m, v, off, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
        Kernels.JAVA.adamw(p2, g, m2, v2, off, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
        nat.sgdMomentum(q, g, mom, off, n, 5e-2f, 0.9f, 0.01f);
        Kernels.JAVA.sgdMomentum(q2, g, mom2, off, n, 5e-2f, 0.9f, 0.01f);
      }
      double dp = maxRelDiff(p, p2);
      double dm = maxRelDiff(q, q2);
      double dv = maxRelDiff(mom, mom2);
      System.out.printf("n %4d: adamw max diff %.3e, sgd params %.3e, momentum %.3e%n", n, dp, dm,
          dv);
      assertTrue(dp <= TOL_UPDATE && dm <= TOL_UPDATE && dv <= TOL_UPDATE,
          "n " + n + ": adamw " + dp + " sgd " + dm + " momentum " + dv);
      double s1 = nat.sumSquares(p, off, n);
      double s2 = Kernels.JAVA.sumSquares(p, off, n);
      assertEquals(s2, s1, TOL_SUM * s2, "sum of squares n " + n);
      nat.scale(p, off, n, -0.5f);
      Kernels.JAVA.scale(p2, off, n, -0.5f);
      assertTrue(maxRelDiff(p, p2) <= TOL_UPDATE, "scale");
    }
  }

  @Test
  void badBuffersAreReported() {
    FloatBuffer heap = FloatBuffer.allocate(8);
    FloatBuffer d = direct(8);
    NativeException e = assertThrows(NativeException.class, () -> nat.scale(heap, 0, 8, 2f));
    assertTrue(e.getMessage().contains("not a direct buffer"), e.getMessage());
    e = assertThrows(NativeException.class, () -> nat.sumSquares(d, 4, 5));
    assertTrue(e.getMessage().contains("[4, 9) outside its 8 elements"), e.getMessage());
    e = assertThrows(NativeException.class,
        () -> nat.adamw(d, d, d, d, 0, 8, 1f, 0.9f, 0.9f, 1e-8f, 0f, 0));
    assertTrue(e.getMessage().contains("step 0"), e.getMessage());
  }

  @Test
  void threadCountIsPerCallingThread() throws InterruptedException {
    int before = Native.numThreads();
    Native.check(Native.setNumThreads(1), "set threads");
    assertEquals(1, Native.numThreads());
    int[] other = new int[1];
    Thread t = new Thread(() -> other[0] = Native.numThreads());
    t.start();
    t.join();
    assertEquals(before, other[0], "another thread keeps the default");
    NativeException e = assertThrows(NativeException.class,
        () -> Native.check(Native.setNumThreads(0), "set threads"));
    assertTrue(e.getMessage().contains("at least 1"), e.getMessage());
    Native.check(Native.setNumThreads(before), "restore threads");
  }

  @Test
  void reportsItsInstructionSet() {
    String isa = NativeKernels.isa();
    System.out.println("native kernels: " + isa);
    assertTrue(isa.equals("avx2") || isa.equals("neon") || isa.equals("scalar"), isa);
  }
}
