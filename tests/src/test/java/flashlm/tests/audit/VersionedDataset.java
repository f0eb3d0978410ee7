package flashlm.tests.audit;

import flashlm.jobs.Launcher;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/**
 * A data set built through several versions, once per test JVM, as a team would change one:
 *
 * <pre>
 * documents v0  ingest of one file (A)
 * documents v1  a second source file (B) added
 * sequences v0  documents v0, LLaMA-2 tokenizer, validation_ratio 0.2
 * sequences v1  documents v1 (B added), same settings
 * sequences v2  re-tokenized with a byte-level BPE trained on documents v1 (train-tokenizer)
 * sequences v3  validation_ratio 0.4
 * sequences v4  a DELETE by hand of split validation, shard 0
 * </pre>
 *
 * No file marks a split, so tokenize splits every document by hash.
 */
final class VersionedDataset {
  static final String FILE_A = "stories-a.txt";
  static final String FILE_B = "stories-b.txt";
  static final int SEQ_LEN = 32;
  static final int SHARDS = 2;
  static final int BPE_VOCAB = 300;
  private static VersionedDataset built;

  final Path dir;
  final DatasetPaths paths;

  private VersionedDataset(Path dir) {
    this.dir = dir;
    this.paths = new DatasetPaths(dir.toString());
  }

  /** The data set, built on first use. */
  static synchronized VersionedDataset get() {
    if (built == null) {
      try {
        built = build(Files.createTempDirectory("audit-versions"));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return built;
  }

  private static VersionedDataset build(Path dir) throws IOException {
    SparkSession spark = SparkTestSession.get();
    VersionedDataset d = new VersionedDataset(dir);
    Path raw = Files.createDirectories(dir.resolve("raw"));
    Files.writeString(raw.resolve(FILE_A), TinyStoriesFixture.train(24 << 10));
    Files.writeString(raw.resolve(FILE_B), TinyStoriesFixture.valid(12 << 10));
    IngestConfig oneFile = new IngestConfig("text", "tinystories", List.of(FILE_A), null, null,
        null, List.of(), null, null);
    Ingest.run(spark, d.paths, oneFile);
    TokenizeConfig llama = TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString()).withPacking(SEQ_LEN, SHARDS)
        .withValidationRatio(0.2);
    Tokenize.run(spark, d.paths, llama);
    Ingest.run(spark, d.paths, oneFile.withFiles(List.of(FILE_A, FILE_B)));
    Tokenize.run(spark, d.paths, llama);

    Path conf = Files.writeString(dir.resolve("dataset.yaml"), "data_dir: " + dir + "\n"
        + "tokenizer_training:\n  vocab_size: " + BPE_VOCAB + "\n");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Launcher.run(null, new String[] {"train-tokenizer", "--conf", conf.toString()},
        System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
    if (status != 0) {
      throw new IllegalStateException("train-tokenizer failed: " + err);
    }
    TokenizeConfig bpe = llama.withTokenizer(d.paths.trainedTokenizer());
    bpe = new TokenizeConfig(bpe.tokenizer(), bpe.seqLen(), bpe.numShards(),
        bpe.validationRatio(), true, false, "<|endoftext|>", null, null, null);
    Tokenize.run(spark, d.paths, bpe);
    Tokenize.run(spark, d.paths, bpe.withValidationRatio(0.4));
    spark.sql("DELETE FROM delta.`" + d.paths.sequences()
        + "` WHERE split = 'validation' AND shard = 0");
    return d;
  }

  /**
   * Documents of the latest documents version whose split is validation at {@code ratio}, by
   * the documented rule written out here, not the pipeline's code.
   */
  long validationDocuments(double ratio, String file) {
    return SparkTestSession.get().read().format("delta").load(paths.documents())
        .where("pmod(xxhash64('split', doc_id), 1000000) < " + Math.round(ratio * 1e6)
            + (file == null ? "" : " and source_file = '" + file + "'"))
        .count();
  }

  /** Documents of the latest documents version from {@code file} (null: all). */
  long documents(String file) {
    return SparkTestSession.get().read().format("delta").load(paths.documents())
        .where(file == null ? "true" : "source_file = '" + file + "'").count();
  }
}
