package flashlm.pipeline.bpe;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.manifest.DeltaWrites;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.table.SequencesTable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

/**
 * {@code train-tokenizer}: learns a byte-level BPE from the documents that {@code tokenize} puts
 * in the train split, and writes {@code paths.trainedTokenizer()}, its {@code .sha256} and
 * {@code training.json} beside it (which documents table version it learned from, with which
 * settings, and what came out).
 *
 * <p>One split rule: the documents are chosen with {@link Tokenize#splitColumn}, the rule tokenize
 * applies with the same {@link TokenizeConfig}, so no document that tokenize later puts in
 * validation (by its source split, or by the hash of its doc_id) is learned from.
 */
public final class TokenizerTraining {
  /** The provenance file written beside the tokenizer. */
  public static final String RECORD = "training.json";
  /**
   * How {@value #RECORD}'s {@code documents_filter} starts: the documents were those {@code
   * tokenize} puts in the train split, by the rule that follows and the record's {@code
   * validation_ratio}.
   */
  public static final String TRAIN_SPLIT_FILTER = "the train split of tokenize: ";

  /**
   * What {@link #run} wrote.
   *
   * @param location the tokenizer.json written
   * @param documents the documents table learned from
   * @param documentsVersion its version
   * @param bpe the trained tokenizer and training figures
   */
  public record Result(String location, String documents, long documentsVersion, BpeResult bpe) {}

  private TokenizerTraining() {}

  /**
   * Trains on the train split of {@code paths.documents()} (latest version) and writes the
   * tokenizer, its checksum and {@value #RECORD}.
   *
   * @param split the tokenize settings whose split rule chooses the documents
   */
  public static Result run(SparkSession spark, DatasetPaths paths, BpeConfig bpe,
      TokenizeConfig split) throws IOException {
    String documents = paths.documents();
    long version = DeltaWrites.latest(spark, documents).orElseThrow(() ->
        new ConfigException("no documents table at " + documents + "; run ingest first"))
        .version();
    BpeResult result = BpeTrainer.train(spark, trainDocuments(spark, documents, version, split),
        bpe);
    String location = paths.trainedTokenizer();
    // one set: a reader who finds the new tokenizer.json finds its own .sha256 and training.json
    result.write(location, spark.sparkContext().hadoopConfiguration(),
        Map.of(RECORD, record(paths, bpe, split, version, result)));
    return new Result(location, documents, version, result);
  }

  /** The texts of the documents {@code tokenize} puts in the train split, at {@code version}. */
  static Dataset<String> trainDocuments(SparkSession spark, String documents, long version,
      TokenizeConfig split) {
    return spark.read().format("delta").option("versionAsOf", version).load(documents)
        .where(Tokenize.splitColumn(split).equalTo(SequencesTable.TRAIN))
        .select(col(DocumentsTable.TEXT)).as(Encoders.STRING());
  }

  /** training.json beside the tokenizer: its provenance, for audits. */
  private static byte[] record(DatasetPaths paths, BpeConfig bpe, TokenizeConfig split,
      long version, BpeResult result) throws IOException {
    ObjectNode rec = Configs.json().createObjectNode();
    rec.put("documents", paths.documents());
    rec.put("documents_version", version);
    rec.put("documents_filter", TRAIN_SPLIT_FILTER + Tokenize.splitRule(split));
    rec.put("validation_ratio", split.validationRatio());
    rec.set("config", Configs.redacted(Configs.json().valueToTree(bpe)));
    rec.put("sha256", result.sha256());
    rec.put("vocab_size", result.vocabSize());
    rec.put("merges", result.mergesCount());
    rec.put("distinct_words", result.distinctWords());
    rec.put("kept_words", result.keptWords());
    rec.put("total_words", result.totalWords());
    rec.put("seconds", result.seconds());
    rec.put("created_at", Instant.now().toString());
    return Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(rec)
        .getBytes(StandardCharsets.UTF_8);
  }
}
