package flashlm.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ConcurrentlyTest {
  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void resultsComeInInputOrderFromSeveralThreads() {
    List<Integer> items = IntStream.range(0, 40).boxed().toList();
    Set<String> threads = ConcurrentHashMap.newKeySet();
    List<Integer> out = Concurrently.map(items, 8, i -> {
      threads.add(Thread.currentThread().getName());
      sleep((i * 7) % 5);
      return i * i;
    });
    assertEquals(items.stream().map(i -> i * i).toList(), out);
    assertTrue(threads.size() > 1 && threads.size() <= 8, threads.toString());
  }

  @Test
  void theFirstFailureInInputOrderIsThrownEvenWhenALaterOneFailsFirst() {
    List<Integer> items = IntStream.range(0, 20).boxed().toList();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Concurrently.map(items, 8, i -> {
          if (i == 3) {
            sleep(200);
            throw new IllegalArgumentException("item 3");
          }
          if (i == 12) {
            throw new IllegalArgumentException("item 12");
          }
          return i;
        }));
    assertEquals("item 3", e.getMessage());
  }

  @Test
  void errorsAreRethrownAsThemselves() {
    AssertionError thrown = new AssertionError("boom");
    assertSame(thrown, assertThrows(AssertionError.class, () -> Concurrently.map(List.of(1, 2), 2,
        i -> {
          throw thrown;
        })));
  }

  @Test
  void runGivesEachPartAThreadOfItsOwn() {
    // both parts wait for each other: they finish only if they run at the same time
    CyclicBarrier both = new CyclicBarrier(2);
    Supplier<String> part = () -> {
      try {
        both.await(30, TimeUnit.SECONDS);
        return Thread.currentThread().getName();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
    List<String> names = Concurrently.run(List.of(part, part));
    assertEquals(2, Set.copyOf(names).size(), names.toString());
  }

  @Test
  void oneItemOrNoneRunsOnTheCallingThread() {
    Thread caller = Thread.currentThread();
    assertEquals(List.of(true),
        Concurrently.map(List.of(1), 8, i -> Thread.currentThread() == caller));
    assertEquals(List.of(), Concurrently.map(List.<Integer>of(), 8, i -> i));
  }
}
