package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.udf;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import flashlm.fs.HadoopFiles;
import flashlm.pipeline.bpe.BpeTrainer;
import flashlm.pipeline.bpe.TokenizerTraining;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.table.SequencesTable;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.types.DataTypes;

/**
 * The tokenizer leak: a sequences table whose tokenizer this project trained ({@code
 * train-tokenizer}, which leaves {@code training.json} beside {@code tokenizer.json}) on
 * documents that are in the table's validation split. training.json names the documents table
 * version and the filter it learned from; the documents it kept (after its seeded sample, when it
 * sampled) are compared with the validation documents by text key.
 */
final class TokenizerLeaks {
  static final String TRAINING_RECORD = TokenizerTraining.RECORD;
  /** The filter train-tokenizer recorded before it learned from tokenize's train split. */
  static final String EARLIER_FILTER = "source_split IS NULL OR source_split != 'validation'";

  private TokenizerLeaks() {}

  /**
   * The finding, or empty with a note when there is nothing to check (not a sequences table, a
   * tokenizer not trained here, a record that does not describe it).
   */
  static Optional<Leaks.Finding> check(AuditedTable table, long version,
      Dataset<Row> validation, int sample, List<String> notes) {
    if (table.kind(version) != AuditedTable.Kind.SEQUENCES) {
      return Optional.empty();
    }
    DatasetManifest.TokenizerInfo tok = table.requireDescribed(version).manifest().tokenizer();
    if (tok == null || tok.location() == null) {
      notes.add("the manifest names no tokenizer: tokenizer training not checked");
      return Optional.empty();
    }
    Configuration conf = table.spark().sparkContext().hadoopConfiguration();
    String record = new Path(new Path(tok.location()).getParent(), TRAINING_RECORD).toString();
    JsonNode training;
    try {
      if (!HadoopFiles.exists(conf, record)) {
        notes.add("the tokenizer " + tok.location() + " has no " + TRAINING_RECORD + " beside it"
            + " (not trained by train-tokenizer): its training documents are not checked");
        return Optional.empty();
      }
      training = Configs.json().readTree(HadoopFiles.readAll(conf, record));
    } catch (IOException e) {
      notes.add("cannot read " + record + ": " + e.getMessage());
      return Optional.empty();
    }
    String sha = training.path("sha256").asText(null);
    if (!tok.sha256().equals(sha)) {
      notes.add(record + " describes another tokenizer (sha256 " + History.shortHash(sha)
          + ", the table's is " + History.shortHash(tok.sha256()) + "): retrained since;"
          + " its training documents are not checked");
      return Optional.empty();
    }
    // The filter is recognised, never evaluated: a file read back is not trusted to hold SQL.
    String filter = training.path("documents_filter").asText("");
    Column learnedBy;
    if (filter.startsWith(TokenizerTraining.TRAIN_SPLIT_FILTER)
        && training.path("validation_ratio").isNumber()) {
      learnedBy = Tokenize.splitColumn(TokenizeConfig.defaults()
          .withValidationRatio(training.path("validation_ratio").asDouble()))
          .equalTo(SequencesTable.TRAIN);
    } else if (filter.equals(EARLIER_FILTER)) {
      learnedBy = col("source_split").isNull().or(col("source_split").notEqual("validation"));
    } else {
      notes.add(record + " has documents_filter '" + filter + "', not train-tokenizer's: its"
          + " training documents are not checked");
      return Optional.empty();
    }
    AuditedTable documents;
    long dv;
    try {
      documents = table.other(training.path("documents").asText());
      dv = documents.resolve(training.path("documents_version").asLong());
      documents.requireReadable(dv);
    } catch (AuditException e) {
      notes.add("the tokenizer's training documents cannot be read: " + e.getMessage());
      return Optional.empty();
    }
    Dataset<Row> learned = documents.read(dv).where(learnedBy);
    double fraction = training.path("config").path("sample_fraction").asDouble(1.0);
    if (fraction < 1.0) {
      long seed = training.path("config").path("seed").asLong(42);
      learned = learned.where(udf(new InSample(fraction, seed), DataTypes.BooleanType)
          .apply(col("text")));
    }
    Dataset<Row> keyed = Leaks.keyed(learned.select(col("doc_id"), col("source_file"),
        col("source_offset"), col("text"),
        coalesce(col("source_split"), lit(Docs.UNASSIGNED)).as(Docs.SPLIT)));
    String origin = "the documents tokenizer " + History.shortHash(tok.sha256()) + " learned"
        + " from (" + documents.describe(dv) + ")";
    return Optional.of(Leaks.finding(Leaks.TOKENIZER, "validation documents among " + origin,
        validation, keyed, origin, sample));
  }

  /** train-tokenizer's document sample, as a Spark condition on the text. */
  static final class InSample implements UDF1<String, Boolean> {
    private static final long serialVersionUID = 1L;
    private final BpeTrainer.SampleByHash sample;

    InSample(double fraction, long seed) {
      this.sample = new BpeTrainer.SampleByHash(fraction, seed);
    }

    @Override
    public Boolean call(String text) throws Exception {
      return text != null && sample.call(text);
    }
  }
}
