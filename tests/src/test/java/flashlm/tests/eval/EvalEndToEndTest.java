package flashlm.tests.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import flashlm.config.Configs;
import flashlm.jobs.Launcher;
import flashlm.model.Init;
import flashlm.model.NativeModel;
import flashlm.model.ParamLayout;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import flashlm.train.TrainConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flashlm eval} and {@code flashlm generate} through the launcher on a real documents
 * table and sequences table (LLaMA-2 tokenizer) whose validation stories hold multi-byte UTF-8
 * and emoji: characters are Unicode code points, counted independently from the UTF-8 bytes; a
 * model of zero weights costs exactly ln(32000) per token; a random model's loss is the sum of
 * the training forward's per-token losses over the same documents.
 */
class EvalEndToEndTest {
  /** Sums of per-token losses in another order. */
  private static final double TOLERANCE = 1e-6;
  private static final int SEQ_LEN = 64;
  private static final List<String> DOCS = List.of(
      "Café au lait for a naïve façade, déjà vu.",
      "The dragon 🐉 threw a party 🎉🎉 in 漢字 land, and everyone came.",
      "A plain story about a cat who sat on a mat.",
      "Ünïcödé everywhere: ß, æ, ø, and the emoji 👩‍💻 (a joined sequence).",
      "Tom had a red ball. He threw it high and it came down on the roof.");

  @TempDir
  static Path dir;

  private static String table;

  @BeforeAll
  static void tables() throws Exception {
    SparkSession spark = SparkTestSession.get();
    Path raw = dir.resolve("raw/valid.txt");
    Files.createDirectories(raw.getParent());
    Files.writeString(raw, String.join("\n<|endoftext|>\n", DOCS) + "\n");
    DatasetPaths paths = new DatasetPaths(dir.resolve("data").toString());
    Ingest.run(spark, paths, new IngestConfig("text", "eval-test", List.of(raw.toString()), null,
        null, null, List.of("*valid*"), null, null));
    Tokenize.run(spark, paths, TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString()).withPacking(SEQ_LEN, 1));
    table = paths.sequences();
  }

  private static TrainConfig config() {
    return config(SEQ_LEN);
  }

  private static TrainConfig config(int seqLen) {
    return Configs.load(null, TrainConfig.class, List.of("model.arch=transformer",
        "model.vocab_size=32000", "model.d_model=16", "model.n_layers=1", "model.n_heads=2",
        "model.ffn_dim=24", "model.seq_len=" + seqLen, "data.table=" + table,
        "data.batch_size=1", "max_steps=1"));
  }

  /** A checkpoint of {@code params} in a fresh directory that records the table, version 0. */
  private static String checkpoint(String name, FloatBuffer params) {
    return checkpoint(name, params, config());
  }

  private static String checkpoint(String name, FloatBuffer params, TrainConfig c) {
    ParamLayout layout = ParamLayout.of(c.model());
    int n = (int) layout.size();
    float[] w = new float[n];
    params.duplicate().position(0).get(w);
    String ckpt = dir.resolve(name).toString();
    Checkpoint.Header h = Checkpoint.Header.untrained(c, 3, table, 0, layout.tensors(), n,
        2L * n);
    Configuration conf = new Configuration();
    Checkpoint.write(conf, new CheckpointDir(conf, ckpt).path(3), h, FloatBuffer.wrap(w),
        FloatBuffer.allocate(2 * n));
    return ckpt;
  }

  record Run(int status, String out, String err) {}

  /** Runs a command through the launcher, with what it prints (System.out, System.err). */
  static Run launch(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
    PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream sysOut = System.out;
    PrintStream sysErr = System.err;
    int rc;
    synchronized (System.class) {
      System.setOut(o);
      System.setErr(e);
      try {
        rc = Launcher.run(null, args, o, e);
      } finally {
        System.setOut(sysOut);
        System.setErr(sysErr);
      }
    }
    return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static List<Row> evals(String path) {
    return SparkTestSession.get().read().format("delta").load(path).orderBy("evaluated_at")
        .collectAsList();
  }

  /** Code points counted from the UTF-8 bytes: every byte that does not continue a sequence. */
  private static long codePoints(String s) {
    long n = 0;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      if ((b & 0xC0) != 0x80) {
        n++;
      }
    }
    return n;
  }

  @Test
  void bitsPerCharacterCountCodePointsAndAZeroModelCostsLnVocabPerToken() throws Exception {
    FloatBuffer zero = FloatBuffer.allocate((int) ParamLayout.of(config().model()).size());
    String ckpt = checkpoint("zero", zero);
    String evalsPath = dir.resolve("evals-zero").toString();
    Run r = launch("eval", "--conf", "../conf/eval.yaml", "--set", "model=" + ckpt, "--set",
        "evals=" + evalsPath);
    assertEquals(0, r.status(), r.err());
    List<Row> rows = evals(evalsPath);
    assertEquals(1, rows.size());
    Row row = rows.get(0);

    long chars = 0;
    long utf16 = 0;
    long bytes = 0;
    long tokens = 0;
    try (HuggingFaceTokenizer tok = Llama2Fixture.direct()) {
      for (String d : DOCS) {
        chars += codePoints(d);
        utf16 += d.length();
        bytes += d.getBytes(StandardCharsets.UTF_8).length;
        tokens += tok.encode(d).getIds().length + 1; // and its EOS, given the one before
      }
    }
    assertEquals(DOCS.size(), row.<Long>getAs("documents"));
    assertEquals(chars, row.<Long>getAs("characters"));
    assertNotEquals(utf16, chars, "emoji are two UTF-16 units: the fixture must tell them apart");
    assertNotEquals(bytes, chars, "accents are two UTF-8 bytes: the fixture must tell them apart");
    assertEquals(tokens, row.<Long>getAs("tokens"));
    double lnV = Math.log(32000);
    assertEquals(lnV, row.<Double>getAs("loss"), TOLERANCE * lnV);
    assertEquals(32000, row.<Double>getAs("ppl"), 32000 * TOLERANCE);
    assertEquals(tokens * lnV / (chars * Math.log(2)), row.<Double>getAs("bpc"), 1e-5);
    assertTrue(r.out().contains("bpc"), r.out());

    // the same evaluation again appends nothing
    Run again = launch("eval", "--conf", "../conf/eval.yaml", "--set", "model=" + ckpt, "--set",
        "evals=" + evalsPath);
    assertEquals(0, again.status(), again.err());
    assertTrue(again.err().contains("unchanged"), again.err());
    assertEquals(1, evals(evalsPath).size());
  }

  @Test
  void aModelOfAnotherContextIsEvaluatedInWindowsScoringEveryTokenOnce() throws Exception {
    // seq_len 8 on a table of 64-token rows: the parameter layout does not depend on seq_len,
    // and documents longer than 8 tokens are read in windows; a zero model costs ln V a token
    TrainConfig c = config(8);
    String ckpt = checkpoint("short", FloatBuffer.allocate((int) ParamLayout.of(c.model())
        .size()), c);
    String evalsPath = dir.resolve("evals-short").toString();
    Run r = launch("eval", "--conf", "../conf/eval.yaml", "--set", "model=" + ckpt, "--set",
        "evals=" + evalsPath, "--set", "stride=3");
    assertEquals(0, r.status(), r.err());
    Row row = evals(evalsPath).get(0);
    long tokens = 0;
    try (HuggingFaceTokenizer tok = Llama2Fixture.direct()) {
      for (String d : DOCS) {
        tokens += tok.encode(d).getIds().length + 1;
        assertTrue(tok.encode(d).getIds().length > 8, "the fixture needs long documents: " + d);
      }
    }
    assertEquals(tokens, row.<Long>getAs("tokens"));
    assertEquals(8, row.<Integer>getAs("context"));
    assertEquals(3, row.<Integer>getAs("stride"));
    assertEquals(Math.log(32000), row.<Double>getAs("loss"), TOLERANCE * Math.log(32000));
  }

  @Test
  void aModelsLossIsTheSumOfTheTrainingForwardsLossesOverTheSameDocuments() throws Exception {
    TrainConfig c = config();
    try (NativeModel m = NativeModel.create(c.model(), 1)) {
      Init.normal(m.params(), m.layout(), 0.3, 5);
      String ckpt = checkpoint("random", m.params());
      String evalsPath = dir.resolve("evals-random").toString();
      Run r = launch("eval", "--conf", "../conf/eval.yaml", "--set", "model=" + ckpt, "--set",
          "evals=" + evalsPath, "--max-documents", "3");
      assertEquals(0, r.status(), r.err());
      Row row = evals(evalsPath).get(0);
      assertEquals(3L, row.<Long>getAs("documents"));
      assertEquals(3, row.<Integer>getAs("max_documents"));

      // the first three validation documents by doc_id, scored one prefix at a time
      List<String> texts = new ArrayList<>();
      for (Row d : SparkTestSession.get().read().format("delta").load(dir.resolve("data/documents")
          .toString()).orderBy("doc_id").limit(3).collectAsList()) {
        texts.add(d.getAs("text"));
      }
      double nll = 0;
      long tokens = 0;
      long chars = 0;
      try (HuggingFaceTokenizer tok = Llama2Fixture.direct()) {
        for (String text : texts) {
          long[] ids = tok.encode(text).getIds();
          int[] t = new int[ids.length + 2];
          t[0] = Llama2Fixture.EOS;
          for (int i = 0; i < ids.length; i++) {
            t[i + 1] = (int) ids[i];
          }
          t[t.length - 1] = Llama2Fixture.EOS;
          for (int len = 1; len < t.length; len++) {
            float[] logits = m.lastLogits(t, 1, len);
            double max = Double.NEGATIVE_INFINITY;
            for (float l : logits) {
              max = Math.max(max, l);
            }
            double z = 0;
            for (float l : logits) {
              z += Math.exp(l - max);
            }
            nll += max + Math.log(z) - logits[t[len]];
          }
          tokens += t.length - 1;
          chars += codePoints(text);
        }
      }
      assertEquals(tokens, row.<Long>getAs("tokens"));
      assertEquals(nll / tokens, row.<Double>getAs("loss"), TOLERANCE * nll / tokens);
      assertEquals(nll / (chars * Math.log(2)), row.<Double>getAs("bpc"), TOLERANCE * 10);
    }
  }

  @Test
  void generateStreamsTheTextFromThePackedFileAndAFixedSeedRepeatsIt() throws Exception {
    TrainConfig c = config();
    try (NativeModel m = NativeModel.create(c.model(), 1)) {
      Init.normal(m.params(), m.layout(), 0.3, 9);
      String ckpt = checkpoint("gen", m.params());
      String out = dir.resolve("gen-packed").toString();
      Run export = launch("export", "--conf", "../conf/export.json", "--set", "checkpoint=" + ckpt,
          "--set", "out=" + out, "--set", "format=packed");
      assertEquals(0, export.status(), export.err());
      String model = out + "/model.flmpack";
      String[] gen = {"generate", "--conf", "../conf/generate.yaml", "--set", "model=" + model,
          "--set", "prompt=Once upon a time", "--set", "max_new_tokens=40", "--set", "seed=7",
          "--set", "out=" + dir.resolve("sample.txt")};
      Run a = launch(gen);
      Run b = launch(gen);
      assertEquals(0, a.status(), a.err());
      assertTrue(a.out().startsWith("Once upon a time"), a.out());
      assertEquals(a.out(), b.out(), "a fixed seed repeats the text");
      assertTrue(a.err().contains("new tokens"), a.err());
      assertEquals(a.out().strip(), Files.readString(dir.resolve("sample.txt")).strip());
      Run refused = launch("generate", "--conf", "../conf/generate.yaml", "--set",
          "model=" + model, "--set", "max_new_tokens=200");
      assertEquals(1, refused.status());
      assertTrue(refused.err().contains("context=slide"), refused.err());
    }
  }
}
