package flashlm.tests.bpe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.pipeline.bpe.BpeConfig;
import flashlm.pipeline.bpe.BpeResult;
import flashlm.pipeline.bpe.BpeTrainer;
import flashlm.pipeline.tokenize.TokenizerFile;
import flashlm.tests.SparkTestSession;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The BPE trainer on Spark, end to end: trained on the TinyStories fixture, its tokenizer.json
 * loads in DJL (the encoder the pipeline uses) and round-trips every fixture document exactly,
 * and training is deterministic whatever the partitioning.
 */
class BpeTrainingTest {
  private static final Path TINYSTORIES = Paths.get("target/test-classes/fixtures/tinystories");
  private static final Path VALIDATION =
      TINYSTORIES.resolve("tinystories_validation_head_794KB.txt");
  private static final String EOT = "<|endoftext|>";

  private static SparkSession spark;
  private static BpeResult trained;

  @BeforeAll
  static void train() {
    spark = SparkTestSession.get();
    Dataset<String> docs = BpeTrainer.textDocuments(spark, VALIDATION.toString(), EOT);
    trained = BpeTrainer.train(spark, docs, BpeConfig.defaults());
  }

  @Test
  void vocabularyHasTheAskedSizeWithTheSeparatorLast(@TempDir Path dir) throws IOException {
    assertEquals(1024, trained.vocabSize());
    try (HuggingFaceTokenizer tok = load(dir)) {
      Encoding e = tok.encode(EOT, false, false);
      assertEquals(1, e.getIds().length, "the separator is one token");
      assertEquals(1023, e.getIds()[0]);
    }
  }

  @Test
  void djlRoundTripsEveryFixtureDocumentExactly(@TempDir Path dir) throws IOException {
    List<String> docs = new ArrayList<>();
    for (Path file : List.of(VALIDATION,
        TINYSTORIES.resolve("tinystories_train_prefix_2MiB.txt"))) {
      for (String doc : Files.readString(file, StandardCharsets.UTF_8).split(EOT, -1)) {
        if (!doc.isBlank()) {
          docs.add(doc);
        }
      }
    }
    docs.add("Unicode outside the corpus: naïve café, 日本語, emoji 🙂, tabs\tand\r\nCRLF.");
    long tokens = 0;
    long chars = 0;
    try (HuggingFaceTokenizer tok = load(dir)) {
      for (int i = 0; i < docs.size(); i++) {
        long[] ids = tok.encode(docs.get(i), false, false).getIds();
        String back = tok.decode(ids, false);
        assertEquals(docs.get(i), back, "document " + i + " does not round-trip");
        tokens += ids.length;
        chars += docs.get(i).length();
      }
    }
    // A 1024-token BPE learned on this text compresses it well beyond bytes.
    double charsPerToken = (double) chars / tokens;
    assertTrue(charsPerToken > 2.5, "chars per token " + charsPerToken);
  }

  @Test
  void trainingIsDeterministicWhateverThePartitioning() {
    List<String> docs = BpeTrainer.textDocuments(spark, VALIDATION.toString(), EOT)
        .collectAsList(); // a small fixture, read back to repartition it differently
    Dataset<String> reshuffled = spark.createDataset(docs, Encoders.STRING()).repartition(5);
    BpeResult again = BpeTrainer.train(spark, reshuffled, BpeConfig.defaults());
    assertEquals(trained.sha256(), again.sha256());
    assertEquals(trained.tokenizerJson(), again.tokenizerJson());
  }

  @Test
  void theSeparatorSpelledInsideADocumentIsLearnedAndEncodedAsText(@TempDir Path dir)
      throws IOException {
    String story = "Tom typed <|endoftext|> into the box.";
    List<String> docs = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      docs.add(story);
      docs.add("The cat sat on the mat number " + i + ".");
    }
    BpeResult small = BpeTrainer.train(spark, spark.createDataset(docs, Encoders.STRING()),
        BpeConfig.ofVocabSize(320));
    // Learned from the text: "endoftext" is a word of these documents like any other.
    JsonNode vocab = new ObjectMapper().readTree(small.tokenizerJson()).path("model")
        .path("vocab");
    assertTrue(vocab.has("endoftext"), "no token for 'endoftext' was learned");
    int separator = vocab.get(EOT).asInt();

    Path file = dir.resolve("tokenizer.json");
    small.write(file.toString(), spark.sparkContext().hadoopConfiguration());
    TokenizerFile read = TokenizerFile.read(spark.sparkContext().hadoopConfiguration(),
        file.toString(), null, null);
    assertEquals(separator, read.eosId(), "the configured separator keeps its id");
    // The ordinary encoding: GPT-2's regex splits the story at these points, and none of the
    // pieces spells the separator, so encoding them one by one cannot meet it.
    List<String> pieces = List.of("Tom typed", " <|", "endoftext", "|> into the box.");
    List<Long> want = new ArrayList<>();
    try (HuggingFaceTokenizer direct = HuggingFaceTokenizer.newInstance(file,
        Map.of("addSpecialTokens", "false", "truncation", "false"))) {
      for (String p : pieces) {
        for (long id : direct.encode(p).getIds()) {
          want.add(id);
        }
      }
    }
    try (HuggingFaceTokenizer pipeline = read.newTokenizer()) {
      long[] got = pipeline.encode(story).getIds();
      assertEquals(want, Arrays.stream(got).boxed().toList());
      assertFalse(Arrays.stream(got).anyMatch(id -> id == separator), Arrays.toString(got));
    }
  }

  private static HuggingFaceTokenizer load(Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    trained.write(file.toString(), spark.sparkContext().hadoopConfiguration());
    return HuggingFaceTokenizer.builder()
        .optTokenizerPath(file)
        .optAddSpecialTokens(false)
        .optTruncation(false)
        .build();
  }
}
