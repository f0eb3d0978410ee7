package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.Configs;
import flashlm.model.ParamLayout;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  @TempDir
  Path dir;

  private final Configuration conf = new Configuration();

  static TrainConfig config(Path dir) {
    return Configs.load(null, TrainConfig.class, List.of("model.arch=ffn", "model.vocab_size=32",
        "model.d_model=8", "model.n_layers=1", "model.ffn_dim=16", "model.seq_len=4",
        "data.table=" + dir.resolve("table"), "data.batch_size=2", "max_steps=10",
        "checkpoint.dir=" + dir.resolve("ckpt")));
  }

  private static FloatBuffer random(int n, long seed) {
    FloatBuffer b =
        ByteBuffer.allocateDirect(n * 4).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < n; i++) {
      b.put(i, (float) r.nextGaussian());
    }
    b.put(0, Float.NaN); // bit patterns survive, not just values
    b.put(1, -0.0f);
    return b;
  }

  private static Checkpoint.Header header(
      TrainConfig c, long step, ParamLayout layout, long state) {
    return new Checkpoint.Header(c, step, 1234, 7, "t", 3, 1, 5, 40L, 50L, 0.5, "adamw",
        layout.tensors(), layout.size(), state, 1, null);
  }

  @Test
  void roundTripsBitForBit() {
    TrainConfig c = config(dir);
    ParamLayout layout = ParamLayout.of(c.model());
    int p = (int) layout.size();
    FloatBuffer params = random(p, 1);
    FloatBuffer state = random(2 * p, 2);
    String path = dir.resolve("ckpt/ckpt-0000000004.flm").toString();
    Checkpoint.write(conf, path, header(c, 4, layout, 2L * p), params, state);

    FloatBuffer p2 = FloatBuffer.allocate(p);
    FloatBuffer s2 = FloatBuffer.allocate(2 * p);
    Checkpoint.Header h = Checkpoint.read(conf, path, p2, s2);
    assertEquals(header(c, 4, layout, 2L * p), h);
    assertEquals(c, h.config());
    assertEquals(layout.tensors(), h.layout().tensors());
    for (int i = 0; i < p; i++) {
      assertEquals(
          Float.floatToRawIntBits(params.get(i)), Float.floatToRawIntBits(p2.get(i)), "param " + i);
    }
    for (int i = 0; i < 2 * p; i++) {
      assertEquals(
          Float.floatToRawIntBits(state.get(i)), Float.floatToRawIntBits(s2.get(i)), "state " + i);
    }
    assertEquals(h, Checkpoint.readHeader(conf, path));
  }

  @Test
  void damagedFilesSayWhatToDo() throws Exception {
    TrainConfig c = config(dir);
    ParamLayout layout = ParamLayout.of(c.model());
    int p = (int) layout.size();
    Path file = dir.resolve("c.flm");
    Checkpoint.write(conf, file.toString(), header(c, 1, layout, p), random(p, 1), random(p, 2));
    byte[] good = Files.readAllBytes(file);
    // no side file of Hadoop's checksummed local filesystem, which would catch damage before ours
    assertTrue(Files.notExists(dir.resolve(".c.flm.crc")));

    Files.write(file, "not a checkpoint at all".getBytes());
    assertMessage(file, p, p, "not a FlashLM checkpoint");

    byte[] v2 = good.clone();
    v2[8] = 2;
    Files.write(file, v2);
    assertMessage(file, p, p, "format version 2; this build reads version 1");

    Files.write(file, java.util.Arrays.copyOf(good, good.length - 100));
    assertMessage(file, p, p, "truncated");

    byte[] flipped = good.clone();
    flipped[good.length - 20] ^= 1;
    Files.write(file, flipped);
    assertMessage(file, p, p, "checksum mismatch");

    Files.write(file, good);
    assertMessage(file, p + 1, p, "holds " + p + " parameters but the model here has " + (p + 1));
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      assertTrue(f.length() > 4L * 2 * p);
    }
  }

  private void assertMessage(Path file, int p, int s, String expected) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Checkpoint.read(
                    conf, file.toString(), FloatBuffer.allocate(p), FloatBuffer.allocate(s)));
    assertTrue(e.getMessage().contains(expected) && e.getMessage().contains(file.toString()),
        e.getMessage());
  }

  private static final java.util.function.Consumer<CheckpointDir.Incomplete> NO_SKIPS = bad -> {
    throw new AssertionError("unexpected incomplete checkpoint " + bad);
  };

  /**
   * A newer file with a checkpoint's name that is cut short (anywhere: in the tensors, in the
   * header, empty) is skipped with its reason in favour of the newest complete one; setAside
   * moves it out of listings.
   */
  @Test
  void latestSkipsIncompleteFilesAndNamesWhy() throws Exception {
    TrainConfig c = config(dir);
    ParamLayout layout = ParamLayout.of(c.model());
    int p = (int) layout.size();
    CheckpointDir d = new CheckpointDir(conf, dir.resolve("run").toString());
    Checkpoint.write(conf, d.path(2), header(c, 2, layout, p), random(p, 2), random(p, 0));
    Checkpoint.write(conf, d.path(4), header(c, 4, layout, p), random(p, 4), random(p, 0));
    byte[] whole = Files.readAllBytes(Path.of(java.net.URI.create(d.path(4))));
    // as an interrupted copy leaves them, without Hadoop's .crc side files
    Files.write(
        Path.of(java.net.URI.create(d.path(6))), java.util.Arrays.copyOf(whole, whole.length - 9));
    Files.write(Path.of(java.net.URI.create(d.path(8))), java.util.Arrays.copyOf(whole, 40));
    Files.write(Path.of(java.net.URI.create(d.path(9))), new byte[0]);

    List<CheckpointDir.Incomplete> skipped = new java.util.ArrayList<>();
    assertEquals(d.path(4), d.latest(skipped::add).orElseThrow());
    assertEquals(List.of(d.path(9), d.path(8), d.path(6)),
        skipped.stream().map(CheckpointDir.Incomplete::path).toList());
    assertTrue(
        skipped.get(0).reason().contains("ends inside its header (0 bytes)"), skipped.toString());
    assertTrue(
        skipped.get(1).reason().contains("ends inside its header (40 bytes)"), skipped.toString());
    assertTrue(skipped.get(2).reason().contains("is " + (whole.length - 9) + " bytes but its header"
        + " implies " + whole.length), skipped.toString());

    String moved = d.setAside(skipped.get(2));
    assertTrue(moved.startsWith(d.path(6) + ".incomplete."), moved);
    assertTrue(Files.exists(Path.of(java.net.URI.create(moved))));
    assertEquals(List.of(d.path(2), d.path(4), d.path(8), d.path(9)), d.list());

    // complete but changed after writing: not skipped, refused on reading with the file's name
    byte[] flipped = whole.clone();
    flipped[whole.length - 30] ^= 1;
    Files.write(Path.of(java.net.URI.create(d.path(4))), flipped);
    assertEquals(d.path(4), d.latest(bad -> {}).orElseThrow());
    assertMessage(Path.of(java.net.URI.create(d.path(4))), p, p, "checksum mismatch");
  }

  @Test
  void directoryKeepsTheNewestAndIgnoresTemporaries() throws Exception {
    TrainConfig c = config(dir);
    ParamLayout layout = ParamLayout.of(c.model());
    int p = (int) layout.size();
    CheckpointDir d = new CheckpointDir(conf, dir.resolve("run").toString());
    assertTrue(d.latest(NO_SKIPS).isEmpty());
    for (long step : new long[] {10, 2, 30, 4}) {
      Checkpoint.write(
          conf, d.path(step), header(c, step, layout, p), random(p, step), random(p, 0));
    }
    Path tmp = dir.resolve("run/_tmp.ckpt-0000000099.flm.1");
    Files.writeString(tmp, "partial");
    assertEquals(d.path(30), d.latest(NO_SKIPS).orElseThrow());
    d.prune(2);
    assertEquals(List.of(d.path(10), d.path(30)), d.list());
    assertTrue(Files.notExists(tmp), "a dead writer's temporary is pruned");
    d.writeConfig(Configs.toJson(c));
    assertEquals(c, Configs.load(dir.resolve("run/config.json"), TrainConfig.class, List.of()));
  }

  /**
   * After a power cut, a file of the right length that reads as zeros (all of it, or from some
   * block to its end, as delayed allocation leaves it) is skipped like a truncated one, with its
   * name and why; reading it says the same rather than "corrupt".
   */
  @Test
  void latestSkipsAZeroFilledNewestCheckpointAndNamesIt() throws Exception {
    TrainConfig c = config(dir);
    ParamLayout layout = ParamLayout.of(c.model());
    int p = (int) layout.size();
    CheckpointDir d = new CheckpointDir(conf, dir.resolve("run").toString());
    Checkpoint.write(conf, d.path(2), header(c, 2, layout, p), random(p, 2), random(p, 0));
    Checkpoint.write(conf, d.path(4), header(c, 4, layout, p), random(p, 4), random(p, 0));
    Path four = Path.of(java.net.URI.create(d.path(4)));
    byte[] whole = Files.readAllBytes(four);
    byte[] tail = whole.clone();
    java.util.Arrays.fill(tail, whole.length / 2, whole.length, (byte) 0); // past the header
    Files.write(Path.of(java.net.URI.create(d.path(6))), tail);
    Files.write(Path.of(java.net.URI.create(d.path(8))), new byte[whole.length]);

    List<CheckpointDir.Incomplete> skipped = new java.util.ArrayList<>();
    assertEquals(d.path(4), d.latest(skipped::add).orElseThrow());
    assertEquals(List.of(d.path(8), d.path(6)),
        skipped.stream().map(CheckpointDir.Incomplete::path).toList());
    for (CheckpointDir.Incomplete bad : skipped) {
      assertTrue(bad.reason().contains("it is zero-filled")
          && bad.reason().contains("never reached the disk"), bad.reason());
    }
    assertMessage(Path.of(java.net.URI.create(d.path(6))), p, p,
        "is incomplete: it is zero-filled at its end");
  }

  /**
   * A header is untrusted: counts and a layout that claim more than the file holds, or whose sums
   * overflow, are errors naming the file, found before anything is allocated from them.
   */
  @Test
  void aHostileHeaderIsAnErrorNamingTheFileBeforeAnyAllocation() throws Exception {
    TrainConfig c = config(dir);
    long eightGb = 1L << 31; // 2^31 floats
    List<ParamLayout.Tensor> big = List.of(
        new ParamLayout.Tensor("model.embed_tokens.weight", 0, new int[] {1 << 16, 1 << 15}, true));
    Checkpoint.Header claims = ForgedCheckpoints.header(c, big, eightGb, 0);
    Path small = dir.resolve("small.flm");
    Files.write(small, ForgedCheckpoints.file(claims, eightGb, 0, 100, 100));
    assertHeaderRefused(small, "truncated");
    Path whole = dir.resolve("header-only.flm");
    Files.write(whole, ForgedCheckpoints.file(claims, eightGb, 0, 100, -1));
    long json = Files.size(whole) - 32 - 100;
    assertHeaderRefused(whole, "but its header implies " + (32 + json + 4 * eightGb + 8));

    long huge = 1L << 62; // p + s overflows a long
    Path overflow = dir.resolve("overflow.flm");
    Files.write(overflow, ForgedCheckpoints.file(ForgedCheckpoints.header(c, big, huge, huge),
        huge, huge, 100, -1));
    assertHeaderRefused(overflow, "impossible header length or counts");

    List<ParamLayout.Tensor> wrapping = List.of(
        new ParamLayout.Tensor("a", 0, new int[] {1 << 30, 1 << 30}, true),
        new ParamLayout.Tensor("b", 1L << 60, new int[] {1 << 30, 1 << 30}, true));
    Path layout = dir.resolve("layout.flm");
    Files.write(layout, ForgedCheckpoints.file(ForgedCheckpoints.header(c, wrapping, 8, 0), 8, 0,
        100, -1));
    assertHeaderRefused(layout, "tensor layout");
  }

  private void assertHeaderRefused(Path file, String expected) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoint.readHeader(conf, file.toString()));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(expected),
        e.getMessage());
  }
}
