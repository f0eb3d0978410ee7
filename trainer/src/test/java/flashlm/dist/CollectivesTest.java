package flashlm.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.jni.Native;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class CollectivesTest {
  private static final Rendezvous NONE = m -> List.of(m);

  @Test
  void cpuRingIsTheRing() {
    try (Collective c = Collectives.connect(CommBackend.CPU_RING, NONE, 0, 1, null, null,
        Duration.ofSeconds(5))) {
      assertInstanceOf(RingCollective.class, c);
      assertEquals(1, c.worldSize());
    }
  }

  /** On a machine without NCCL or HCCL: the error names the library looked for. */
  @Test
  void ncclAndHcclWithoutTheirLibrariesSayWhichLibraryWasLookedFor() {
    for (CommBackend b : List.of(CommBackend.NCCL, CommBackend.HCCL)) {
      String lib = Collectives.libraries(b).get(0);
      Assumptions.assumeTrue(Native.libraryProbe(lib) != 0, lib + " is installed here");
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
          () -> Collectives.connect(b, NONE, 0, 2, RankThreads.SECRET, "127.0.0.1",
              Duration.ofSeconds(5)));
      assertTrue(e.getMessage().startsWith("distributed.backend " + b.id() + " needs the ")
          && e.getMessage().contains("tried " + lib + " (" + lib + ": cannot open shared object")
          && e.getMessage().contains("set distributed.backend=cpu-ring"), e.getMessage());
    }
  }

  @Test
  void theProbeLoadsWhatTheLoaderFinds() {
    assertEquals(0, Native.libraryProbe("libm.so.6"), Native.lastError());
    assertNotEquals(0, Native.libraryProbe("libflashlm-no-such-library.so"));
    assertTrue(Native.lastError().contains("libflashlm-no-such-library.so"), Native.lastError());
  }

  @Test
  void backendNamesAreTheConfigIds() {
    assertEquals("cpu-ring", CommBackend.CPU_RING.id());
    assertEquals(CommBackend.HCCL, CommBackend.of("hccl"));
  }
}
