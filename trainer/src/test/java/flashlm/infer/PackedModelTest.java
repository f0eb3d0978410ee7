package flashlm.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.Configs;
import flashlm.export.ExportConfig;
import flashlm.export.Exporter;
import flashlm.hash.Sha256;
import flashlm.jni.NativeException;
import flashlm.model.Init;
import flashlm.model.ModelSpec;
import flashlm.model.NativeModel;
import flashlm.train.TrainConfig;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PackedModelTest {
  /** bf16 embedding (8 bits of mantissa) against fp32, relative to the largest logit. */
  private static final double BF16_TOLERANCE = 3e-2;

  @TempDir
  Path dir;

  private final Configuration conf = new Configuration();

  /** A checkpoint of seeded weights and its packed export; returns the packed file's path. */
  private String exportPacked(TrainConfig c, NativeModel m, String name, String... set) {
    String ckpt = Tiny.checkpoint(c, m.params(), dir.resolve(name).toString(), 5, 0);
    Exporter.Result r = Exporter.export(conf, new ExportConfig(ckpt, dir.resolve(name + "-out")
        .toString(), ExportConfig.Format.PACKED, set.length > 0 ? Embedding.of(set[0]) : null,
        null));
    return r.primary();
  }

  @ParameterizedTest
  @ValueSource(strings = {"transformer", "ffn", "float"})
  void greedyGenerationFromThePackedFileEqualsGreedyFromTheTrainingForward(String kind)
      throws Exception {
    String table = Tiny.table(dir.resolve("table"), dir.resolve("tokenizer.json"), Tiny.TOKENIZER);
    TrainConfig c = Tiny.config(kind, table);
    int[] prompt = {3, 17, 5, 40, 9};
    List<Integer> fromForward = new ArrayList<>();
    try (NativeModel m = Tiny.model(c.model(), 7)) {
      String packed = exportPacked(c, m, kind);
      int[] ctx = Arrays.copyOf(prompt, 70);
      for (int len = prompt.length; len < 70; len++) {
        ctx[len] = Tiny.argmax(m.lastLogits(ctx, 1, len));
        fromForward.add(ctx[len]);
      }
      PackedFile.Contents f = PackedFile.read(conf, packed);
      assertArrayEquals(Tiny.TOKENIZER, f.tokenizer(), "the tokenizer travels in the file");
      assertEquals(2, f.header().tokenizer().eosId());
      List<Integer> fromPacked = new ArrayList<>();
      try (PackedModel p = f.load()) {
        Generator.Result r = Generator.generate(p, prompt, 70 - prompt.length, Sampling.greedy(),
            Generator.Context.REFUSE, -1, fromPacked::add);
        assertEquals("max_new_tokens", r.stopReason());
        assertEquals(fromForward, fromPacked, "greedy tokens, packed file vs training forward");
        // and the logits themselves: the same bits at every position of that text
        p.reset();
        for (int len = 1; len <= 70; len++) {
          float[] got = p.forward(new int[] {ctx[len - 1]}, 1);
          assertArrayEquals(m.lastLogits(ctx, 1, len), got, "logits at length " + len);
        }
      }
    }
  }

  /**
   * The shipped configs at their real sizes (v6.1, v7-ts and the float baseline): packed weights
   * decode, token by token from the KV cache, with the training forward's logits.
   */
  @ParameterizedTest
  @ValueSource(strings = {"v6.1", "v7-ts", "v7-float"})
  void theShippedModelsDecodeWithTheirTrainingForwardsLogits(String name) {
    TrainConfig c = Configs.load(Path.of("../conf", name + ".json"), TrainConfig.class,
        List.of());
    ModelSpec spec = c.model();
    SplittableRandom r = new SplittableRandom(11);
    int[] ctx = new int[10];
    for (int i = 0; i < ctx.length; i++) {
      ctx[i] = r.nextInt(spec.vocabSize());
    }
    try (NativeModel m = NativeModel.create(spec, 1)) {
      Init.normal(m.params(), m.layout(), spec.initStd(), c.seed());
      try (PackedModel p = PackedModel.fromParams(spec, m.params(), Embedding.F32)) {
        for (int len = 1; len <= ctx.length; len++) {
          assertArrayEquals(m.lastLogits(ctx, 1, len), p.forward(new int[] {ctx[len - 1]}, 1),
              name + ": logits at length " + len);
        }
      }
    }
  }

  @Test
  void aCheckpointDirectoryLoadsAsTheSameModelWithItsTablesTokenizer() throws Exception {
    String table = Tiny.table(dir.resolve("table"), dir.resolve("tokenizer.json"), Tiny.TOKENIZER);
    TrainConfig c = Tiny.config("transformer", table);
    try (NativeModel m = Tiny.model(c.model(), 3)) {
      Tiny.checkpoint(c, m.params(), dir.resolve("ck").toString(), 4, 0);
      ModelSource src = ModelSource.open(conf, dir.resolve("ck").toString());
      assertEquals(4, src.step());
      assertArrayEquals(Tiny.TOKENIZER, src.requireTokenizer());
      try (PackedModel p = src.load()) {
        int[] tok = {1, 2, 3};
        assertArrayEquals(m.lastLogits(tok, 1, 3), p.forward(tok, 3));
      }
    }
  }

  @Test
  void aBf16EmbeddingHalvesTheEmbeddingBytesAndStaysClose() throws Exception {
    String table = Tiny.table(dir.resolve("table"), dir.resolve("tokenizer.json"), Tiny.TOKENIZER);
    TrainConfig c = Tiny.config("transformer", table);
    try (NativeModel m = Tiny.model(c.model(), 11)) {
      String f32 = exportPacked(c, m, "a");
      String bf16 = exportPacked(c, m, "b", "bf16");
      assertEquals(48 * 16 * 2, Files.size(Path.of(f32)) - Files.size(Path.of(bf16))
          - (PackedFile.headerJson(PackedFile.read(conf, f32).header()).length
          - PackedFile.headerJson(PackedFile.read(conf, bf16).header()).length));
      int[] tok = {4, 8, 15, 16, 23, 42};
      try (PackedModel p = PackedFile.read(conf, bf16).load()) {
        float[] want = m.lastLogits(tok, 1, tok.length);
        float[] got = p.forward(tok, tok.length);
        double max = 0;
        double scale = 0;
        for (int i = 0; i < want.length; i++) {
          max = Math.max(max, Math.abs(got[i] - want[i]));
          scale = Math.max(scale, Math.abs(want[i]));
        }
        assertTrue(max <= BF16_TOLERANCE * scale, "max difference " + max + " of " + scale);
      }
    }
  }

  @Test
  void theSameCheckpointExportsTheSameBytes() throws Exception {
    String table = Tiny.table(dir.resolve("table"), dir.resolve("tokenizer.json"), Tiny.TOKENIZER);
    TrainConfig c = Tiny.config("transformer", table);
    try (NativeModel m = Tiny.model(c.model(), 5)) {
      String ckpt = Tiny.checkpoint(c, m.params(), dir.resolve("ck").toString(), 9, 0);
      for (ExportConfig.Format format : ExportConfig.Format.values()) {
        Exporter.Result a = Exporter.export(conf, new ExportConfig(ckpt, dir.resolve("x-" + format)
            .toString(), format, null, null));
        Exporter.Result b = Exporter.export(conf, new ExportConfig(ckpt, dir.resolve("y-" + format)
            .toString(), format, null, null));
        assertEquals(a.files().size(), b.files().size());
        for (int i = 0; i < a.files().size(); i++) {
          assertEquals(Sha256.hex(Files.readAllBytes(Path.of(a.files().get(i)))),
              Sha256.hex(Files.readAllBytes(Path.of(b.files().get(i)))), a.files().get(i));
        }
      }
      // the safetensors metadata, the part a hash map used to order: keys sorted
      byte[] st = Files.readAllBytes(dir.resolve("x-HF/model.safetensors"));
      String header = new String(st, 8, 400, StandardCharsets.UTF_8);
      int format = header.indexOf("\"flashlm.arch\"");
      assertTrue(format > 0 && format < header.indexOf("\"flashlm.quant\"")
          && header.indexOf("\"flashlm.quant\"") < header.indexOf("\"flashlm.step\"")
          && header.indexOf("\"flashlm.step\"") < header.indexOf("\"format\""), header);
      assertTrue(Files.exists(dir.resolve("x-HF/tokenizer.json")));
      assertTrue(Files.readString(dir.resolve("x-HF/generation_config.json"))
          .contains("\"eos_token_id\" : 2"));
    }
  }

  @Test
  void aTruncatedOrCorruptedPackedFileIsRefusedNamingIt() throws Exception {
    String table = Tiny.table(dir.resolve("table"), dir.resolve("tokenizer.json"), Tiny.TOKENIZER);
    TrainConfig c = Tiny.config("ffn", table);
    try (NativeModel m = Tiny.model(c.model(), 2)) {
      String good = exportPacked(c, m, "g");
      byte[] bytes = Files.readAllBytes(Path.of(good));

      Path cut = dir.resolve("cut.flmpack");
      Files.write(cut, Arrays.copyOf(bytes, bytes.length - 1));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> PackedFile.read(conf, cut.toString()));
      assertTrue(e.getMessage().contains(cut.toString()) && e.getMessage().contains("truncated"),
          e.getMessage());

      Path flipped = dir.resolve("flip.flmpack");
      Files.write(flipped, bytes);
      try (RandomAccessFile f = new RandomAccessFile(flipped.toFile(), "rw")) {
        f.seek(bytes.length / 2);
        int b = f.read();
        f.seek(bytes.length / 2);
        f.write(b ^ 0x10);
      }
      e = assertThrows(IllegalArgumentException.class,
          () -> PackedFile.read(conf, flipped.toString()));
      assertTrue(e.getMessage().contains("checksum"), e.getMessage());

      Path other = dir.resolve("other.flmpack");
      Files.writeString(other, "not a model at all, but long enough to have a prefix......");
      e = assertThrows(IllegalArgumentException.class,
          () -> PackedFile.read(conf, other.toString()));
      assertTrue(e.getMessage().contains("not a FlashLM packed model"), e.getMessage());
    }
  }

  @Test
  void aContextPastSeqLenIsRefusedAndNothingIsAppended() throws Exception {
    TrainConfig c = Tiny.config("transformer", "t");
    try (NativeModel m = Tiny.model(c.model(), 1);
        PackedModel p = PackedModel.fromParams(c.model(), m.params(), Embedding.F32)) {
      int[] tok = new int[71];
      p.append(tok, 70);
      NativeException e = assertThrows(NativeException.class, () -> p.forward(tok, 1));
      assertTrue(e.getMessage().contains("seq_len"), e.getMessage());
      assertEquals(70, p.position());
      p.close();
      p.close(); // idempotent
      assertThrows(IllegalStateException.class, p::position);
    }
  }

  @Test
  void aModelWithoutATokenizerSaysWhy() throws Exception {
    TrainConfig c = Tiny.config("ffn", dir.resolve("gone").toString());
    try (NativeModel m = Tiny.model(c.model(), 1)) {
      Tiny.checkpoint(c, m.params(), dir.resolve("ck").toString(), 1, 0);
      ModelSource src = ModelSource.open(conf, dir.resolve("ck").toString());
      assertNull(src.tokenizer());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          src::requireTokenizer);
      assertTrue(e.getMessage().contains("gone"), e.getMessage());
    }
  }
}
