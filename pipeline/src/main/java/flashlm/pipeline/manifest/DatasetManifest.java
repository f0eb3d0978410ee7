package flashlm.pipeline.manifest;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import flashlm.config.Configs;
import flashlm.hash.Sha256;
import java.util.List;
import java.util.Map;

/**
 * What a table version holds and where it came from; written as each commit's {@code
 * userMetadata} and as the table property {@code flashlm.manifest} (snake_case JSON).
 *
 * @param formatVersion version of this manifest layout ({@link #FORMAT_VERSION})
 * @param job the job that wrote the commit: "ingest" or "tokenize"
 * @param fingerprint hex SHA-256 over the job's inputs and resolved config; equal fingerprints
 *     mean equal table contents, and a job whose fingerprint matches the latest commit writes
 *     nothing
 * @param createdAt ISO-8601 time of the commit
 * @param source the source dataset (repo, revision, resolved commit)
 * @param files the source files with size and sha256, in source_file order
 * @param counts per split ("train", "validation", and for ingest "unassigned": documents whose
 *     split the tokenize hash rule decides)
 * @param documentsTable tokenize only: the documents table read
 * @param documentsVersion tokenize only: the Delta version of the documents table read
 * @param tokenizer tokenize only: the tokenizer used
 * @param seqLen tokenize only: tokens per row minus one
 * @param numShards tokenize only: shards per split
 * @param splitRule how documents were assigned to splits, in words
 * @param shardRule tokenize only: how documents were assigned to shards, in words
 * @param config the job's resolved config, {@link Configs#redacted} (the manifest is stored in
 *     the table's history for good, so no credential-like value goes in)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record DatasetManifest(
    Integer formatVersion,
    String job,
    String fingerprint,
    String createdAt,
    Source source,
    List<FileEntry> files,
    Map<String, SplitCounts> counts,
    String documentsTable,
    Long documentsVersion,
    TokenizerInfo tokenizer,
    Integer seqLen,
    Integer numShards,
    String splitRule,
    String shardRule,
    JsonNode config) {

  public static final int FORMAT_VERSION = 1;

  public DatasetManifest {
    config = Configs.redacted(config);
  }

  /**
   * The source dataset.
   *
   * @param name the value of the documents' {@code source} column
   * @param repo hub repo id ("HuggingFaceFW/fineweb-edu"), or null for local files
   * @param revision the revision asked for (branch, tag or commit)
   * @param resolvedCommit the commit the revision resolved to
   * @param endpoint the hub endpoint files came from
   * @param root where the source files were read (the raw directory or the glob's base)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Source(String name, String repo, String revision, String resolvedCommit,
      String endpoint, String root) {}

  /**
   * One source file.
   *
   * @param path path within the source (the documents' {@code source_file})
   * @param size bytes
   * @param sha256 hex SHA-256 of the bytes read
   * @param split "train"/"validation" when the config maps the file to a split, else null
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record FileEntry(String path, Long size, String sha256, String split) {}

  /**
   * Counts for one split.
   *
   * @param documents documents kept
   * @param blankDocuments ingest: empty or whitespace-only documents dropped
   * @param tokens tokenize: tokens including BOS/EOS separators, before packing
   * @param rows tokenize: packed rows of seq_len + 1 tokens
   * @param droppedTailTokens tokenize: tokens of the incomplete last row of each shard, dropped
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record SplitCounts(Long documents, Long blankDocuments, Long tokens, Long rows,
      Long droppedTailTokens) {
    /** What ingest counts: documents kept and blank ones dropped. */
    public static SplitCounts ingested(long documents, long blankDocuments) {
      return new SplitCounts(documents, blankDocuments, null, null, null);
    }

    /** What tokenize counts: documents, tokens, packed rows and the dropped tail tokens. */
    public static SplitCounts packed(long documents, long tokens, long rows,
        long droppedTailTokens) {
      return new SplitCounts(documents, null, tokens, rows, droppedTailTokens);
    }
  }

  /**
   * The tokenizer a sequences table was made with.
   *
   * @param location where it was read (path or URI)
   * @param sha256 hex SHA-256 of the tokenizer.json bytes
   * @param vocabSize largest id + 1 over the vocabulary and added tokens
   * @param bosId the tokenizer's BOS id, or null when it has none (whether documents start with
   *     it is the config's add_bos)
   * @param eosId the tokenizer's EOS id, or null when it has none (see add_eos)
   * @param bosToken BOS string
   * @param eosToken EOS string
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record TokenizerInfo(String location, String sha256, Integer vocabSize, Integer bosId,
      Integer eosId, String bosToken, String eosToken) {}

  /** Compact one-line JSON (for userMetadata and the table property). */
  public String toJson() {
    try {
      return Configs.json().writer().without(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize manifest", e);
    }
  }

  /** Parses a manifest written by {@link #toJson}. */
  public static DatasetManifest fromJson(JsonNode json) {
    try {
      return Configs.json().treeToValue(json, DatasetManifest.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a flashlm dataset manifest: " + e.getMessage(), e);
    }
  }

  /** Hex SHA-256 of the canonical (compact, key-sorted) JSON of {@code inputs}. */
  public static String fingerprint(Object inputs) {
    try {
      return Sha256.hex(Configs.json().writer().without(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(inputs));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize fingerprint inputs", e);
    }
  }
}
