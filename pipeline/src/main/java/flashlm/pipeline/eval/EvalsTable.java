package flashlm.pipeline.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import flashlm.config.Configs;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DeltaWrites;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The {@code evals} Delta table: one row per (model, sequences table version) evaluated, appended
 * by {@code flashlm eval}, read by reports. An evaluation of the same model weights on the same
 * table versions with the same settings appends once ({@link DeltaWrites#appendOnce}): the
 * scores are deterministic, so a re-run adds nothing.
 *
 * <pre>
 * model             STRING  the checkpoint or packed model file evaluated
 * model_sha256      STRING  sha256 of its packed weights (the same weights, the same hash)
 * step              LONG    its training step
 * table             STRING  the sequences table whose validation documents were scored
 * table_version     LONG    that table's Delta version
 * tokenizer_sha256  STRING  the tokenizer both share
 * documents         LONG    documents scored
 * tokens            LONG    tokens scored
 * characters        LONG    Unicode code points of the documents' text
 * loss              DOUBLE  mean NLL per token, nats
 * ppl               DOUBLE  exp(loss)
 * bpc               DOUBLE  summed NLL / (characters * ln 2)
 * context           INT     the model's seq_len (window length)
 * stride            INT     tokens between windows in documents longer than the context
 * max_documents     INT     the bound on documents, null for all
 * evaluated_at      STRING  ISO-8601 time
 * </pre>
 */
public final class EvalsTable {
  public static final StructType SCHEMA = new StructType()
      .add("model", DataTypes.StringType, false)
      .add("model_sha256", DataTypes.StringType, false)
      .add("step", DataTypes.LongType, false)
      .add("table", DataTypes.StringType, false)
      .add("table_version", DataTypes.LongType, false)
      .add("tokenizer_sha256", DataTypes.StringType, false)
      .add("documents", DataTypes.LongType, false)
      .add("tokens", DataTypes.LongType, false)
      .add("characters", DataTypes.LongType, false)
      .add("loss", DataTypes.DoubleType, false)
      .add("ppl", DataTypes.DoubleType, false)
      .add("bpc", DataTypes.DoubleType, false)
      .add("context", DataTypes.IntegerType, false)
      .add("stride", DataTypes.IntegerType, false)
      .add("max_documents", DataTypes.IntegerType, true)
      .add("evaluated_at", DataTypes.StringType, false);

  /** One evaluation: a model on one table version (the columns above, in order). */
  public record Entry(String model, String modelSha256, long step, String table,
      long tableVersion, String tokenizerSha256, EvalResult result, int context, int stride,
      Integer maxDocuments, String evaluatedAt) {}

  private EvalsTable() {}

  /**
   * Appends {@code entries} (one evaluation run) to the table at {@code path}, unless a run of
   * the same model weights, table versions and settings is there already.
   *
   * @return whether rows were added
   */
  public static boolean append(SparkSession spark, String path, List<Entry> entries) {
    List<org.apache.spark.sql.Row> rows = new ArrayList<>();
    List<Map<String, Object>> inputs = new ArrayList<>();
    for (Entry e : entries) {
      EvalResult r = e.result();
      rows.add(RowFactory.create(e.model(), e.modelSha256(), e.step(), e.table(),
          e.tableVersion(), e.tokenizerSha256(), r.documents(), r.tokens(), r.characters(),
          r.loss(), r.ppl(), r.bpc(), e.context(), e.stride(), e.maxDocuments(),
          e.evaluatedAt()));
      Map<String, Object> in = new LinkedHashMap<>();
      in.put("model_sha256", e.modelSha256());
      in.put("table", e.table());
      in.put("table_version", e.tableVersion());
      in.put("stride", e.stride());
      in.put("max_documents", e.maxDocuments());
      inputs.add(in);
    }
    String fingerprint = DatasetManifest.fingerprint(Map.of("job", "eval", "inputs", inputs));
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("job", "eval");
    meta.put("fingerprint", fingerprint);
    meta.put("inputs", inputs);
    String json;
    try {
      json = Configs.json().writer().without(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(meta);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize the eval commit's metadata", e);
    }
    Dataset<org.apache.spark.sql.Row> data = spark.createDataFrame(rows, SCHEMA).coalesce(1);
    return DeltaWrites.appendOnce(data, path, "eval", fingerprint, json);
  }
}
