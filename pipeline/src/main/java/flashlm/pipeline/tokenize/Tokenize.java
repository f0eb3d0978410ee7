package flashlm.pipeline.tokenize;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.pmod;
import static org.apache.spark.sql.functions.when;
import static org.apache.spark.sql.functions.xxhash64;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.table.SequencesTable;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DatasetManifest.SplitCounts;
import flashlm.pipeline.manifest.DeltaWrites;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tokenize and pack: the documents table into the sequences table ({@link SequencesTable}), in
 * one Delta commit.
 *
 * <p>Each document gets a split (its source_split when that is train or validation, else a hash
 * of doc_id against validation_ratio) and a shard (another hash of doc_id). The job writes
 * nothing when the table's latest commit already came from the same documents, tokenizer and
 * settings. Otherwise it runs three stages and two short jobs:
 *
 * <pre>
 * read + encode   the input partitions as they are; DJL ids only, batched, one tokenizer per JVM
 *    | exchange    each document's ids once, to the task of its (split, shard), sorted by doc_id
 * pack + cache    rows of seq_len + 1 ids in blocks; each group's last block has its totals
 *    | job 1       collects the totals (2 * num_shards small arrays): the manifest's counts
 * write           the cached blocks as rows, one Delta commit carrying the manifest (job 2)
 * </pre>
 *
 * <p>Why one exchange stays: a row joins documents in doc_id order within a (split, shard) across
 * the whole table, and documents arrive in file order, so either their text or their ids must
 * move once to the task that packs their group (packing per input partition would change the
 * rows). Moving ids after encoding keeps the encode stage as parallel as the input, whatever
 * num_shards is; the exchange is of {@code int[]}s, not rows (the benchmark's {@code --stages}:
 * reading, sorting and packing them takes 0.15-0.2 s of task CPU per 4.4M tokens, encoding 4.7
 * s). The counts the commit needs come from the same pass: encoding happens once, and the write
 * reads the cache.
 */
public final class Tokenize {
  /** Table property: whether every document starts with BOS. */
  public static final String PROP_ADD_BOS = "flashlm.add_bos";
  /** Table property: whether every document ends with EOS. */
  public static final String PROP_ADD_EOS = "flashlm.add_eos";

  private static final Logger LOG = LoggerFactory.getLogger(Tokenize.class);
  /** Resolution of the validation ratio: a doc is validation iff its bucket < ratio * this. */
  static final long SPLIT_BUCKETS = 1_000_000L;
  private static final String SPLIT = "split";
  private static final String SHARD = "shard";

  private Tokenize() {}

  /**
   * Tokenizes {@code paths.documents()} into the sequences table {@code config} names, with an
   * {@code hf://} tokenizer downloaded first ({@link HubTokenizer}) through the data set's
   * download settings {@code hub} (null: the defaults).
   */
  public static DeltaWrites.Result run(SparkSession spark, DatasetPaths paths,
      TokenizeConfig config, DownloadConfig hub) {
    return run(spark, paths, HubTokenizer.resolve(spark, paths, config, hub));
  }

  /** Tokenizes {@code paths.documents()} into the sequences table {@code config} names. */
  public static DeltaWrites.Result run(
      SparkSession spark, DatasetPaths paths, TokenizeConfig config) {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    String documents = paths.documents();
    String output = resolve(paths, config.output(), paths.sequences());
    DeltaWrites.Commit docsCommit = DeltaWrites.latest(spark, documents).orElseThrow(() ->
        new ConfigException("no documents table at " + documents + "; run ingest first"));
    long documentsVersion = docsCommit.version();
    Optional<DatasetManifest> docsManifest = docsCommit.manifest().map(DatasetManifest::fromJson);
    TokenizerFile tokenizer = TokenizerFile.read(hadoop,
        resolve(paths, config.tokenizer(), paths.trainedTokenizer()), config.bosToken(),
        config.eosToken());
    int bosId = separator(config.addBos(), tokenizer.bosId(), tokenizer.location(), "bos_token");
    int eosId = separator(config.addEos(), tokenizer.eosId(), tokenizer.location(), "eos_token");

    String fingerprint = fingerprint(config, tokenizer, documentsVersion, docsManifest);
    Optional<DeltaWrites.Commit> latest = DeltaWrites.latest(spark, output);
    Optional<DeltaWrites.Result> same = DeltaWrites.unchanged("tokenize", output, latest,
        fingerprint);
    if (same.isPresent()) {
      return same.get();
    }

    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<byte[]> json = jsc.broadcast(tokenizer.bytes());
    Groups groups = new Groups(config.numShards());
    JavaRDD<Row> docs = spark.read().format("delta").option("versionAsOf", documentsVersion)
        .load(documents)
        .select(col(DocumentsTable.DOC_ID), col(DocumentsTable.TEXT),
            Groups.column(splitColumn(config), shardColumn(config), config.numShards()))
        .javaRDD();
    JavaRDD<PackedBlock> blocks = docs
        .mapPartitionsToPair(new EncodeDocuments(json, tokenizer.sha256(), tokenizer.location(),
            config.batchSize(), bosId, eosId))
        .repartitionAndSortWithinPartitions(groups, DocKey.ORDER)
        .mapPartitions(new PackSequences(config.seqLen()));
    // Cached so that the counts the commit metadata needs and the rows written come from one
    // encoding pass.
    blocks.persist(StorageLevel.MEMORY_AND_DISK());
    try {
      return DeltaWrites.commit(spark, "tokenize", output, latest, fingerprint, () -> {
        spark.sparkContext().setJobDescription("tokenize: encode, pack and count");
        Map<String, SplitCounts> counts = counts(blocks, groups, config.seqLen());
        DatasetManifest manifest = manifest(config, tokenizer, fingerprint, documents,
            documentsVersion, docsManifest, counts, bosId, eosId);
        // No more write tasks than cores: a task writes its groups one after another (one file
        // per group either way) instead of 2 * num_shards mostly tiny tasks each setting up a
        // writer.
        int writers = Math.min(blocks.getNumPartitions(), jsc.defaultParallelism());
        Dataset<Row> packed = spark.createDataset(
            blocks.coalesce(writers).flatMap(new BlockRows(groups, config.seqLen())).rdd(),
            Encoders.bean(PackedRow.class))
            .select(col(SPLIT).as(SequencesTable.SPLIT), col(SHARD).as(SequencesTable.SHARD),
                col("seqIndex").as(SequencesTable.SEQ_INDEX),
                col("tokens").as(SequencesTable.TOKENS));
        spark.sparkContext().setJobDescription("tokenize: write " + output);
        return new DeltaWrites.NewVersion(packed, manifest,
            properties(config, tokenizer, manifest, bosId, eosId),
            List.of(SequencesTable.SPLIT, SequencesTable.SHARD));
      });
    } finally {
      spark.sparkContext().setJobDescription(null);
      blocks.unpersist(false);
      json.destroy();
    }
  }

  /**
   * The split of each document: its source_split when that is train or validation, else
   * validation iff {@code pmod(xxhash64('split', doc_id), 1e6) < validation_ratio * 1e6}. The one
   * split rule: tokenizer training selects its documents with it too.
   */
  public static Column splitColumn(TokenizeConfig config) {
    Column source = col(DocumentsTable.SOURCE_SPLIT);
    long threshold = Math.round(config.validationRatio() * SPLIT_BUCKETS);
    Column bucket = pmod(xxhash64(lit("split"), col(DocumentsTable.DOC_ID)), lit(SPLIT_BUCKETS));
    return when(source.isin(SequencesTable.TRAIN, SequencesTable.VALIDATION), source)
        .otherwise(when(bucket.lt(threshold), lit(SequencesTable.VALIDATION))
            .otherwise(lit(SequencesTable.TRAIN)));
  }

  /** The shard of each document: {@code pmod(xxhash64('shard', doc_id), num_shards)}. */
  public static Column shardColumn(TokenizeConfig config) {
    return pmod(xxhash64(lit("shard"), col(DocumentsTable.DOC_ID)), lit(config.numShards()))
        .cast("int");
  }

  /** The rule of {@link #splitColumn} in words, for manifests. */
  public static String splitRule(TokenizeConfig config) {
    return "source_split when it is train or validation; otherwise validation iff"
        + " pmod(xxhash64('split', doc_id), " + SPLIT_BUCKETS + ") < "
        + Math.round(config.validationRatio() * SPLIT_BUCKETS) + " (validation_ratio "
        + config.validationRatio() + "), else train";
  }

  /** Counts per split from the groups' last blocks; computing them fills the cache. */
  private static Map<String, SplitCounts> counts(JavaRDD<PackedBlock> blocks, Groups groups,
      int seqLen) {
    List<long[]> totals = blocks.filter(PackedBlock::last)
        .map(b -> new long[] {b.group(), b.documents(), b.groupTokens(), b.droppedTail()})
        .collect(); // one small array per (split, shard): at most 2 * num_shards
    Map<String, long[]> bySplit = new TreeMap<>();
    for (long[] t : totals) {
      long[] c = bySplit.computeIfAbsent(groups.split((int) t[0]), k -> new long[4]);
      c[0] += t[1];
      c[1] += t[2];
      c[2] += (t[2] - t[3]) / (seqLen + 1);
      c[3] += t[3];
    }
    Map<String, SplitCounts> counts = new LinkedHashMap<>();
    bySplit.forEach((split, c) -> counts.put(split,
        SplitCounts.packed(c[0], c[1], c[2], c[3])));
    return counts;
  }

  private static int separator(boolean add, int id, String file, String key) {
    if (!add) {
      return -1;
    }
    if (id < 0) {
      throw new ConfigException(file + ": no " + key.replace("_token", "").toUpperCase()
          + " token found; set tokenize." + key);
    }
    return id;
  }

  private static String fingerprint(TokenizeConfig config, TokenizerFile tokenizer,
      long documentsVersion, Optional<DatasetManifest> docs) {
    Map<String, Object> inputs = new LinkedHashMap<>();
    inputs.put("job", "tokenize");
    inputs.put("format_version", SequencesTable.FORMAT_VERSION);
    inputs.put("documents", docs.map(m -> m.fingerprint())
        .orElse("version " + documentsVersion));
    inputs.put("tokenizer_sha256", tokenizer.sha256());
    inputs.put("bos", tokenizer.bosToken());
    inputs.put("eos", tokenizer.eosToken());
    // Only what decides the rows: not batch_size, not where the table or the tokenizer lie (the
    // tokenizer's sha256 is above).
    inputs.put("config", config.withOutput(null).withBatchSize(1).withTokenizer(null));
    return DatasetManifest.fingerprint(inputs);
  }

  private static DatasetManifest manifest(TokenizeConfig config, TokenizerFile tokenizer,
      String fingerprint, String documents, long documentsVersion,
      Optional<DatasetManifest> docs, Map<String, SplitCounts> counts, int bosId, int eosId) {
    DatasetManifest.TokenizerInfo info = new DatasetManifest.TokenizerInfo(tokenizer.location(),
        tokenizer.sha256(), tokenizer.vocabSize(), tokenizer.bosId() < 0 ? null : tokenizer.bosId(),
        tokenizer.eosId() < 0 ? null : tokenizer.eosId(), tokenizer.bosToken(),
        tokenizer.eosToken());
    String shardRule = "pmod(xxhash64('shard', doc_id), " + config.numShards() + "); rows packed"
        + " per (split, shard) in doc_id order, " + (bosId >= 0 ? "BOS before " : "")
        + (eosId >= 0 ? "EOS after " : "") + "each document; the incomplete last row dropped";
    return new DatasetManifest(DatasetManifest.FORMAT_VERSION, "tokenize", fingerprint,
        Instant.now().toString(), docs.map(DatasetManifest::source).orElse(null),
        docs.map(DatasetManifest::files).orElse(null), counts, documents, documentsVersion, info,
        config.seqLen(), config.numShards(), splitRule(config), shardRule,
        Configs.json().valueToTree(config));
  }

  private static Map<String, String> properties(TokenizeConfig config, TokenizerFile tokenizer,
      DatasetManifest manifest, int bosId, int eosId) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put(SequencesTable.PROP_FORMAT_VERSION, SequencesTable.FORMAT_VERSION);
    p.put(SequencesTable.PROP_SEQ_LEN, Integer.toString(config.seqLen()));
    p.put(SequencesTable.PROP_VOCAB_SIZE, Integer.toString(tokenizer.vocabSize()));
    p.put(SequencesTable.PROP_NUM_SHARDS, Integer.toString(config.numShards()));
    p.put(SequencesTable.PROP_BOS_ID, Integer.toString(tokenizer.bosId()));
    p.put(SequencesTable.PROP_EOS_ID, Integer.toString(tokenizer.eosId()));
    p.put(PROP_ADD_BOS, Boolean.toString(bosId >= 0));
    p.put(PROP_ADD_EOS, Boolean.toString(eosId >= 0));
    p.put(SequencesTable.PROP_VOCAB_FILE_SHA256, tokenizer.sha256());
    for (Map.Entry<String, SplitCounts> e : manifest.counts().entrySet()) {
      p.put("flashlm.rows." + e.getKey(), Long.toString(e.getValue().rows()));
    }
    return p;
  }

  private static String resolve(DatasetPaths paths, String location, String fallback) {
    if (location == null) {
      return fallback;
    }
    boolean absolute = location.startsWith("/") || new Path(location).toUri().getScheme() != null;
    return absolute ? location : paths.root() + "/" + location;
  }
}
