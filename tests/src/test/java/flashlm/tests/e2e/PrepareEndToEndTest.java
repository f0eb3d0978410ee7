package flashlm.tests.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.jobs.Launcher;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.hash.Sha256;
import flashlm.tests.S3ProxyServer;
import flashlm.tests.SparkTestSession;
import flashlm.tests.TableAssertions;
import flashlm.tests.fixtures.FineWebEduFixture;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.hub.HubFixtures;
import flashlm.tests.hub.HubServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The product as a user runs it: {@code flashlm prepare} (download from the hub fixture on
 * loopback, ingest, tokenize) through the launcher, on local disk and on {@code s3a://}, then the
 * manifest the tables carry, the rows, and a re-run that changes nothing.
 */
class PrepareEndToEndTest {
  private static final int SEQ_LEN = 64;
  private static final String LLAMA = "meta-llama/Llama-2-7b-hf";
  private static HubServer hub;
  private static HubServer.Repo tinyStories;
  private static HubServer.Repo fineWeb;
  private static SparkSession spark;

  @TempDir static Path dir;

  @BeforeAll
  static void start() throws Exception {
    spark = SparkTestSession.get();
    hub = HubServer.start();
    tinyStories = HubFixtures.tinyStories(hub, "roneneldan/TinyStories");
    fineWeb = hub.repo("HuggingFaceFW/fineweb-edu");
    for (Path f : FineWebEduFixture.writeSample(dir.resolve("fineweb-src"), 2)) {
      String path = dir.resolve("fineweb-src").relativize(f).toString();
      fineWeb.addLfsFile(path, Files.readAllBytes(f));
    }
    fineWeb.addFile("README.md", "# FineWeb-Edu\n".getBytes(StandardCharsets.UTF_8));
    hub.repo(LLAMA)
        .addLfsFile("tokenizer.json", Files.readAllBytes(Llama2Fixture.tokenizerJson()))
        .addFile("tokenizer_config.json", HubFixtures.resource("llama2/tokenizer_config.json"))
        .addFile("special_tokens_map.json", HubFixtures.resource("llama2/special_tokens_map.json"))
        .addLfsFile("model-00001-of-00002.safetensors", new byte[4096]);
  }

  @AfterAll
  static void stop() {
    hub.close();
  }

  @Test
  void prepareTinyStoriesFromTheHubOnLocalDisk() throws Exception {
    String dataDir = dir.resolve("tinystories").toString();
    Path conf = writeConf("tinystories.yaml", dataDir, """
        download:
          repo: roneneldan/TinyStories
          revision: main
          patterns: ["%s"]
          endpoint: %s
        ingest:
          format: text
          separator: "<|endoftext|>"
          validation_files: ["*valid*"]
        tokenize:
          tokenizer: hf://%s
          seq_len: %d
          num_shards: 2
          add_eos: true
        """.formatted(HubFixtures.TINYSTORIES_PATTERN, hub.endpoint(), LLAMA, SEQ_LEN));

    assertEquals(0, launch("prepare", "--conf", conf.toString()));

    String sequences = dataDir + "/sequences";
    DatasetManifest m = TableAssertions.latestManifest(spark, sequences);
    assertEquals("roneneldan/TinyStories", m.source().repo());
    assertEquals(tinyStories.commit(), m.source().resolvedCommit());
    assertSourceFiles(m, tinyStories, List.of(HubFixtures.TINYSTORIES_TRAIN,
        HubFixtures.TINYSTORIES_VALID));
    assertTokenizer(m);
    assertRows(sequences, m);
    assertTrue(m.counts().get("validation").rows() > 0, "the valid file is the validation split");
    assertTrue(m.tokenizer().location().contains("/tokenizers/" + LLAMA), m.tokenizer().location());
    assertEquals(List.of(), hub.requests("cdn", "safetensors"), "only the tokenizer files");

    // A re-run downloads nothing and commits nothing.
    long documentsVersion = TableAssertions.version(spark, dataDir + "/documents");
    long sequencesVersion = TableAssertions.version(spark, sequences);
    hub.clearRequests();
    assertEquals(0, launch("prepare", "--conf", conf.toString()));
    assertEquals(List.of(), hub.requests("cdn", ""), "no file fetched again");
    assertEquals(documentsVersion, TableAssertions.version(spark, dataDir + "/documents"));
    assertEquals(sequencesVersion, TableAssertions.version(spark, sequences));
  }

  @Test
  void prepareFineWebEduFromTheHubOnS3a() throws Exception {
    S3ProxyServer s3 = S3ProxyServer.shared();
    s3.configure(spark);
    String dataDir = s3.uri("e2e/fineweb-edu");
    Path conf = writeConf("fineweb-edu.yaml", dataDir, """
        download:
          repo: HuggingFaceFW/fineweb-edu
          revision: main
          patterns: ["sample/10BT/*.parquet"]
          endpoint: %s
        ingest:
          format: parquet
          expected_schema: fineweb-edu
        tokenize:
          tokenizer: %s
          seq_len: %d
          num_shards: 3
          validation_ratio: 0.1
          add_bos: true
          add_eos: false
        """.formatted(hub.endpoint(), Llama2Fixture.tokenizerJson(), SEQ_LEN));

    assertEquals(0, launch("prepare", "--conf", conf.toString()));

    String sequences = dataDir + "/sequences";
    DatasetManifest m = TableAssertions.latestManifest(spark, sequences);
    assertEquals("HuggingFaceFW/fineweb-edu", m.source().repo());
    assertEquals(fineWeb.commit(), m.source().resolvedCommit());
    assertSourceFiles(m, fineWeb, List.of("sample/10BT/000_00000.parquet",
        "sample/10BT/001_00000.parquet"));
    assertTokenizer(m);
    assertEquals(Llama2Fixture.BOS, m.tokenizer().bosId());
    assertRows(sequences, m);
    // The documents keep FineWeb-Edu's own columns as they are.
    Row doc = spark.read().format("delta").load(dataDir + "/documents")
        .select("id", "dump", "url", "language_score", "token_count", "int_score").head();
    assertTrue(doc.getString(0).startsWith("<urn:uuid:") || !doc.getString(0).isEmpty());
    Map<String, String> props = TableAssertions.properties(spark, sequences);
    assertEquals(String.valueOf(SEQ_LEN), props.get("flashlm.seq_len"));
    assertEquals("3", props.get("flashlm.num_shards"));
  }

  @Test
  void prepareWithItsOwnBpeTokenizer() throws Exception {
    String dataDir = dir.resolve("tinystories-bpe").toString();
    Path conf = writeConf("bpe.yaml", dataDir, """
        download:
          repo: roneneldan/TinyStories
          patterns: ["%s"]
          endpoint: %s
        ingest:
          validation_files: []
        tokenizer_training:
          vocab_size: 512
        tokenize:
          seq_len: %d
          num_shards: 2
          validation_ratio: 0.05
          eos_token: "<|endoftext|>"
        """.formatted(HubFixtures.TINYSTORIES_TRAIN, hub.endpoint(), SEQ_LEN));

    assertEquals(0, launch("prepare", "--conf", conf.toString()));

    String tokenizer = dataDir + "/tokenizer/tokenizer.json";
    DatasetManifest m = TableAssertions.latestManifest(spark, dataDir + "/sequences");
    assertEquals(512, m.tokenizer().vocabSize());
    assertEquals(511, m.tokenizer().eosId(), "<|endoftext|> is the last id");
    assertEquals(Sha256.hex(Files.readAllBytes(Path.of(tokenizer))), m.tokenizer().sha256());
    assertTrue(Files.readString(Path.of(dataDir, "tokenizer", "training.json"))
        .contains("\"documents_version\" : 0"));
    Row r = spark.read().format("delta").load(dataDir + "/sequences")
        .selectExpr("max(array_max(tokens))", "min(size(tokens))").head();
    assertTrue(r.getInt(0) < 512 && r.getInt(1) == SEQ_LEN + 1);
  }

  private static void assertSourceFiles(DatasetManifest m, HubServer.Repo repo,
      List<String> paths) {
    assertEquals(paths, m.files().stream().map(DatasetManifest.FileEntry::path).sorted().toList());
    for (DatasetManifest.FileEntry f : m.files()) {
      assertEquals(Sha256.hex(repo.file(f.path()).bytes()), f.sha256(), f.path());
    }
  }

  private static void assertTokenizer(DatasetManifest m) throws Exception {
    assertNotNull(m.tokenizer());
    assertEquals(Sha256.hex(Files.readAllBytes(Llama2Fixture.tokenizerJson())),
        m.tokenizer().sha256());
    assertEquals(Llama2Fixture.VOCAB_SIZE, m.tokenizer().vocabSize());
    assertEquals(SEQ_LEN, m.seqLen());
  }

  /** Every row holds seq_len + 1 ids below the vocabulary size; counts match the manifest. */
  private static void assertRows(String sequences, DatasetManifest m) {
    Row r = spark.read().format("delta").load(sequences).selectExpr(
        "count(*)", "min(size(tokens))", "max(size(tokens))",
        "max(array_max(tokens))", "min(array_min(tokens))").head();
    long expectedRows = m.counts().values().stream().mapToLong(DatasetManifest.SplitCounts::rows)
        .sum();
    assertEquals(expectedRows, r.getLong(0));
    assertTrue(expectedRows > 0);
    assertEquals(SEQ_LEN + 1, r.getInt(1));
    assertEquals(SEQ_LEN + 1, r.getInt(2));
    assertTrue(r.getInt(3) < Llama2Fixture.VOCAB_SIZE && r.getInt(4) >= 0);
  }

  private static Path writeConf(String name, String dataDir, String rest) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, "data_dir: " + dataDir + "\n" + rest);
    return f;
  }

  private static int launch(String... args) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Launcher.run(null, args, System.out, new PrintStream(err, true,
        StandardCharsets.UTF_8));
    String text = err.toString(StandardCharsets.UTF_8);
    System.err.print(text);
    return status;
  }
}
