package flashlm.pipeline.eval;

import static org.apache.spark.sql.functions.col;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DeltaWrites;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizerFile;
import flashlm.table.SequencesTable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * What an evaluation on a sequences table reads, from the manifest of the table version: the
 * documents table at the version the sequences were built from, the validation split by the same
 * rule ({@link Tokenize#splitColumn} with the table's validation_ratio), and the same tokenizer
 * (its sha256 checked against the manifest's) with the same separators. So the documents scored
 * are exactly those whose tokens make the table's validation rows, tokenized the same way, but
 * whole: not cut into rows, none of their tokens dropped.
 *
 * @param table the sequences table
 * @param version its Delta version
 * @param documents the documents table it was built from
 * @param documentsVersion the documents table's version
 * @param tokenizer the tokenizer file
 * @param config the tokenize config of that version (split rule, separators)
 * @param bosId BOS id prepended to documents, or -1
 * @param eosId EOS id appended to documents, or -1
 */
public record EvalSource(String table, long version, String documents, long documentsVersion,
    TokenizerFile tokenizer, TokenizeConfig config, int bosId, int eosId) {

  /**
   * The source of {@code table} at {@code version} (latest when null).
   *
   * @throws ConfigException naming the table when it has no such version, was not made by
   *     flashlm tokenize, or its tokenizer changed since
   */
  public static EvalSource of(SparkSession spark, String table, Long version) {
    DeltaWrites.Commit commit = DeltaWrites.at(spark, table, version).orElseThrow(() ->
        new ConfigException("no sequences table" + (version == null ? "" : " version " + version)
            + " at " + table));
    String where = "table " + table + " version " + commit.version();
    DatasetManifest m = commit.manifest().map(DatasetManifest::fromJson)
        .filter(x -> "tokenize".equals(x.job()) && x.documentsTable() != null
            && x.tokenizer() != null && x.config() != null)
        .orElseThrow(() -> new ConfigException(where + " has no tokenize manifest: it was not"
            + " written by flashlm tokenize"));
    TokenizeConfig config = Configs.bind(m.config(), TokenizeConfig.class, where + " manifest");
    TokenizerFile tok = TokenizerFile.read(spark.sparkContext().hadoopConfiguration(),
        m.tokenizer().location(), m.tokenizer().bosToken(), m.tokenizer().eosToken());
    if (!tok.sha256().equals(m.tokenizer().sha256())) {
      throw new ConfigException("the tokenizer of " + where + ", " + tok.location()
          + ", changed since the table was made (sha256 " + tok.sha256() + ", the manifest"
          + " records " + m.tokenizer().sha256() + "): tokenize again, or restore the file");
    }
    int bos = config.addBos() && m.tokenizer().bosId() != null ? m.tokenizer().bosId() : -1;
    int eos = config.addEos() && m.tokenizer().eosId() != null ? m.tokenizer().eosId() : -1;
    return new EvalSource(table, commit.version(), m.documentsTable(), m.documentsVersion(), tok,
        config, bos, eos);
  }

  /**
   * The validation documents (doc_id, text) in doc_id order, the first {@code maxDocuments} of
   * them when that is set.
   */
  public Dataset<Row> validationDocuments(SparkSession spark, Integer maxDocuments) {
    Dataset<Row> docs = spark.read().format("delta").option("versionAsOf", documentsVersion)
        .load(documents)
        .where(Tokenize.splitColumn(config).equalTo(SequencesTable.VALIDATION))
        .select(col(DocumentsTable.DOC_ID), col(DocumentsTable.TEXT))
        .orderBy(col(DocumentsTable.DOC_ID));
    return maxDocuments == null ? docs : docs.limit(maxDocuments);
  }

  /**
   * A document's ids as the model reads them: after the token that precedes a document in
   * training (BOS when documents start with it, else the EOS that ends the one before), then its
   * ids, then EOS when documents end with it. Every id after the first is scored: the first
   * token of the text too, given the separator, and the EOS (the end of the document is part of
   * what the model predicts). Without any separator the first id has no context and is not
   * scored.
   */
  public int[] modelTokens(int[] ids) {
    int lead = bosId >= 0 ? bosId : eosId;
    int head = lead >= 0 ? 1 : 0;
    int[] out = new int[head + ids.length + (eosId >= 0 ? 1 : 0)];
    if (head == 1) {
      out[0] = lead;
    }
    System.arraycopy(ids, 0, out, head, ids.length);
    if (eosId >= 0) {
      out[out.length - 1] = eosId;
    }
    return out;
  }

  /** The sha256 of the table's tokenizer: a model fits the table when it trained with it. */
  public String tokenizerSha256() {
    return tokenizer.sha256();
  }
}
