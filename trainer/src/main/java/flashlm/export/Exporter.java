package flashlm.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.Configs;
import flashlm.fs.AtomicFiles;
import flashlm.model.ModelSpec;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import flashlm.model.ParamLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Writes a checkpoint's weights for outside tools: {@code OUT/model.safetensors} (fp32, the
 * {@link ParamLayout} tensors under their Llama names, no {@code lm_head} since the head is tied
 * to the embedding) and {@code OUT/config.json} ({@link HfConfig}), through the Hadoop
 * FileSystem API as one set ({@link AtomicFiles#writeSet}): the weights are written first while
 * an earlier export stays whole, then config.json is replaced and model.safetensors published
 * last, so a reader who finds model.safetensors finds its own config.json. Other files in OUT
 * (a tokenizer copied there) are left alone.
 *
 * <p>The trainer's RoPE rotates interleaved pairs {@code (2i, 2i+1)} of each head; Llama's
 * rotates {@code (i, i + head_dim/2)}. So, as Meta's own Llama conversion does, the rows of every
 * {@code q_proj} and {@code k_proj} are permuted within each head: row {@code h*hd + 2i + j} goes
 * to {@code h*hd + j*hd/2 + i}. Attention scores, and so the model, are unchanged.
 *
 * <p>Learnable alpha (model.learnable_alpha) is folded into the weights: each linear is written
 * as {@code W' = alpha W} (in fp32) and no {@code alpha} tensor is written, so outside tools see
 * the plain architecture. This is exact for BitLinear, not only for a plain linear: the absmean
 * scale is positively homogeneous, {@code s' = mean|alpha W| = |alpha| s}, so {@code W'/s' =
 * sign(alpha) W/s}; rint (half to even) and the clamp to [-1, 1] are odd functions, so {@code
 * Wq' = sign(alpha) Wq} and {@code W'_eff = s' Wq' = alpha s Wq = alpha W_eff}. The activation
 * quantization does not involve W, so {@code BitLinear(x; alpha W) = alpha BitLinear(x; W)}; at
 * {@code alpha = 0} both are 0. Two limits: the eps floor, {@code s = max(mean|W|, 1e-5)}: where
 * {@code |alpha| mean|W| < 1e-5} the exported scale is 1e-5, not {@code |alpha| s}, and the two
 * differ, both layers then having effective weights below about 1e-5 in magnitude; and fp32
 * rounding: {@code alpha W} and the mean are rounded, so a weight within a few ulps of a rounding
 * boundary ({@code |W/s|} = 0.5 or 1.5) may quantize the other way. ExporterTest checks the
 * logits of the exported weights against the model with its alphas.
 */
public final class Exporter {
  public static final String SAFETENSORS = "model.safetensors";
  public static final String CONFIG = "config.json";

  /**
   * What was written.
   *
   * @param checkpoint the checkpoint file read
   * @param step its step
   * @param parameters parameters written (learnable alphas are folded, not counted)
   * @param safetensors the weights file
   * @param config the config file
   * @param skipped newer files in the checkpoint directory that are not complete checkpoints,
   *     with the reason, passed over for {@code checkpoint} (see {@link CheckpointDir#latest})
   */
  public record Result(String checkpoint, long step, long parameters, String safetensors,
      String config, List<String> skipped) {
    public Result {
      skipped = List.copyOf(skipped);
    }
  }

  private Exporter() {}

  /**
   * Exports {@code checkpoint} (a checkpoint file, or a checkpoint directory: its newest complete
   * one) to directory {@code out}.
   */
  public static Result export(Configuration conf, String checkpoint, String out) {
    List<String> skipped = new ArrayList<>();
    String file = resolve(conf, checkpoint, skipped);
    Checkpoint.Header h = Checkpoint.readHeader(conf, file);
    ModelSpec spec = h.config().model();
    ParamLayout layout = ParamLayout.of(spec);
    if (!layout.tensors().equals(h.layout().tensors())) {
      throw new IllegalArgumentException(file + " records a tensor layout that differs from the one"
          + " this build derives from its model config; export it with the build that wrote it");
    }
    if (h.paramCount() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(file + " holds " + h.paramCount() + " parameters, more"
          + " than export holds in one buffer (" + (Integer.MAX_VALUE - 8) + ")");
    }
    FloatBuffer params = FloatBuffer.allocate((int) h.paramCount()); // the file has them all
    Checkpoint.read(conf, file, params, null);

    List<Safetensors.Tensor> tensors = new ArrayList<>();
    long written = 0;
    for (ParamLayout.Tensor t : layout.tensors()) {
      if (t.name().endsWith(".alpha")) {
        continue; // folded into its weight below
      }
      FloatBuffer data = params.slice(Math.toIntExact(t.offset()), Math.toIntExact(t.size()));
      if (spec.learnableAlpha() && t.name().endsWith("_proj.weight")) {
        data = scaled(data, params.get(Math.toIntExact(
            layout.get(ParamLayout.alphaName(t.name())).offset())));
      }
      if ((spec.arch() == ModelSpec.Arch.TRANSFORMER)
          && (t.name().endsWith("self_attn.q_proj.weight")
              || t.name().endsWith("self_attn.k_proj.weight"))) {
        data = interleavedToHalves(data, spec.nHeads(), spec.headDim(), t.shape()[1]);
      }
      tensors.add(new Safetensors.Tensor(t.name(), t.shape(), data));
      written += t.size();
    }
    Map<String, String> metadata = Map.of("format", "pt", "flashlm.arch", spec.arch().id(),
        "flashlm.quant", spec.quant().id(), "flashlm.step", Long.toString(h.step()));
    String weights = new Path(out, SAFETENSORS).toString();

    ObjectNode provenance = new ObjectMapper().createObjectNode();
    provenance.put("checkpoint", file);
    provenance.put("step", h.step());
    provenance.put("table", h.table());
    provenance.put("table_version", h.tableVersion());
    byte[] config = Configs.redacted(HfConfig.of(spec, provenance)).toPrettyString()
        .getBytes(StandardCharsets.UTF_8);
    AtomicFiles.writeSet(conf, weights, o -> Safetensors.write(o, tensors, metadata),
        Map.of(CONFIG, o -> o.write(config)));
    return new Result(file, h.step(), written, weights, new Path(out, CONFIG).toString(),
        skipped);
  }

  /** A checkpoint file as given, or the newest complete one in a directory. */
  private static String resolve(Configuration conf, String checkpoint, List<String> skipped) {
    Path p = new Path(checkpoint);
    try {
      if (p.getFileSystem(conf).getFileStatus(p).isDirectory()) {
        return new CheckpointDir(conf, checkpoint)
            .latest(bad -> skipped.add(bad.path() + ": " + bad.reason()))
            .orElseThrow(() -> new IllegalArgumentException("no complete checkpoint (ckpt-*.flm)"
                + " in " + checkpoint + (skipped.isEmpty() ? "" : "; incomplete: " + skipped)));
      }
      return checkpoint;
    } catch (java.io.FileNotFoundException e) {
      throw new IllegalArgumentException("checkpoint not found: " + checkpoint, e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + checkpoint + ": " + e.getMessage(), e);
    }
  }

  /** alpha * w, elementwise in fp32. */
  private static FloatBuffer scaled(FloatBuffer w, float alpha) {
    FloatBuffer out = FloatBuffer.allocate(w.remaining());
    for (int i = 0; i < out.capacity(); i++) {
      out.put(i, alpha * w.get(w.position() + i));
    }
    return out;
  }

  /** Permutes the rows of a (heads*hd, cols) matrix from interleaved RoPE pairs to halves. */
  static FloatBuffer interleavedToHalves(FloatBuffer w, int heads, int hd, int cols) {
    FloatBuffer out = FloatBuffer.allocate(w.remaining());
    int half = hd / 2;
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < half; i++) {
        for (int j = 0; j < 2; j++) {
          int from = (h * hd + 2 * i + j) * cols;
          int to = (h * hd + j * half + i) * cols;
          out.put(to, w, from, cols);
        }
      }
    }
    return out;
  }
}
