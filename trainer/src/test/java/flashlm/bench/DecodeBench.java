package flashlm.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.Configs;
import flashlm.export.ExportConfig;
import flashlm.export.Exporter;
import flashlm.infer.Embedding;
import flashlm.infer.Generator;
import flashlm.infer.PackedFile;
import flashlm.infer.PackedModel;
import flashlm.infer.Sampling;
import flashlm.model.Init;
import flashlm.model.ModelSpec;
import flashlm.model.NativeModel;
import flashlm.model.ParamLayout;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import flashlm.train.TrainConfig;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;

/**
 * Our side of the decode benchmark (tests/bench/decode-benchmark.sh): one JSON line per mode on
 * stdout. A test source, not shipped, not a test.
 *
 * <pre>
 * java -cp ... flashlm.bench.DecodeBench prepare --conf conf/v7-ts.json --dir D [--set k=v ...]
 *     a checkpoint of the config's seeded initial weights in D/ckpt, exported as D/hf
 *     (safetensors + config.json), D/packed (f32 embedding) and D/packed-bf16; D/prompt.txt
 *     holds 32 seeded token ids
 * java ... DecodeBench decode --dir D [--new 256] [--reps 3]
 *     loads D/packed/model.flmpack, then greedy decoding of --new tokens after the prompt with
 *     the KV cache, --reps times: tokens/s of each (the prompt's prefill excluded), load time,
 *     peak RSS (VmHWM)
 * java ... DecodeBench eval --dir D [--windows 16] [--batch 16]
 *     the eval path's scoring (windows of seq_len from an empty cache, every position's loss)
 *     against the training model's forward (loss only, batches of --batch rows) on the same
 *     weights: tokens/s of each
 * </pre>
 */
public final class DecodeBench {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DecodeBench() {}

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    Path conf = null;
    Path dir = null;
    List<String> overrides = new ArrayList<>();
    int fresh = 256;
    int reps = 3;
    int windows = 16;
    int batch = 16;
    for (int i = 1; i < args.length; i++) {
      switch (args[i]) {
        case "--conf" -> conf = Path.of(args[++i]);
        case "--dir" -> dir = Path.of(args[++i]);
        case "--set" -> overrides.add(args[++i]);
        case "--new" -> fresh = Integer.parseInt(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--windows" -> windows = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    ObjectNode out = switch (mode) {
      case "prepare" -> prepare(conf, dir, overrides);
      case "decode" -> decode(dir, fresh, reps);
      case "eval" -> eval(dir, windows, batch);
      default -> throw new IllegalArgumentException("mode " + mode);
    };
    System.out.println(out.put("peak_rss_bytes", peakRss()).toString());
  }

  private static ObjectNode prepare(Path conf, Path dir, List<String> overrides)
      throws IOException {
    List<String> o = new ArrayList<>(overrides);
    o.add("data.table=" + dir.resolve("no-table"));
    TrainConfig c = Configs.load(conf, TrainConfig.class, o);
    ModelSpec spec = c.model();
    ParamLayout layout = ParamLayout.of(spec);
    int n = Math.toIntExact(layout.size());
    FloatBuffer params = FloatBuffer.allocate(n);
    Init.normal(params, layout, spec.initStd(), c.seed());
    Configuration hadoop = new Configuration();
    String ckpt = dir.resolve("ckpt").toString();
    Checkpoint.Header h = Checkpoint.Header.untrained(c, 0, c.data().table(), 0, layout.tensors(),
        n, 2L * n);
    Checkpoint.write(hadoop, new CheckpointDir(hadoop, ckpt).path(0), h, params,
        FloatBuffer.allocate(2 * n));
    Exporter.export(hadoop, new ExportConfig(ckpt, dir.resolve("hf").toString()));
    Exporter.export(hadoop, new ExportConfig(ckpt, dir.resolve("packed").toString(),
        ExportConfig.Format.PACKED, Embedding.F32, null));
    Exporter.export(hadoop, new ExportConfig(ckpt, dir.resolve("packed-bf16").toString(),
        ExportConfig.Format.PACKED, Embedding.BF16, null));
    SplittableRandom r = new SplittableRandom(c.seed());
    int[] prompt = new int[32];
    for (int i = 0; i < prompt.length; i++) {
      prompt[i] = r.nextInt(spec.vocabSize());
    }
    Files.writeString(dir.resolve("prompt.txt"), Arrays.stream(prompt).mapToObj(Integer::toString)
        .collect(Collectors.joining(" ")));
    long linear = 0;
    for (ParamLayout.Tensor t : layout.tensors()) {
      linear += t.name().endsWith("_proj.weight") ? t.size() : 0;
    }
    ObjectNode j = JSON.createObjectNode().put("mode", "prepare")
        .put("parameters", spec.parameterCount()).put("linear_weights", linear)
        .put("embedding_values", (long) spec.vocabSize() * spec.dModel())
        .put("safetensors_bytes", Files.size(dir.resolve("hf/model.safetensors")))
        .put("packed_bytes", Files.size(dir.resolve("packed/" + PackedFile.NAME)))
        .put("packed_bf16_bytes", Files.size(dir.resolve("packed-bf16/" + PackedFile.NAME)));
    return j;
  }

  private static int[] prompt(Path dir) throws IOException {
    return Arrays.stream(Files.readString(dir.resolve("prompt.txt")).trim().split(" "))
        .mapToInt(Integer::parseInt).toArray();
  }

  private static ObjectNode decode(Path dir, int fresh, int reps) throws IOException {
    long t0 = System.nanoTime();
    PackedFile.Contents f = PackedFile.read(new Configuration(),
        dir.resolve("packed/" + PackedFile.NAME).toString());
    int[] prompt = prompt(dir);
    ObjectNode j = JSON.createObjectNode().put("mode", "decode");
    try (PackedModel m = f.load()) {
      double load = (System.nanoTime() - t0) / 1e9;
      List<Double> rates = new ArrayList<>();
      List<Double> prefill = new ArrayList<>();
      int[] first = null;
      for (int i = 0; i <= reps; i++) { // the first is a warm-up
        Generator.Result r = Generator.generate(m, prompt, fresh, Sampling.greedy(),
            Generator.Context.REFUSE, -1, t -> { });
        if (i > 0) {
          rates.add(r.tokensPerSecond());
          prefill.add(r.promptSeconds());
        }
        first = first == null ? r.tokens() : first;
      }
      j.put("load_seconds", load).put("new_tokens", fresh).put("prompt_tokens", prompt.length);
      j.putPOJO("tokens_per_s", rates).putPOJO("prefill_seconds", prefill);
      j.put("first_tokens", Arrays.toString(Arrays.copyOf(first, 8)));
    }
    return j;
  }

  private static ObjectNode eval(Path dir, int windows, int batch) {
    PackedFile.Contents f = PackedFile.read(new Configuration(),
        dir.resolve("packed/" + PackedFile.NAME).toString());
    ModelSpec spec = f.header().model();
    int t = spec.seqLen();
    SplittableRandom r = new SplittableRandom(7);
    int[] tokens = new int[batch * (t + 1)];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(spec.vocabSize());
    }
    ObjectNode j = JSON.createObjectNode().put("mode", "eval").put("seq_len", t);
    try (PackedModel m = f.load()) {
      int[] w = Arrays.copyOf(tokens, t + 1);
      m.score(w, t, 0); // warm-up
      long t0 = System.nanoTime();
      for (int i = 0; i < windows; i++) {
        m.score(Arrays.copyOfRange(tokens, (i % batch) * (t + 1), (i % batch + 1) * (t + 1)),
            t, 0);
      }
      j.put("eval_tokens_per_s", (double) windows * t / ((System.nanoTime() - t0) / 1e9));
    }
    try (NativeModel n = NativeModel.create(spec, batch)) {
      // the training model on the same weights: the checkpoint's master weights
      String ckpt = new CheckpointDir(new Configuration(), dir.resolve("ckpt").toString())
          .latest(bad -> { }).orElseThrow();
      Checkpoint.read(new Configuration(), ckpt, n.params(), null);
      n.loss(tokens, batch); // warm-up
      int calls = Math.max(1, windows / batch);
      long t0 = System.nanoTime();
      for (int i = 0; i < calls; i++) {
        n.loss(tokens, batch);
      }
      j.put("forward_tokens_per_s", (double) calls * batch * t / ((System.nanoTime() - t0) / 1e9))
          .put("forward_batch", batch);
    }
    return j;
  }

  /** VmHWM of /proc/self/status in bytes, or -1. */
  static long peakRss() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (l.startsWith("VmHWM:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      return -1;
    }
    return -1;
  }
}
