package flashlm.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The JNI boundary: typed buffers, ranges checked without overflow, bad buffers refused. */
class NativeBoundaryTest {
  private static final Set<Class<?>> BUFFERS = Set.of(FloatBuffer.class, IntBuffer.class);

  private static FloatBuffer direct(int n) {
    return ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
  }

  @Test
  void nativeMethodsTakeOnlyTypedBuffers() {
    List<String> bad = new ArrayList<>();
    for (Method m : Native.class.getDeclaredMethods()) {
      for (Class<?> p : m.getParameterTypes()) {
        boolean ok = p.isPrimitive() || (p.isArray() && p.getComponentType().isPrimitive())
            || p == String.class || p == String[].class || BUFFERS.contains(p);
        boolean publicBytes = Modifier.isPublic(m.getModifiers())
            && (Buffer.class.isAssignableFrom(p) && !BUFFERS.contains(p));
        if ((Modifier.isNative(m.getModifiers()) && !ok) || publicBytes) {
          bad.add(m.getName() + "(" + p.getSimpleName() + ")");
        }
      }
      Class<?> r = m.getReturnType();
      if (Modifier.isPublic(m.getModifiers()) && Buffer.class.isAssignableFrom(r)
          && !BUFFERS.contains(r)) {
        bad.add(m.getName() + " returns " + r.getSimpleName());
      }
    }
    assertEquals(List.of(), bad, "untyped buffers at the native boundary");
  }

  @Test
  void aByteBufferWhereFloatsAreExpectedIsRefused() throws Exception {
    Method scale = Native.class.getMethod("scale", FloatBuffer.class, long.class, long.class,
        float.class);
    ByteBuffer bytes = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    // Native.scale(bytes, 0, 8, 2f) does not compile; through reflection the JVM refuses it
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> scale.invoke(null, bytes, 0L, 8L, 2f));
    assertTrue(e.getMessage().contains("argument type mismatch"), e.getMessage());
    for (Method m : Native.class.getMethods()) {
      for (Class<?> p : m.getParameterTypes()) {
        assertNotEquals(ByteBuffer.class, p, m.getName());
      }
    }
  }

  @Test
  void aRangePastTheBufferIsRefused() throws Throwable {
    FloatBuffer d = direct(8);
    NativeException e = assertThrows(NativeException.class, () -> Native.scale(d, 4, 5, 2f));
    assertTrue(e.getMessage().contains("scale: buffer: range [4, 9) outside its 8 elements"),
        e.getMessage());
    assertEquals(NativeException.EINVAL, e.code());
    assertThrows(NativeException.class, () -> Native.scale(d, -1, 1, 2f));
    // the C side checks again, in bytes
    assertEquals(NativeException.EINVAL, scale0(d, 0, 9));
    assertTrue(Native.lastError().contains("outside its 8 floats (32 bytes)"),
        Native.lastError());
    assertEquals(NativeException.EINVAL, scale0(d, -1, 1));
    assertEquals(0, scale0(d, 8, 0), "an empty range at the end is fine");
  }

  @Test
  void anOverflowingOffsetOrCountIsRefused() throws Throwable {
    FloatBuffer d = direct(8);
    for (long[] r : new long[][] {{Long.MAX_VALUE, 1}, {Long.MAX_VALUE - 2, 8}, {4, Long.MAX_VALUE},
        {Long.MAX_VALUE / 2, Long.MAX_VALUE / 2 + 2}, {1L << 62, 1}, {1L << 61, 0}}) {
      String range = r[0] + " + " + r[1];
      NativeException e = assertThrows(NativeException.class,
          () -> Native.sumSquares(d, r[0], r[1], new double[1]), range);
      assertTrue(e.getMessage().contains("outside its 8 elements"), e.getMessage());
      assertEquals(NativeException.EINVAL, scale0(d, r[0], r[1]), "C side, " + range);
      assertTrue(Native.lastError().contains("outside its 8 floats"), Native.lastError());
    }
  }

  @Test
  void buffersInTheWrongByteOrderOrReadOnlyAreRefused() {
    ByteOrder other = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN
        : ByteOrder.BIG_ENDIAN;
    FloatBuffer swapped = ByteBuffer.allocateDirect(32).order(other).asFloatBuffer();
    double[] out = new double[1];
    NativeException e = assertThrows(NativeException.class,
        () -> Native.sumSquares(swapped, 0, 8, out));
    assertTrue(e.getMessage().contains("byte order"), e.getMessage());
    FloatBuffer d = direct(8);
    FloatBuffer readOnly = d.asReadOnlyBuffer();
    e = assertThrows(NativeException.class, () -> Native.scale(readOnly, 0, 8, 2f));
    assertTrue(e.getMessage().contains("scale: buffer is read-only"), e.getMessage());
    e = assertThrows(NativeException.class,
        () -> Native.adamw(d, d, readOnly, d, 0, 8, 1f, 0.9f, 0.9f, 1e-8f, 0f, 1));
    assertTrue(e.getMessage().contains("adamw: adam m is read-only"), e.getMessage());
    assertEquals(0, Native.sumSquares(readOnly, 0, 8, out), "reading a read-only buffer is fine");
  }

  @Test
  void freedOrUnknownModelHandlesAreRefused() {
    long[] h = new long[1];
    Native.check(Native.modelCreate(h, 1, 11, 8, 1, 0, 12, 4, false, false, 0, 0, 0, 1e-5, 1),
        "create");
    long[] n = new long[1];
    Native.check(Native.modelNumParams(h[0], n), "num params");
    assertTrue(n[0] > 0);
    Native.check(Native.modelFree(h[0]), "free");
    assertEquals(NativeException.ESTATE, Native.modelNumParams(h[0], n));
    assertTrue(Native.lastError().contains("not a live model"), Native.lastError());
    assertEquals(NativeException.ESTATE, Native.modelFree(h[0]), "a second free");
    assertEquals(NativeException.ESTATE, Native.modelZeroGrads(h[0]));
    assertEquals(NativeException.ESTATE, Native.modelRun(h[0], new int[5], 1, true,
        new float[1]));
    assertEquals(NativeException.ESTATE, Native.modelZeroGrads(12345));
    NativeException e = assertThrows(NativeException.class, () -> Native.modelBuffer(h[0], true));
    assertEquals(NativeException.ESTATE, e.code());
    assertEquals(0, Native.modelFree(0), "0 is no model");
  }

  @Test
  void tokenCountsAreComputedWithoutOverflow() {
    long[] h = new long[1];
    Native.check(Native.modelCreate(h, 1, 11, 8, 1, 0, 12, 4, false, false, 0, 0, 0, 1e-5, 1),
        "create");
    try {
      // (1 << 30) rows of seq_len + 1 = 5 tokens: 5368709120, which wraps in 32 bits
      assertEquals(NativeException.EINVAL, Native.modelRun(h[0], new int[5], 1 << 30, false,
          new float[1]));
      assertTrue(Native.lastError().contains("holds 5 elements, need 5368709120"),
          Native.lastError());
      assertEquals(NativeException.EINVAL, Native.modelLastLogits(h[0], new int[8], 1 << 30, 4,
          new float[11]));
      assertTrue(Native.lastError().contains("need 11811160064"), Native.lastError());
    } finally {
      Native.check(Native.modelFree(h[0]), "free");
    }
  }

  /** Native.scale's C half, past the Java checks. */
  private static int scale0(FloatBuffer b, long offset, long count) throws Throwable {
    Method m = Native.class.getDeclaredMethod("scale0", FloatBuffer.class, long.class, long.class,
        float.class);
    m.setAccessible(true);
    try {
      return (Integer) m.invoke(null, b, offset, count, 2f);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
