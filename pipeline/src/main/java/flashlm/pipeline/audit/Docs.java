package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.core.JsonProcessingException;
import flashlm.config.Configs;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The documents a table version is made of, each with the split it is in. For a documents table
 * version: its own rows, split by {@code source_split} ({@value #UNASSIGNED} where the source
 * gives none, which tokenize later splits by hash). For a sequences table version: the documents
 * table version its manifest names, split and sharded by the rules of its manifest's config,
 * exactly as tokenize assigned them.
 */
final class Docs {
  static final String SPLIT = "split";
  static final String SHARD = "shard";
  static final String UNASSIGNED = "unassigned";

  /**
   * A version's documents.
   *
   * @param rows doc_id, source_file, source_offset, text, split, shard (null for a documents
   *     table)
   * @param documents the documents table they were read from
   * @param documentsVersion its version
   * @param rules the sequences table's tokenize config, or null for a documents table
   */
  record DocSet(Dataset<Row> rows, AuditedTable documents, long documentsVersion,
      TokenizeConfig rules) {
    /** "table T version V", or with "(documents of ...)" for a sequences table. */
    String origin() {
      return documents.describe(documentsVersion);
    }
  }

  private Docs() {}

  /** The documents of {@code version} of {@code table}, split as they are in it. */
  static DocSet of(AuditedTable table, long version) {
    if (table.kind(version) != AuditedTable.Kind.SEQUENCES) {
      Dataset<Row> rows = table.read(version).select(col(DocumentsTable.DOC_ID),
          col(DocumentsTable.SOURCE_FILE), col(DocumentsTable.SOURCE_OFFSET),
          col(DocumentsTable.TEXT),
          coalesce(col(DocumentsTable.SOURCE_SPLIT), lit(UNASSIGNED)).as(SPLIT),
          lit(null).cast("int").as(SHARD));
      return new DocSet(rows, table, version, null);
    }
    DatasetManifest m = table.requireDescribed(version).manifest();
    if (m.documentsTable() == null || m.documentsVersion() == null) {
      throw new AuditException(table.describe(version) + ": its manifest names no documents"
          + " table version");
    }
    TokenizeConfig rules = rules(table, version, m);
    AuditedTable documents = table.other(m.documentsTable());
    long dv = m.documentsVersion();
    Dataset<Row> rows = documents.read(dv).select(col(DocumentsTable.DOC_ID),
        col(DocumentsTable.SOURCE_FILE), col(DocumentsTable.SOURCE_OFFSET),
        col(DocumentsTable.TEXT), Tokenize.splitColumn(rules).as(SPLIT),
        Tokenize.shardColumn(rules).as(SHARD));
    return new DocSet(rows, documents, dv, rules);
  }

  /** The tokenize config a sequences manifest recorded: the split and shard rules. */
  static TokenizeConfig rules(AuditedTable table, long version, DatasetManifest m) {
    if (m.config() == null) {
      throw new AuditException(table.describe(version) + ": its manifest has no config");
    }
    try {
      return Configs.json().treeToValue(m.config(), TokenizeConfig.class);
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new AuditException(table.describe(version) + ": its manifest's config is not a"
          + " tokenize config: " + e.getMessage(), e);
    }
  }
}
