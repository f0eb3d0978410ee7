package flashlm.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

/** The communication natives: handles checked by kind and liveness, buffers as the kernels'. */
class CommBoundaryTest {
  private static long comm() {
    long[] h = new long[1];
    Native.check(Native.commCreate(h, 0, new String[] {""}, new byte[16], 0, 1, 1000), "create");
    return h[0];
  }

  @Test
  void aFreedOrMadeUpCommunicatorIsRefusedNotUsed() {
    long c = comm();
    assertEquals(0, Native.commFree(c));
    FloatBuffer x = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (long h : new long[] {c, 0x1234_5678L}) {
      assertEquals(NativeException.ESTATE, Native.commAllreduceSum(h, x, 0, 2));
      assertTrue(Native.lastError().contains("is not a live communicator"), Native.lastError());
      assertEquals(NativeException.ESTATE, Native.commBarrier(h));
      assertEquals(NativeException.ESTATE, Native.commClose(h));
      assertEquals(NativeException.ESTATE, Native.commFree(h));
      NativeException e = assertThrows(NativeException.class, () -> Native.commNotes(h));
      assertEquals(NativeException.ESTATE, e.code());
    }
    assertEquals(0, Native.commFree(0));
  }

  @Test
  void aListenerIsNotACommunicatorNorTheOtherWayRound() {
    long[] h = new long[1];
    int[] port = new int[1];
    Native.check(Native.listen(h, port, "127.0.0.1", 0), "listen");
    assertTrue(port[0] > 0);
    assertEquals(NativeException.ESTATE, Native.commBarrier(h[0]));
    long c = comm();
    assertEquals(NativeException.ESTATE, Native.listenerClose(c));
    assertEquals(0, Native.listenerClose(h[0]));
    assertEquals(NativeException.ESTATE, Native.listenerClose(h[0]));
    assertEquals(0, Native.commFree(c));
  }

  @Test
  void buffersAreCheckedAsTheKernelsCheckThem() {
    long c = comm();
    try {
      FloatBuffer heap = FloatBuffer.allocate(4);
      NativeException e = assertThrows(NativeException.class,
          () -> Native.commAllreduceSum(c, heap, 0, 4));
      assertTrue(e.getMessage().contains("buffer is not a direct buffer"), e.getMessage());
      FloatBuffer x = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder())
          .asFloatBuffer();
      assertThrows(NativeException.class, () -> Native.commAllreduceSum(c, x, 2, 3));
      assertThrows(NativeException.class,
          () -> Native.commAllreduceSum(c, x.asReadOnlyBuffer(), 0, 4));
      assertEquals(0, Native.commAllreduceSum(c, x, 0, 4)); // world 1: the identity
      assertEquals(NativeException.EINVAL, Native.commAllreduceDoubles(c, null, Native.OP_SUM));
      assertEquals(NativeException.EINVAL, Native.commAllreduceDoubles(c, new double[1], 7));
      assertEquals(NativeException.EINVAL, Native.commBroadcast(c, null, 0));
      assertTrue(Native.lastError().contains("bytes array is null"), Native.lastError());
    } finally {
      Native.commFree(c);
    }
  }

  @Test
  void creatingARingChecksItsArguments() {
    long[] h = new long[1];
    assertEquals(NativeException.EINVAL, Native.commCreate(h, 0, new String[] {"a:1", "b:2"},
        new byte[32], 0, 2, 1000));
    assertTrue(Native.lastError().contains("no listener"), Native.lastError());
    assertEquals(NativeException.EINVAL, Native.commCreate(h, 0, new String[0], new byte[16], 0,
        1, 1000));
    assertEquals(NativeException.EINVAL, Native.commCreate(h, 0, new String[] {""}, null, 0, 1,
        1000));
    assertEquals(NativeException.ESTATE, Native.commCreate(h, 0xdead_beefL, new String[] {"a:1",
        "b:2"}, new byte[32], 0, 2, 1000));
  }
}
