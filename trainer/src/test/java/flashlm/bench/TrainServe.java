package flashlm.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.Configs;
import flashlm.export.Safetensors;
import flashlm.model.ModelSpec;
import flashlm.model.Init;
import flashlm.optim.Kernels;
import flashlm.train.Models;
import flashlm.train.OptimizerState;
import flashlm.model.ParamLayout;
import flashlm.train.TrainConfig;
import flashlm.model.TrainableModel;
import java.io.BufferedReader;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Our trainer's side of the trainer benchmark (tests/bench/compare_pytorch.py): the model of a
 * config trained step by step on commands from stdin, the same protocol as {@code
 * tests/bench/pytorch_train.py --serve}, so the driver can interleave the two in one run.
 *
 * <pre>
 * java -cp ... flashlm.bench.TrainServe --conf conf/v7-ts.json [--set data.batch_size=8 ...]
 *     [--write-init FILE.safetensors]
 * stdin:  "steps N" -> {"steps":N,"seconds":..,"model_seconds":..,"update_seconds":..,"loss":..}
 *         "rss"     -> {"peak_rss_bytes":..}   (VmHWM of /proc/self/status)
 *         "quit"
 * </pre>
 *
 * <p>One step is what {@link flashlm.train.Trainer} does per update with grad_accum 1 and one
 * process: zero the gradients, forward + backward on one batch, global-norm clip, optimizer
 * update, at the config's peak learning rate (the schedule costs nothing and is left out, as in
 * the PyTorch twin). Batches are {@link #batch uniform random tokens} from a counter-based
 * generator that the twin reproduces bit for bit, and the parameters start from {@link
 * Init#normal} with the config's seed; {@code --write-init} writes them as
 * safetensors (Llama names; q/k rows permuted to Llama's RoPE halves as {@code flashlm export}
 * does), which the twin loads with {@code --init}. So both train the same model on the same
 * tokens and their losses agree. A test source, not shipped, not a test.
 */
public final class TrainServe {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private TrainServe() {}

  public static void main(String[] args) throws IOException {
    Path conf = null;
    Path init = null;
    List<String> overrides = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--conf" -> conf = Path.of(args[++i]);
        case "--set" -> overrides.add(args[++i]);
        case "--write-init" -> init = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]
            + "; usage: TrainServe --conf FILE [--set key=value ...] [--write-init FILE]");
      }
    }
    if (conf == null) {
      throw new IllegalArgumentException("usage: TrainServe --conf FILE [--set key=value ...]"
          + " [--write-init FILE]");
    }
    TrainConfig c = Configs.load(conf, TrainConfig.class, overrides);
    ModelSpec spec = c.model();
    int batchSize = c.data().batchSize();
    try (TrainableModel model = Models.create(spec, c.backend(), batchSize)) {
      ParamLayout layout = model.layout();
      Init.normal(model.params(), layout, spec.initStd(), c.seed());
      if (init != null) {
        writeInit(init, spec, layout, model.params());
      }
      Kernels kernels = Models.kernels(c.backend());
      OptimizerState opt = new OptimizerState(c.optimizer(), layout, kernels);
      Session s = new Session(c, model, opt, kernels);
      ObjectNode ready = JSON.createObjectNode();
      ready.put("ready", true);
      ready.put("backend", c.backend().id());
      ready.put("threads", System.getenv().getOrDefault("OMP_NUM_THREADS", "(OpenMP default)"));
      ready.put("params", layout.size());
      ready.put("batch", batchSize);
      ready.put("seq_len", spec.seqLen());
      System.out.println(ready);
      serve(s);
    }
  }

  private static void serve(Session s) throws IOException {
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null;) {
      String[] cmd = line.trim().split("\\s+");
      ObjectNode out = JSON.createObjectNode();
      switch (cmd[0]) {
        case "", "quit" -> {
          return;
        }
        case "steps" -> s.steps(Integer.parseInt(cmd[1]), out);
        case "rss" -> out.put("peak_rss_bytes", peakRssBytes());
        default -> out.put("error", "unknown command '" + cmd[0] + "'");
      }
      System.out.println(out);
    }
  }

  /** The training state between commands. */
  private static final class Session {
    private final TrainConfig config;
    private final TrainableModel model;
    private final OptimizerState opt;
    private final Kernels kernels;
    private final int[] tokens;
    private long step;

    Session(TrainConfig config, TrainableModel model, OptimizerState opt, Kernels kernels) {
      this.config = config;
      this.model = model;
      this.opt = opt;
      this.kernels = kernels;
      this.tokens = new int[config.data().batchSize() * (config.model().seqLen() + 1)];
    }

    /** {@code n} updates; the timings split the model's forward + backward from the update. */
    void steps(int n, ObjectNode out) {
      FloatBuffer params = model.params();
      FloatBuffer grads = model.grads();
      long size = model.layout().size();
      int b = config.data().batchSize();
      double clip = config.gradClip();
      double lr = config.optimizer().lr();
      long modelNanos = 0;
      long updateNanos = 0;
      float loss = Float.NaN;
      long start = System.nanoTime();
      for (int i = 0; i < n; i++) {
        batch(tokens, config.seed(), step, b, config.model().seqLen(), config.model().vocabSize());
        long t0 = System.nanoTime();
        model.zeroGrads();
        loss = model.forwardBackward(tokens, b);
        long t1 = System.nanoTime();
        double norm = Math.sqrt(kernels.sumSquares(grads, 0, size));
        if (clip > 0 && norm > clip) {
          kernels.scale(grads, 0, size, (float) (clip / (norm + 1e-6)));
        }
        opt.step(params, grads, lr, ++step);
        long t2 = System.nanoTime();
        modelNanos += t1 - t0;
        updateNanos += t2 - t1;
      }
      out.put("steps", n);
      out.put("seconds", (System.nanoTime() - start) / 1e9);
      out.put("model_seconds", modelNanos / 1e9);
      out.put("update_seconds", updateNanos / 1e9);
      out.put("loss", loss);
    }
  }

  /**
   * The tokens of update {@code step} (from 0), (batch, seqLen + 1) row-major: token {@code i}
   * of the run is {@code splitmix64(seed + (i + 1) * GOLDEN) mod vocab} with {@code i} counted
   * over all updates, the same in the PyTorch twin (numpy uint64).
   */
  static void batch(int[] out, long seed, long step, int batch, int seqLen, int vocab) {
    int n = batch * (seqLen + 1);
    long first = step * n;
    for (int i = 0; i < n; i++) {
      long z = seed + (first + i + 1) * GOLDEN;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      z ^= z >>> 31;
      out[i] = (int) Long.remainderUnsigned(z, vocab);
    }
  }

  /** Peak resident set size of this process (VmHWM), or -1 where /proc is missing. */
  static long peakRssBytes() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (l.startsWith("VmHWM:")) {
          return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
        }
      }
    } catch (IOException e) {
      return -1;
    }
    return -1;
  }

  private static void writeInit(Path file, ModelSpec spec, ParamLayout layout, FloatBuffer params)
      throws IOException {
    List<Safetensors.Tensor> tensors = new ArrayList<>();
    for (ParamLayout.Tensor t : layout.tensors()) {
      FloatBuffer data = params.slice(Math.toIntExact(t.offset()), Math.toIntExact(t.size()));
      if ((spec.arch() == ModelSpec.Arch.TRANSFORMER) && (t.name().endsWith("q_proj.weight")
          || t.name().endsWith("k_proj.weight"))) {
        data = interleavedToHalves(data, spec.nHeads(), spec.headDim(), t.shape()[1]);
      }
      tensors.add(new Safetensors.Tensor(t.name(), t.shape(), data));
    }
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
      Safetensors.write(out, tensors, Map.of("format", "pt", "flashlm.arch", spec.arch().id(),
          "flashlm.quant", spec.quant().id(), "flashlm.step", "0"));
    }
  }

  /**
   * Rows of a (heads*hd, cols) q/k matrix from the trainer's interleaved RoPE pairs (2i, 2i+1)
   * to Llama's halves (i, i + hd/2), as flashlm.export.Exporter writes them.
   */
  private static FloatBuffer interleavedToHalves(FloatBuffer w, int heads, int hd, int cols) {
    FloatBuffer out = FloatBuffer.allocate(w.remaining());
    int half = hd / 2;
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < half; i++) {
        for (int j = 0; j < 2; j++) {
          out.put((h * hd + j * half + i) * cols, w, (h * hd + 2 * i + j) * cols, cols);
        }
      }
    }
    return out;
  }
}
