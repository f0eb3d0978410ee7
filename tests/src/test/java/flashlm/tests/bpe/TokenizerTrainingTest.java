package flashlm.tests.bpe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.bpe.BpeConfig;
import flashlm.pipeline.bpe.TokenizerTraining;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train-tokenizer learns from exactly the documents tokenize puts in the train split. */
class TokenizerTrainingTest {
  private static final String SEPARATOR = "<|endoftext|>";

  @TempDir Path dir;

  @Test
  void noValidationDocumentReachesTokenizerTraining() throws Exception {
    SparkSession spark = SparkTestSession.get();
    Path raw = Files.createDirectories(dir.resolve("raw"));
    // A file without a source split (tokenize splits it by hash) and a validation file; every
    // document is 3 words ("alpha", " beta", " gamma"), so the words training counted tell how
    // many documents it read.
    Files.writeString(raw.resolve("stories.txt"), documents(200, "alpha beta gamma"));
    Files.writeString(raw.resolve("stories-valid.txt"), documents(20, "alpha beta gamma"));
    DatasetPaths paths = new DatasetPaths(dir.toString());
    Ingest.run(spark, paths, IngestConfig.defaults().withFiles(List.of("*.txt")));
    TokenizeConfig split = TokenizeConfig.defaults().withValidationRatio(0.3);

    TokenizerTraining.Result result =
        TokenizerTraining.run(spark, paths, BpeConfig.ofVocabSize(270), split);

    // The documented rule, written out independently of the pipeline's Column code.
    Row counts = spark.read().format("delta").load(paths.documents()).selectExpr(
        "count_if(source_split is null and pmod(xxhash64('split', doc_id), 1000000) >= 300000)",
        "count_if(source_split is null and pmod(xxhash64('split', doc_id), 1000000) < 300000)")
        .head();
    long train = counts.getLong(0);
    assertTrue(counts.getLong(1) > 0, "some hashed documents are validation");
    assertEquals(3 * train, result.bpe().totalWords(),
        "words learned from: 3 per train document, none from the " + counts.getLong(1)
            + " hashed and 20 source-split validation documents");
    JsonNode record = new ObjectMapper().readTree(
        dir.resolve("tokenizer").resolve(TokenizerTraining.RECORD).toFile());
    assertEquals(0, record.path("documents_version").asLong());
    assertTrue(record.path("documents_filter").asText().contains("< 300000"),
        record.toString());
  }

  private static String documents(int n, String text) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(text).append('\n').append(SEPARATOR).append('\n');
    }
    return sb.toString();
  }
}
