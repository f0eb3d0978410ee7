package flashlm.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.config.Configs;
import flashlm.model.ModelSpec;
import flashlm.reference.ReferenceModel;
import flashlm.train.AlphaValues;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import flashlm.train.ForgedCheckpoints;
import flashlm.model.ParamLayout;
import flashlm.train.TrainConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ExporterTest {
  /** Attention scores from float weights in double: only summation order differs. */
  private static final double SCORE_TOLERANCE = 1e-9;
  /**
   * Logits of the exported (alpha-folded) weights against the model with its alphas, relative to
   * the largest logit: {@code alpha W} is rounded to fp32 once (relative 6e-8), and the scales
   * computed from it differ by as little; no weight or activation sits that close to a rounding
   * boundary at these sizes, so what is left is that rounding carried through the layers.
   */
  private static final double FOLD_TOLERANCE = 1e-6;

  @TempDir
  Path dir;

  private final Configuration conf = new Configuration();

  private TrainConfig config(String arch, String... extra) {
    List<String> o = new ArrayList<>(List.of("model.arch=" + arch, "model.vocab_size=40",
        "model.d_model=8", "model.n_layers=2", "model.n_heads=2", "model.ffn_dim=12",
        "model.seq_len=16", "model.rope_theta=100", "data.table=t", "data.batch_size=1",
        "max_steps=1"));
    o.addAll(List.of(extra));
    return Configs.load(null, TrainConfig.class, o);
  }

  /** A checkpoint of random weights at {@code step} in {@code ckpt}; returns the weights. */
  private float[] checkpoint(TrainConfig c, String ckpt, long step) {
    ParamLayout layout = ParamLayout.of(c.model());
    int n = (int) layout.size();
    float[] w = new float[n];
    SplittableRandom r = new SplittableRandom(step);
    for (int i = 0; i < n; i++) {
      w[i] = (float) r.nextGaussian();
    }
    AlphaValues.set(c.model(), FloatBuffer.wrap(w));
    Checkpoint.Header h = Checkpoint.Header.untrained(c, step, "table", 4, layout.tensors(), n,
        2L * n);
    Checkpoint.write(conf, new CheckpointDir(conf, ckpt).path(step), h, FloatBuffer.wrap(w),
        FloatBuffer.allocate(2 * n));
    return w;
  }

  /** A parsed safetensors file: header entries in file order, and the data section. */
  private record Parsed(Map<String, JsonNode> entries, JsonNode metadata, ByteBuffer data) {
    float[] tensor(String name) {
      JsonNode e = entries.get(name);
      int begin = e.get("data_offsets").get(0).asInt();
      int end = e.get("data_offsets").get(1).asInt();
      float[] out = new float[(end - begin) / 4];
      data.slice(begin, end - begin).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
      return out;
    }
  }

  private static Parsed parse(Path file) throws Exception {
    ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    long n = all.getLong();
    assertEquals(0, n % 8, "header length padded to 8");
    String json = new String(all.array(), 8, (int) n, StandardCharsets.UTF_8);
    JsonNode header = new ObjectMapper().readTree(json);
    Map<String, JsonNode> entries = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getKey().equals("__metadata__")) {
        entries.put(e.getKey(), e.getValue());
      }
    }
    return new Parsed(
        entries, header.get("__metadata__"), all.slice(8 + (int) n, all.capacity() - 8 - (int) n));
  }

  @Test
  void transformerAsLlamaSafetensors() throws Exception {
    TrainConfig c = config("transformer");
    ModelSpec spec = c.model();
    String ckpt = dir.resolve("ckpt").toString();
    checkpoint(c, ckpt, 3);
    float[] w = checkpoint(c, ckpt, 7);
    Exporter.Result r = Exporter.export(conf, ckpt, dir.resolve("hf").toString());
    assertEquals(7, r.step());

    Parsed p = parse(dir.resolve("hf/model.safetensors"));
    ParamLayout layout = ParamLayout.of(spec);
    assertEquals(layout.tensors().stream().map(ParamLayout.Tensor::name).toList(),
        new ArrayList<>(p.entries().keySet()));
    assertFalse(p.entries().containsKey("lm_head.weight"));
    assertEquals("pt", p.metadata().get("format").asText());
    assertEquals("7", p.metadata().get("flashlm.step").asText());
    long offset = 0;
    for (ParamLayout.Tensor t : layout.tensors()) {
      JsonNode e = p.entries().get(t.name());
      assertEquals("F32", e.get("dtype").asText());
      int[] shape = new ObjectMapper().convertValue(e.get("shape"), int[].class);
      assertEquals(
          java.util.Arrays.toString(t.shape()), java.util.Arrays.toString(shape), t.name());
      assertEquals(offset, e.get("data_offsets").get(0).asLong(), t.name());
      offset += t.size() * 4;
      assertEquals(offset, e.get("data_offsets").get(1).asLong(), t.name());
      float[] got = p.tensor(t.name());
      if (!t.name().contains("q_proj") && !t.name().contains("k_proj")) {
        for (int i = 0; i < got.length; i++) {
          assertEquals(w[(int) t.offset() + i], got[i], 0f, t.name() + "[" + i + "]");
        }
      }
    }
    assertEquals(offset, p.data().capacity());

    for (int layer = 0; layer < 2; layer++) {
      String pre = "model.layers." + layer + ".self_attn.";
      assertSameScores(spec, slice(w, layout.get(pre + "q_proj.weight")),
          slice(w, layout.get(pre + "k_proj.weight")), p.tensor(pre + "q_proj.weight"),
          p.tensor(pre + "k_proj.weight"));
    }

    JsonNode cfg = new ObjectMapper().readTree(dir.resolve("hf/config.json").toFile());
    assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).asText());
    assertEquals(8, cfg.get("hidden_size").asInt());
    assertEquals(12, cfg.get("intermediate_size").asInt());
    assertEquals(2, cfg.get("num_hidden_layers").asInt());
    assertEquals(2, cfg.get("num_attention_heads").asInt());
    assertEquals(2, cfg.get("num_key_value_heads").asInt(), cfg.toString());
    assertEquals(40, cfg.get("vocab_size").asInt());
    assertEquals(16, cfg.get("max_position_embeddings").asInt());
    assertEquals(1e-5, cfg.get("rms_norm_eps").asDouble());
    assertEquals(100.0, cfg.get("rope_theta").asDouble());
    assertTrue(cfg.get("tie_word_embeddings").asBoolean());
    assertEquals("ternary", cfg.get("flashlm").get("quant").asText());
    assertEquals(7, cfg.get("flashlm").get("step").asInt());
  }

  @Test
  void llamaKeysAreNotMaskedAsCredentialsButTheRunsPathsAreRedacted() throws Exception {
    // The config names a table whose path carries something shaped like a hub token; the
    // provenance copies that path into config.json, which leaves the machine with the model.
    String token = "hf_" + "A1b2C3d4E5f6G7h8I9j0K1l2";
    TrainConfig c = config("transformer");
    ParamLayout layout = ParamLayout.of(c.model());
    int n = (int) layout.size();
    String ckpt = dir.resolve("ck").toString();
    Checkpoint.Header h = Checkpoint.Header.untrained(c, 3, "s3a://bucket/" + token + "/seq", 4,
        layout.tensors(), n, 2L * n);
    Checkpoint.write(conf, new CheckpointDir(conf, ckpt).path(3), h, FloatBuffer.allocate(n),
        FloatBuffer.allocate(2 * n));
    Exporter.export(conf, ckpt, dir.resolve("hf").toString());

    String text = Files.readString(dir.resolve("hf/config.json"));
    JsonNode cfg = new ObjectMapper().readTree(text);
    // num_key_value_heads has the word "key" in its name; transformers needs its value
    assertEquals(2, cfg.get("num_key_value_heads").asInt(), text);
    assertFalse(text.contains(token), text);
    assertTrue(cfg.get("flashlm").get("table").asText().startsWith("s3a://bucket/"), text);
  }

  private static float[] slice(float[] w, ParamLayout.Tensor t) {
    return java.util.Arrays.copyOfRange(w, (int) t.offset(), (int) (t.offset() + t.size()));
  }

  /** q.k per head at positions (5, 2): trainer RoPE on the originals = Llama RoPE on the export. */
  private static void assertSameScores(
      ModelSpec spec, float[] q, float[] k, float[] qx, float[] kx) {
    int d = spec.dModel();
    int hd = spec.headDim();
    double[] x = new SplittableRandom(9).doubles(d).toArray();
    double[] ours = scores(spec, rope(matvec(q, x, d), 5, hd, spec.ropeTheta(), false),
        rope(matvec(k, x, d), 2, hd, spec.ropeTheta(), false));
    double[] llama = scores(spec, rope(matvec(qx, x, d), 5, hd, spec.ropeTheta(), true),
        rope(matvec(kx, x, d), 2, hd, spec.ropeTheta(), true));
    for (int h = 0; h < ours.length; h++) {
      assertEquals(ours[h], llama[h], SCORE_TOLERANCE, "head " + h + " score");
    }
  }

  private static double[] matvec(float[] w, double[] x, int cols) {
    double[] y = new double[w.length / cols];
    for (int r = 0; r < y.length; r++) {
      for (int c = 0; c < cols; c++) {
        y[r] += w[r * cols + c] * x[c];
      }
    }
    return y;
  }

  /** Interleaved pairs (2i, 2i+1), or Llama's rotate-half pairs (i, i + hd/2). */
  private static double[] rope(double[] v, int pos, int hd, double theta, boolean halves) {
    double[] out = v.clone();
    for (int h = 0; h < v.length / hd; h++) {
      for (int i = 0; i < hd / 2; i++) {
        double a = pos * Math.pow(theta, -2.0 * i / hd);
        int x0 = h * hd + (halves ? i : 2 * i);
        int x1 = h * hd + (halves ? i + hd / 2 : 2 * i + 1);
        out[x0] = v[x0] * Math.cos(a) - v[x1] * Math.sin(a);
        out[x1] = v[x0] * Math.sin(a) + v[x1] * Math.cos(a);
      }
    }
    return out;
  }

  private static double[] scores(ModelSpec spec, double[] q, double[] k) {
    double[] s = new double[spec.nHeads()];
    for (int i = 0; i < q.length; i++) {
      s[i / spec.headDim()] += q[i] * k[i];
    }
    return s;
  }

  @Test
  void ffnIsNotCalledLlama() throws Exception {
    TrainConfig c = config("ffn");
    String ckpt = dir.resolve("ffn").toString();
    float[] w = checkpoint(c, ckpt, 1);
    Exporter.Result r = Exporter.export(conf, new CheckpointDir(conf, ckpt).path(1),
        dir.resolve("out").toString());
    Parsed p = parse(dir.resolve("out/model.safetensors"));
    assertEquals(List.of("model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
        "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.1.input_layernorm.weight", "model.layers.1.mlp.up_proj.weight",
        "model.layers.1.mlp.down_proj.weight", "model.norm.weight"),
        new ArrayList<>(p.entries().keySet()));
    float[] all = new float[w.length];
    p.data().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(all);
    for (int i = 0; i < w.length; i++) {
      assertEquals(Float.floatToRawIntBits(w[i]), Float.floatToRawIntBits(all[i]), "value " + i);
    }
    JsonNode cfg = new ObjectMapper().readTree(dir.resolve("out/config.json").toFile());
    assertEquals("FlashLMFFN", cfg.get("architectures").get(0).asText());
    assertFalse(cfg.has("num_attention_heads"));
    assertTrue(cfg.get("flashlm").get("note").asText().contains("not a Llama model"));
    assertEquals(w.length, r.parameters());

    IllegalArgumentException none =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Exporter.export(
                    conf, dir.resolve("missing").toString(), dir.resolve("x").toString()));
    assertTrue(none.getMessage().contains("checkpoint not found"), none.getMessage());
  }

  /**
   * Learnable alpha folded into the weights: no alpha tensors, every linear's weight is {@code
   * alpha W} (ternary codes {@code sign(alpha) Wq}), and the exported weights, through the
   * reference model without alpha, give the logits of the model with its alphas.
   */
  @ParameterizedTest(name = "{0} quant={1}")
  @CsvSource({"transformer,ternary", "ffn,ternary", "transformer,none"})
  void learnableAlphaIsFoldedExactly(String arch, String quant) throws Exception {
    TrainConfig c = config(arch, "model.learnable_alpha=true", "model.quant=" + quant);
    ModelSpec spec = c.model();
    String ckpt = dir.resolve("alpha").toString();
    float[] w = checkpoint(c, ckpt, 5);
    Exporter.Result r = Exporter.export(conf, ckpt, dir.resolve("folded").toString());
    Parsed p = parse(dir.resolve("folded/model.safetensors"));

    ModelSpec plain = new ModelSpec(spec.arch(), spec.vocabSize(), spec.dModel(), spec.nLayers(),
        spec.nHeads(), spec.ffnDim(), spec.seqLen(), spec.quant(), false, spec.ropeTheta(),
        spec.normEps(), spec.initStd(), spec.backwardDx(), spec.backwardDw());
    ParamLayout with = ParamLayout.of(spec);
    ParamLayout without = ParamLayout.of(plain);
    assertEquals(without.tensors().stream().map(ParamLayout.Tensor::name).toList(),
        new ArrayList<>(p.entries().keySet()), "the plain architecture's tensors, no alphas");
    assertEquals(without.size(), r.parameters());

    ReferenceModel folded = new ReferenceModel(plain);
    for (ParamLayout.Tensor t : without.tensors()) {
      float[] got = p.tensor(t.name());
      if (t.name().endsWith("q_proj.weight") || t.name().endsWith("k_proj.weight")) {
        got = halvesToInterleaved(got, spec.nHeads(), spec.headDim(), t.shape()[1]);
      }
      float[] orig = slice(w, t);
      if (t.name().endsWith("_proj.weight")) {
        float alpha = w[(int) with.get(ParamLayout.alphaName(t.name())).offset()];
        int[] q = ternary(orig);
        int[] qFolded = ternary(got);
        for (int i = 0; i < got.length; i++) {
          assertEquals(alpha * orig[i], got[i], 0f, t.name() + "[" + i + "]");
          if (alpha != 0) {
            assertEquals((int) Math.signum(alpha) * q[i], qFolded[i], t.name() + " code " + i);
          }
        }
      } else {
        assertEquals(java.util.Arrays.toString(orig), java.util.Arrays.toString(got), t.name());
      }
      for (int i = 0; i < got.length; i++) {
        folded.params()[(int) t.offset() + i] = got[i];
      }
    }
    ReferenceModel original = new ReferenceModel(spec);
    for (int i = 0; i < w.length; i++) {
      original.params()[i] = w[i];
    }
    int[] tokens = new SplittableRandom(3).ints(2L * (spec.seqLen() + 1), 0, spec.vocabSize())
        .toArray();
    double[] want = new double[2 * spec.seqLen() * spec.vocabSize()];
    double[] got = new double[want.length];
    original.forward(tokens, 2, want);
    folded.forward(tokens, 2, got);
    double scale = 0;
    double maxDiff = 0;
    for (int i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    }
    System.out.printf("%s %s alpha folded: logits max diff %.3e (scale %.3e)%n", arch, quant,
        maxDiff, scale);
    assertTrue(maxDiff <= FOLD_TOLERANCE * scale, "logits max diff " + maxDiff + " > "
        + FOLD_TOLERANCE + " * " + scale);
  }

  /** BitNet b1.58 ternary codes clamp(rint(W/s), -1, 1), s = max(mean|W|, 1e-5), in double. */
  private static int[] ternary(float[] w) {
    double s = 0;
    for (float v : w) {
      s += Math.abs(v);
    }
    s = Math.max(s / w.length, 1e-5);
    int[] q = new int[w.length];
    for (int i = 0; i < w.length; i++) {
      q[i] = (int) Math.max(-1, Math.min(1, Math.rint(w[i] / s)));
    }
    return q;
  }

  /** The inverse of {@link Exporter#interleavedToHalves}. */
  private static float[] halvesToInterleaved(float[] w, int heads, int hd, int cols) {
    float[] out = new float[w.length];
    int half = hd / 2;
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < half; i++) {
        for (int j = 0; j < 2; j++) {
          int from = (h * hd + j * half + i) * cols;
          System.arraycopy(w, from, out, (h * hd + 2 * i + j) * cols, cols);
        }
      }
    }
    return out;
  }

  /**
   * A 1.9 KB file whose header describes a 6.4 GB model (layout and counts consistent, only the
   * file too short) is an error naming it, found before the export allocates the parameters.
   */
  @Test
  void aCheckpointThatClaimsMoreThanItHoldsIsAnErrorNotAnOutOfMemoryError() throws Exception {
    TrainConfig c = config("ffn", "model.vocab_size=65536", "model.d_model=16384",
        "model.ffn_dim=16384", "model.n_layers=1");
    ParamLayout layout = ParamLayout.of(c.model());
    long p = layout.size();
    assertTrue(4 * p > Runtime.getRuntime().maxMemory(), "claims more than this JVM holds");
    Path file = dir.resolve("ckpt/ckpt-0000000001.flm");
    Files.createDirectories(file.getParent());
    Files.write(file, ForgedCheckpoints.file(ForgedCheckpoints.header(c, layout.tensors(), p, 0),
        p, 0, 100, -1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Exporter.export(conf, file.toString(), dir.resolve("hf").toString()));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("truncated"),
        e.getMessage());
    assertFalse(Files.exists(dir.resolve("hf")));
  }
}
