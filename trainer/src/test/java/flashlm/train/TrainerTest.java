package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.data.SequencesFixture;
import flashlm.table.SequencesTable;
import flashlm.model.ParamLayout;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class TrainerTest {
  private static final int SEQ = 8;
  private static final int VOCAB = 64;

  /** fp32 kernels vs the double reference after 6 updates of a tiny model. */
  private static final double NATIVE_LOSS_TOLERANCE = 1e-4;

  @TempDir
  Path dir;

  private final ByteArrayOutputStream console = new ByteArrayOutputStream();

  private String table() {
    Path t = dir.resolve("table");
    if (!Files.exists(t)) {
      SequencesFixture.random(t, SEQ, VOCAB, 2, 7, 3, 11); // 14 train rows: 4 batches of 3
    }
    return t.toString();
  }

  /** A tiny transformer run over the fixture table; {@code extra} overrides come last. */
  private TrainConfig config(String run, String optimizer, String... extra) {
    List<String> o = new ArrayList<>(List.of("backend=reference", "model.arch=transformer",
        "model.vocab_size=" + VOCAB, "model.d_model=16", "model.n_layers=1", "model.n_heads=2",
        "model.ffn_dim=24", "model.seq_len=" + SEQ, "data.table=" + table(), "data.batch_size=3",
        "data.grad_accum=2", "data.shuffle_window=" + 3 * (SEQ + 1), "max_steps=6",
        "schedule.warmup=2", "eval_every=3", "eval_batches=2", "log.every=1",
        "checkpoint.dir=" + dir.resolve(run), "checkpoint.every=2", "checkpoint.keep=2",
        "log.metrics=" + dir.resolve(run + ".jsonl")));
    if (optimizer.equals("sgd")) {
      o.addAll(List.of("optimizer.type=sgd", "optimizer.lr=0.05", "schedule.type=cosine"));
    }
    o.addAll(List.of(extra));
    return Configs.load(null, TrainConfig.class, o);
  }

  private Trainer.Result train(TrainConfig c, boolean resume, long stopAt) {
    return Trainer.builder(c).optResume(resume).optStopAt(stopAt)
        .optOut(new PrintStream(console, true)).build().run();
  }

  /** Parameters then optimizer state of a checkpoint, as raw bits. */
  private static int[] bits(String checkpoint) {
    Configuration conf = new Configuration();
    Checkpoint.Header h = Checkpoint.readHeader(conf, checkpoint);
    FloatBuffer p = FloatBuffer.allocate((int) h.paramCount());
    FloatBuffer s = FloatBuffer.allocate((int) h.optimizerCount());
    Checkpoint.read(conf, checkpoint, p, s);
    int[] out = new int[p.capacity() + s.capacity()];
    for (int i = 0; i < p.capacity(); i++) {
      out[i] = Float.floatToRawIntBits(p.get(i));
    }
    for (int i = 0; i < s.capacity(); i++) {
      out[p.capacity() + i] = Float.floatToRawIntBits(s.get(i));
    }
    return out;
  }

  private static void assertSameBits(int[] a, int[] b, String what) {
    assertEquals(a.length, b.length, what);
    int first = -1;
    int count = 0;
    for (int i = 0; i < a.length; i++) {
      if (a[i] != b[i]) {
        first = first < 0 ? i : first;
        count++;
      }
    }
    assertEquals(
        0,
        count,
        what
            + ": "
            + count
            + " values differ, first at "
            + first
            + (first < 0
                ? ""
                : " ("
                    + Float.intBitsToFloat(a[first])
                    + " vs "
                    + Float.intBitsToFloat(b[first])
                    + ")"));
  }

  @ParameterizedTest
  @CsvSource({"adamw, reference, false", "sgd, reference, false", "adamw, native, false",
      "sgd, native, false", "adamw, native, true", "sgd, reference, true"})
  void reproducibleBitForBitAndResumesExactly(String optimizer, String backend, boolean alpha) {
    String be = "backend=" + backend;
    String la = "model.learnable_alpha=" + alpha;
    Trainer.Result a = train(config("a", optimizer, be, la), false, -1);
    Trainer.Result again = train(config("again", optimizer, be, la), false, -1);
    assertEquals(6, a.steps());
    assertEquals(StopReason.MAX_STEPS, a.stopReason());
    assertSameBits(bits(a.checkpoint()), bits(again.checkpoint()), "two identical runs");

    Trainer.Result half = train(config("b", optimizer, be, la), false, 3); // mid-epoch, odd step
    assertEquals(StopReason.STOP_AT, half.stopReason());
    assertEquals(3, half.steps());
    Trainer.Result rest = train(config("b", optimizer, be, la), true, -1);
    assertEquals(6, rest.steps());
    assertSameBits(bits(a.checkpoint()), bits(rest.checkpoint()), "uninterrupted vs resumed at 3");
    assertEquals(a.trainLoss(), rest.trainLoss());
    assertEquals(a.valLoss(), rest.valLoss());
    assertEquals(
        2, new CheckpointDir(new Configuration(), dir.resolve("b").toString()).list().size());
    if (alpha) { // the alphas (initialised to 1) are trained and checkpointed
      int[] p = bits(rest.checkpoint());
      int moved = 0;
      ParamLayout layout = ParamLayout.of(config("b", optimizer, be, la).model());
      for (ParamLayout.Tensor t : layout.tensors()) {
        if (t.name().endsWith(".alpha") && p[(int) t.offset()] != Float.floatToRawIntBits(1f)) {
          moved++;
        }
      }
      assertEquals(7, moved, "alphas that moved from 1 (of 7)");
    }
  }

  /**
   * A newest checkpoint cut short (an interrupted copy), or of the right length but zeros from the
   * middle on (a power cut before its data reached the disk), is skipped with a warning naming it
   * and set aside; the run resumes from the previous one and still ends bit for bit where an
   * uninterrupted run does.
   */
  @ParameterizedTest
  @ValueSource(strings = {"truncated", "zero-filled"})
  void resumeSkipsAnIncompleteNewestCheckpoint(String damage) throws Exception {
    Trainer.Result a = train(config("a", "adamw"), false, -1);
    train(config("b", "adamw"), false, 4); // checkpoints after 2 and 4 updates
    Path four = dir.resolve("b/ckpt-0000000004.flm");
    byte[] whole = Files.readAllBytes(four);
    byte[] damaged = java.util.Arrays.copyOf(whole, whole.length / 2);
    String why = "it is " + whole.length / 2 + " bytes but its header implies " + whole.length;
    if (damage.equals("zero-filled")) {
      damaged = whole.clone();
      java.util.Arrays.fill(damaged, whole.length / 2, whole.length, (byte) 0);
      why = "it is zero-filled at its end, where the end magic belongs: its last data never"
          + " reached the disk";
    }
    Files.write(four, damaged);

    Trainer.Result rest = train(config("b", "adamw"), true, -1);
    assertEquals(6, rest.steps());
    assertSameBits(bits(a.checkpoint()), bits(rest.checkpoint()), "uninterrupted vs resumed at 2");
    String log = console.toString();
    assertTrue(log.contains("warning: --resume skips ") && log.contains(four + ", not a complete"
        + " checkpoint: " + why), log);
    assertTrue(log.contains("ckpt-0000000002.flm at step 2"), log);
    try (var files = Files.list(dir.resolve("b"))) {
      assertEquals(1, files.filter(f -> f.getFileName().toString()
          .startsWith("ckpt-0000000004.flm.incomplete.")).count());
    }
  }

  /**
   * Two trainers on one checkpoint directory: while the first runs (held at its first clock
   * read), the second refuses, naming the first's host and pid; the first then finishes and
   * releases the lock. A lock left by a process of this host that is gone is taken over.
   */
  @Test
  void aResumeReadsTheVersionItsCheckpointTrainedOnAfterTheTableMovedOn() {
    SequencesFixture table = SequencesFixture.random(dir.resolve("table"), SEQ, VOCAB, 2, 7, 3,
        11); // what table() makes
    Trainer.Result a = train(config("a", "adamw"), false, -1);
    Trainer.Result half = train(config("b", "adamw"), false, 3);
    assertEquals(3, half.steps());
    // Version 1 adds train rows to shard 0: a resume that read it would see other batches.
    table.commit(List.of(table.add(SequencesTable.TRAIN, 0,
        SequencesFixture.randomRows(7, SEQ, VOCAB, 5), 0)));
    Trainer.Result rest = train(config("b", "adamw"), true, -1);
    assertEquals(6, rest.steps());
    assertSameBits(bits(a.checkpoint()), bits(rest.checkpoint()),
        "uninterrupted vs resumed at 3 after version 1 was committed");
    assertEquals(0, Checkpoint.readHeader(new Configuration(), rest.checkpoint()).tableVersion());
  }

  @Test
  void aSecondTrainerOnTheSameCheckpointDirectoryRefuses() throws Exception {
    java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    AtomicLong now = new AtomicLong();
    java.util.function.LongSupplier held = () -> {
      if (running.getCount() > 0) {
        running.countDown();
        try {
          go.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return now.addAndGet(10);
    };
    java.util.concurrent.CompletableFuture<Trainer.Result> first =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> Trainer.builder(config("r",
            "adamw")).optClock(held).optOut(new PrintStream(console, true)).build().run());
    assertTrue(running.await(60, java.util.concurrent.TimeUnit.SECONDS), "the first one runs");
    IllegalStateException e;
    try {
      e = assertThrows(IllegalStateException.class, () -> train(config("r", "adamw"), true, -1));
    } finally {
      go.countDown();
    }
    String lock = dir.resolve("r").resolve(CheckpointDir.LOCK).toString();
    assertTrue(e.getMessage().contains("checkpoint.dir ") && e.getMessage().contains(" is in use")
        && e.getMessage().contains(lock) && e.getMessage().contains(
        ", pid " + ProcessHandle.current().pid() + ", since "), e.getMessage());
    assertEquals(6, first.get().steps());
    assertTrue(Files.notExists(Path.of(lock)), "released at the end of the run");

    String host = java.net.InetAddress.getLocalHost().getHostName();
    Files.writeString(Path.of(lock), "{\"host\": \"" + host + "\", \"pid\": " + Integer.MAX_VALUE
        + ", \"since\": \"2020-01-01T00:00:00Z\", \"nonce\": \"n\"}");
    assertEquals(8, train(config("r", "adamw", "max_steps=8"), true, -1).steps());
    assertTrue(console.toString().contains("warning: checkpoint.dir ") && console.toString()
        .contains("pid " + Integer.MAX_VALUE + ", since 2020-01-01T00:00:00Z, a process that is no"
        + " longer running on this host; taking the lock over"), console.toString());
  }

  /**
   * Float kernels against the double reference, quantization off: the same run, the same losses.
   */
  @ParameterizedTest
  @ValueSource(strings = {"adamw", "sgd"})
  void nativeBackendTrainsLikeTheReference(String optimizer) {
    Trainer.Result ref = train(config("ref", optimizer, "model.quant=none"), false, -1);
    Trainer.Result nat = train(config("nat", optimizer, "model.quant=none", "backend=native"),
        false, -1);
    System.out.printf("%s: train loss reference %.7f native %.7f; validation %.7f vs %.7f%n",
        optimizer, ref.trainLoss(), nat.trainLoss(), ref.valLoss(), nat.valLoss());
    assertEquals(ref.trainLoss(), nat.trainLoss(), NATIVE_LOSS_TOLERANCE);
    assertEquals(ref.valLoss(), nat.valLoss(), NATIVE_LOSS_TOLERANCE);
  }

  @Test
  void refusesToMixRuns() {
    train(config("r", "adamw"), false, -1);
    ConfigException again = assertThrows(ConfigException.class,
        () -> train(config("r", "adamw"), false, -1));
    assertTrue(again.getMessage().contains("--resume"), again.getMessage());
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> train(config("r", "adamw", "model.d_model=32"), true, -1));
    assertTrue(other.getMessage().contains("config saved beside it"), other.getMessage());
    IllegalArgumentException seq = assertThrows(IllegalArgumentException.class,
        () -> train(config("s", "adamw", "model.seq_len=16"), false, -1));
    assertTrue(seq.getMessage().contains("seq_len 8 but model.seq_len is 16"), seq.getMessage());
  }

  @Test
  void aRunResumesWithTheOtherBackwardDxAndDw() {
    Trainer.Result half = train(config("dx", "adamw", "backend=native", "model.backward_dx=int16",
        "model.backward_dw=int16"), false, 3);
    assertEquals(3, half.steps());
    Trainer.Result rest = train(config("dx", "adamw", "backend=native", "model.backward_dx=fp32",
        "model.backward_dw=fp32"), true, -1);
    assertEquals(6, rest.steps());
    assertTrue(console.toString().contains("model.backward_dx"), console.toString());
  }

  @Test
  void timeBudgetOpensADecayWindowThenStops() throws Exception {
    TrainConfig c = config("t", "adamw", "max_steps=1000", "time_budget=2s",
        "schedule.decay_fraction=0.25", "eval_every=0", "checkpoint.every=0");
    AtomicLong now = new AtomicLong();
    Trainer.Result r = Trainer.builder(c).optClock(() -> now.addAndGet(10))
        .optOut(new PrintStream(console, true)).build().run();
    assertEquals(StopReason.TIME_BUDGET, r.stopReason());
    List<JsonNode> train = new ArrayList<>();
    for (String line : Files.readAllLines(dir.resolve("t.jsonl"))) {
      JsonNode n = new ObjectMapper().readTree(line);
      if (n.get("type").asText().equals("train")) {
        train.add(n);
      }
    }
    assertEquals(r.steps(), train.size());
    String log = console.toString();
    int at = log.indexOf("time budget:");
    assertTrue(at >= 0, log);
    // the window holds a third as many updates as the stable phase (0.25 / 0.75)
    long start = Long.parseLong(log.substring(log.indexOf("at step ", at) + 8).split(";")[0]);
    assertEquals(start + (long) Math.ceil(start / 3.0 - 1e-9), r.steps());
    double peak = c.optimizer().lr();
    assertEquals(peak, train.get((int) start - 1).get("lr").asDouble(), 1e-12);
    double last = train.get(train.size() - 1).get("lr").asDouble();
    assertTrue(last < peak / (r.steps() - start) * 1.01, "last lr " + last);
  }
}
