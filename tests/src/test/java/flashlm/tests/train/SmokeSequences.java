package flashlm.tests.train;

import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import flashlm.train.Checkpoint;
import flashlm.train.TrainConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * A small local sequences table of the TinyStories fixture (LLaMA-2 tokenizer, seq_len {@value
 * #SEQ_LEN}), built once per test JVM, and what the checkpoint tests share: the v7-smoke config
 * over it and bit-exact comparison of checkpoints.
 */
final class SmokeSequences {
  static final int SEQ_LEN = 64;
  private static String table;

  private SmokeSequences() {}

  /** The table's path; the first call ingests and tokenizes (Spark, a few seconds). */
  static synchronized String table() {
    if (table == null) {
      try {
        Path dir = Files.createTempDirectory("smoke-sequences");
        TinyStoriesFixture.write(dir.resolve("raw"), 192 << 10, 16 << 10);
        DatasetPaths paths = new DatasetPaths(dir.toString());
        Ingest.run(SparkTestSession.get(), paths, new IngestConfig(null, "roneneldan/TinyStories",
            List.of(TinyStoriesFixture.TRAIN, TinyStoriesFixture.VALID), null, null, null, null,
            List.of("*train*"), null));
        Tokenize.run(SparkTestSession.get(), paths, TokenizeConfig.defaults()
            .withTokenizer(Llama2Fixture.tokenizerJson().toString()).withPacking(SEQ_LEN, 2));
        table = paths.sequences();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return table;
  }

  /**
   * Overrides of conf/v7-smoke.json for a short run on {@link #table()} with checkpoints in
   * {@code checkpointDir}: no evaluation (it is not what these tests are about), a log line per
   * step; {@code extra} come last.
   */
  static List<String> overrides(String checkpointDir, Path metrics, String... extra) {
    List<String> o = new ArrayList<>(List.of("backend=native", "data.table=" + table(),
        "model.seq_len=" + SEQ_LEN, "schedule.warmup=2", "eval_every=0", "eval_batches=0",
        "log.every=1", "checkpoint.dir=" + checkpointDir, "log.metrics=" + metrics));
    o.addAll(List.of(extra));
    return o;
  }

  static TrainConfig config(String checkpointDir, Path metrics, String... extra) {
    return Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class,
        overrides(checkpointDir, metrics, extra));
  }

  /** Parameters then optimizer state of a checkpoint, as raw bits. */
  static int[] bits(Configuration conf, String checkpoint) {
    Checkpoint.Header h = Checkpoint.readHeader(conf, checkpoint);
    FloatBuffer p = FloatBuffer.allocate(Math.toIntExact(h.paramCount()));
    FloatBuffer s = FloatBuffer.allocate(Math.toIntExact(h.optimizerCount()));
    Checkpoint.read(conf, checkpoint, p, s);
    int[] out = new int[p.capacity() + s.capacity()];
    for (int i = 0; i < p.capacity(); i++) {
      out[i] = Float.floatToRawIntBits(p.get(i));
    }
    for (int i = 0; i < s.capacity(); i++) {
      out[p.capacity() + i] = Float.floatToRawIntBits(s.get(i));
    }
    return out;
  }

  /** Fails with the count and the first differing value unless {@code a} and {@code b} match. */
  static void assertSameBits(int[] a, int[] b, String what) {
    if (a.length != b.length) {
      throw new AssertionError(what + ": " + a.length + " vs " + b.length + " values");
    }
    int first = -1;
    int count = 0;
    for (int i = 0; i < a.length; i++) {
      if (a[i] != b[i]) {
        first = first < 0 ? i : first;
        count++;
      }
    }
    if (count > 0) {
      throw new AssertionError(what + ": " + count + " of " + a.length + " values differ, first at "
          + first + " (" + Float.intBitsToFloat(a[first]) + " vs " + Float.intBitsToFloat(b[first])
          + ")");
    }
  }
}
