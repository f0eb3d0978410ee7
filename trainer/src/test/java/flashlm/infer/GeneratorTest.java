package flashlm.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.model.NativeModel;
import flashlm.train.TrainConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GeneratorTest {
  private final TrainConfig c = Tiny.config("transformer", "t");

  @Test
  void aContextLongerThanSeqLenIsRefusedUnlessItSlides() {
    try (NativeModel n = Tiny.model(c.model(), 6);
        PackedModel m = PackedModel.fromParams(c.model(), n.params(), Embedding.F32)) {
      int[] prompt = new int[60];
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Generator.generate(m, prompt, 11, Sampling.greedy(), Generator.Context.REFUSE,
              -1, t -> { }));
      assertTrue(e.getMessage().contains("context=slide"), e.getMessage());
      List<Integer> out = new ArrayList<>();
      Generator.Result r = Generator.generate(m, prompt, 100, Sampling.greedy(),
          Generator.Context.SLIDE, -1, out::add);
      assertEquals(100, r.tokens().length);
      assertEquals(100, out.size());
      assertTrue(r.slides() >= 2, "slides " + r.slides());
      assertTrue(m.position() <= 70);
    }
  }

  @Test
  void generationStopsAtEosAndAFixedSeedRepeatsTheText() {
    try (NativeModel n = Tiny.model(c.model(), 8);
        PackedModel m = PackedModel.fromParams(c.model(), n.params(), Embedding.F32)) {
      int[] prompt = {5, 6, 7};
      Sampling s = new Sampling(1.2, 0, 1.0, 1.0, 99L);
      Generator.Result a = Generator.generate(m, prompt, 60, s, Generator.Context.REFUSE, -1,
          t -> { });
      Generator.Result b = Generator.generate(m, prompt, 60, s, Generator.Context.REFUSE, -1,
          t -> { });
      assertArrayEquals(a.tokens(), b.tokens());
      int eos = a.tokens()[10];
      int first = 0;
      while (a.tokens()[first] != eos) {
        first++;
      }
      Generator.Result stopped = Generator.generate(m, prompt, 60, s, Generator.Context.REFUSE,
          eos, t -> { });
      assertEquals("eos", stopped.stopReason());
      assertEquals(first + 1, stopped.tokens().length);
    }
  }
}
