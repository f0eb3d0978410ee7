package flashlm.tests.train;

import static flashlm.tests.train.SmokeSequences.assertSameBits;
import static flashlm.tests.train.SmokeSequences.bits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.export.Exporter;
import flashlm.fs.AtomicFiles;
import flashlm.fs.LockFile;
import flashlm.tests.S3ProxyServer;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import flashlm.train.StopReason;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.RemoteIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints on s3a:// (S3Proxy on loopback): conf/v7-smoke.json trains on the TinyStories
 * fixture with its checkpoints in a bucket, stops, finds its newest checkpoint cut short (as an
 * interrupted copy leaves it), resumes from the previous one and ends bit for bit where an
 * uninterrupted run ends; then the checkpoint exports from the bucket. A write that fails
 * half-way leaves the old object whole.
 */
class S3CheckpointsTest {
  /** Its own bucket, so that its S3A settings (small multipart parts) are its own. */
  private static final String BUCKET = "flashlm-ckpt-test";
  private static final int STEPS = 6;
  /** S3A's smallest part: the 24 MB checkpoints go up as multipart uploads, as large ones do. */
  private static final String PART = "5M";

  @TempDir Path dir;

  private final ByteArrayOutputStream console = new ByteArrayOutputStream();

  private Trainer.Result train(Configuration conf, TrainConfig c, boolean resume, long stopAt) {
    return Trainer.builder(c).optHadoopConf(conf).optResume(resume).optStopAt(stopAt)
        .optOut(new PrintStream(console, true)).build().run();
  }

  /** Hadoop settings for {@link #BUCKET} on the shared server, created on first use. */
  private static synchronized Configuration s3a() {
    S3ProxyServer s3 = S3ProxyServer.shared();
    if (!bucketCreated) {
      s3.createBucket(BUCKET);
      bucketCreated = true;
    }
    Configuration conf = new Configuration();
    s3.configure(conf, BUCKET);
    conf.set("fs.s3a.bucket." + BUCKET + ".multipart.size", PART);
    conf.set("fs.s3a.bucket." + BUCKET + ".multipart.threshold", PART);
    return conf;
  }

  private static boolean bucketCreated;

  @Test
  void trainsResumesPastAnIncompleteCheckpointAndExportsOnS3a() throws Exception {
    long t0 = System.nanoTime();
    SmokeSequences.table();
    long t1 = System.nanoTime();
    Configuration conf = s3a();
    String root = "s3a://" + BUCKET + "/runs";
    String[] common = {"max_steps=" + STEPS, "checkpoint.every=2", "checkpoint.keep=3"};

    Trainer.Result a = train(conf, SmokeSequences.config(root + "/a", dir.resolve("a.jsonl"),
        common), false, -1);
    assertEquals(STEPS, a.steps());
    assertEquals(root + "/a/ckpt-0000000006.flm", a.checkpoint());

    TrainConfig b = SmokeSequences.config(root + "/b", dir.resolve("b.jsonl"), common);
    assertEquals(StopReason.STOP_AT, train(conf, b, false, 4).stopReason()); // checkpoints 2 and 4
    CheckpointDir bDir = new CheckpointDir(conf, root + "/b");
    String four = bDir.path(4);
    FileSystem fs = new org.apache.hadoop.fs.Path(root).getFileSystem(conf);
    byte[] whole = read(fs, four);
    try (FSDataOutputStream out = fs.create(new org.apache.hadoop.fs.Path(four), true)) {
      out.write(whole, 0, whole.length - 1000); // a copy cut short
    }

    Trainer.Result rest = train(conf, b, true, -1);
    assertEquals(STEPS, rest.steps());
    assertSameBits(bits(conf, a.checkpoint()), bits(conf, rest.checkpoint()),
        "uninterrupted vs resumed on s3a past an incomplete checkpoint");
    assertEquals(a.trainLoss(), rest.trainLoss());
    String log = console.toString(StandardCharsets.UTF_8);
    assertTrue(
        log.contains(
            "warning: --resume skips "
                + four
                + ", not a complete checkpoint: it is "
                + (whole.length - 1000)
                + " bytes but its header implies "
                + whole.length),
        log);
    assertTrue(log.contains("resumed from " + bDir.path(2) + " at step 2"), log);
    assertEquals(List.of(bDir.path(2), bDir.path(4), bDir.path(6)), bDir.list());
    List<String> names = names(fs, root);
    assertEquals(1, names.stream().filter(n -> n.startsWith("b/ckpt-0000000004.flm.incomplete."))
        .count(), names.toString());
    assertTrue(names.stream().noneMatch(n -> n.contains("_tmp.")),
        "object stores need no temporary names: " + names);

    // complete but changed after writing: an error naming the object, no silent fallback
    byte[] flipped = read(fs, bDir.path(6));
    flipped[flipped.length / 2] ^= 1;
    AtomicFiles.write(conf, bDir.path(8), flipped);
    IllegalArgumentException corrupt = assertThrows(IllegalArgumentException.class,
        () -> train(conf, SmokeSequences.config(root + "/b", dir.resolve("b.jsonl"), "max_steps=10",
            "checkpoint.every=2", "checkpoint.keep=3"), true, -1));
    assertTrue(corrupt.getMessage().contains(bDir.path(8) + " is corrupt (checksum mismatch)"),
        corrupt.getMessage());
    fs.delete(new org.apache.hadoop.fs.Path(bDir.path(8)), false);

    Exporter.Result exported = Exporter.export(conf, root + "/b", root + "/hf");
    assertEquals(bDir.path(6), exported.checkpoint());
    assertEquals(STEPS, exported.step());
    assertEquals(List.of(), exported.skipped());
    byte[] st = read(fs, exported.primary());
    long headerLength = ByteBuffer.wrap(st, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(8 + headerLength + 4 * exported.parameters(), st.length);
    String hfConfig = new String(read(fs, exported.files().get(1)), StandardCharsets.UTF_8);
    assertTrue(hfConfig.contains("\"step\" : " + STEPS) || hfConfig.contains("\"step\":" + STEPS),
        hfConfig);
    assertEquals(Checkpoint.readHeader(conf, bDir.path(6)).paramCount(), exported.parameters());
    System.out.printf("s3a checkpoints: table %.1f s; 3 runs, 8 checkpoints of %.1f MB, export:"
        + " %.1f s%n", (t1 - t0) / 1e9, whole.length / 1e6, (System.nanoTime() - t1) / 1e9);
  }

  /** A write that fails after a multipart upload began publishes nothing: the old object stays. */
  @Test
  void aFailedWriteLeavesTheOldObjectWhole() throws Exception {
    Configuration conf = s3a();
    String path = "s3a://" + BUCKET + "/abort/ckpt-0000000001.flm";
    byte[] old = "the old checkpoint".getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(conf, path, old);
    UncheckedIOException e = assertThrows(UncheckedIOException.class,
        () -> AtomicFiles.write(conf, path, out -> {
          out.write(new byte[12 << 20]); // two parts uploaded
          throw new IOException("disk gone");
        }));
    assertTrue(
        e.getMessage().contains(path) && e.getMessage().contains("disk gone"), e.getMessage());
    FileSystem fs = new org.apache.hadoop.fs.Path(path).getFileSystem(conf);
    assertArrayEquals(old, read(fs, path));
    assertEquals(List.of("ckpt-0000000001.flm"), names(fs, "s3a://" + BUCKET + "/abort"));
  }

  /**
   * A set (model.safetensors with config.json, as export writes it) whose primary fails after
   * parts of it were uploaded publishes nothing: the old set stays whole, no object is added.
   */
  @Test
  void aFailedSetPublishOnS3aKeepsTheOldSetWhole() throws Exception {
    Configuration conf = s3a();
    String root = "s3a://" + BUCKET + "/set";
    String primary = root + "/model.safetensors";
    byte[] old = "old weights".getBytes(StandardCharsets.UTF_8);
    byte[] oldConfig = "{\"old\": true}".getBytes(StandardCharsets.UTF_8);
    AtomicFiles.writeSet(conf, primary, out -> out.write(old),
        Map.of("config.json", out -> out.write(oldConfig)));
    UncheckedIOException e = assertThrows(UncheckedIOException.class,
        () -> AtomicFiles.writeSet(conf, primary, out -> {
          out.write(new byte[12 << 20]); // two parts uploaded
          throw new IOException("disk gone");
        }, Map.of("config.json", out -> out.write("{}".getBytes(StandardCharsets.UTF_8)))));
    assertTrue(e.getMessage().contains(primary) && e.getMessage().contains("disk gone"),
        e.getMessage());
    FileSystem fs = new org.apache.hadoop.fs.Path(root).getFileSystem(conf);
    assertArrayEquals(old, read(fs, primary));
    assertArrayEquals(oldConfig, read(fs, root + "/config.json"));
    assertEquals(List.of("config.json", "model.safetensors"), names(fs, root));
  }

  /** The checkpoint directory's lock on s3a: a second trainer is refused, naming the first. */
  @Test
  void aSecondTrainerIsRefusedByTheLockOnS3a() throws Exception {
    Configuration conf = s3a();
    CheckpointDir d = new CheckpointDir(conf, "s3a://" + BUCKET + "/locked");
    try (LockFile first = d.lock(line -> {
      throw new AssertionError(line);
    })) {
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.lock(l -> {}));
      assertTrue(e.getMessage().contains("/locked/" + CheckpointDir.LOCK)
          && e.getMessage().contains("pid " + ProcessHandle.current().pid())
          && e.getMessage().contains("hadoop fs -rm s3a://"), e.getMessage());
      first.check();
    }
    FileSystem fs = new org.apache.hadoop.fs.Path("s3a://" + BUCKET).getFileSystem(conf);
    assertEquals(List.of(), names(fs, "s3a://" + BUCKET + "/locked"));
  }

  /**
   * The README's way to give S3 credentials without a command line: a profile in an AWS
   * credentials file, named by S3A's profile provider; no key in any Hadoop setting.
   */
  @Test
  void s3aCredentialsComeFromAProfileFileNotTheCommandLine() throws Exception {
    String bucket = "flashlm-profile-test";
    S3ProxyServer s3 = S3ProxyServer.shared();
    s3.createBucket(bucket);
    Path credentials = dir.resolve("credentials");
    Files.writeString(credentials, "[flashlm]\naws_access_key_id = " + S3ProxyServer.ACCESS_KEY
        + "\naws_secret_access_key = " + S3ProxyServer.SECRET_KEY + "\n");
    Configuration conf = new Configuration();
    String p = "fs.s3a.bucket." + bucket + ".";
    s3.hadoopConf(bucket).forEach((k, v) -> {
      if (!k.endsWith(".access.key") && !k.endsWith(".secret.key")) {
        conf.set(k, v);
      }
    });
    conf.set(p + "aws.credentials.provider",
        "org.apache.hadoop.fs.s3a.auth.ProfileAWSCredentialsProvider");
    conf.set(p + "auth.profile.name", "flashlm");
    conf.set(p + "auth.profile.file", credentials.toString());
    String path = "s3a://" + bucket + "/hello.txt";
    AtomicFiles.write(conf, path, "hello".getBytes(StandardCharsets.UTF_8));
    FileSystem fs = new org.apache.hadoop.fs.Path(path).getFileSystem(conf);
    assertEquals("hello", new String(read(fs, path), StandardCharsets.UTF_8));
    for (java.util.Map.Entry<String, String> e : conf) {
      assertTrue(!e.getValue().contains(S3ProxyServer.SECRET_KEY), e.getKey());
    }
  }

  private static byte[] read(FileSystem fs, String path) throws IOException {
    try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(path))) {
      return in.readAllBytes();
    }
  }

  /** Every object under {@code root}, relative to it. */
  private static List<String> names(FileSystem fs, String root) throws IOException {
    List<String> out = new ArrayList<>();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(new org.apache.hadoop.fs.Path(root), true);
    String prefix = fs.makeQualified(new org.apache.hadoop.fs.Path(root)).toString() + "/";
    while (it.hasNext()) {
      out.add(it.next().getPath().toString().substring(prefix.length()));
    }
    out.sort(null);
    return out;
  }
}
