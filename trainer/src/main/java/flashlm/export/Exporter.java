package flashlm.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.fs.AtomicFiles;
import flashlm.infer.PackedFile;
import flashlm.infer.PackedModel;
import flashlm.infer.TableTokenizer;
import flashlm.model.ModelSpec;
import flashlm.model.ParamLayout;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Writes a checkpoint's weights for outside tools ({@code format = hf}) or for FlashLM's own
 * {@code generate} and {@code eval} ({@code format = packed}, see {@link PackedFile}), through
 * the Hadoop FileSystem API. The same checkpoint gives the same bytes: nothing in either format
 * depends on the time or on hash-map order.
 *
 * <p><b>hf</b>: {@code OUT/model.safetensors} (fp32, the {@link ParamLayout} tensors under their
 * Llama names, no {@code lm_head} since the head is tied to the embedding), {@code
 * OUT/config.json} ({@link HfConfig}) and, when the tokenizer the model trained with is found
 * (through the training table's manifest), {@code tokenizer.json}, {@code tokenizer_config.json}
 * and {@code generation_config.json} (BOS/EOS ids), so that HuggingFace {@code transformers}
 * loads the model and its tokenizer from the directory alone. One set ({@link
 * AtomicFiles#writeSet}): the weights are written first while an earlier export stays whole, the
 * companions replaced, model.safetensors published last, so a reader who finds
 * model.safetensors finds its own companions. Other files in OUT are left alone.
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
 * logits of the exported weights against the model with its alphas. (The packed format keeps
 * the codes of W and folds alpha into the scale instead: exactly the training forward.)
 */
public final class Exporter {
  public static final String SAFETENSORS = "model.safetensors";
  public static final String CONFIG = "config.json";
  public static final String TOKENIZER = "tokenizer.json";
  public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
  public static final String GENERATION_CONFIG = "generation_config.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What was written.
   *
   * @param checkpoint the checkpoint file read
   * @param step its step
   * @param parameters parameters written (learnable alphas are folded, not counted)
   * @param files the files written, the primary one (model.safetensors, the packed file) first
   * @param skipped newer files in the checkpoint directory that are not complete checkpoints,
   *     with the reason, passed over for {@code checkpoint} (see {@link CheckpointDir#latest})
   * @param warnings what the export could not include, and why (a tokenizer not found)
   */
  public record Result(String checkpoint, long step, long parameters, List<String> files,
      List<String> skipped, List<String> warnings) {
    public Result {
      files = List.copyOf(files);
      skipped = List.copyOf(skipped);
      warnings = List.copyOf(warnings);
    }

    /** The primary file: model.safetensors or the packed model. */
    public String primary() {
      return files.get(0);
    }
  }

  private Exporter() {}

  /** An HF export of {@code checkpoint} (a file, or a directory: its newest) to {@code out}. */
  public static Result export(Configuration conf, String checkpoint, String out) {
    return export(conf, new ExportConfig(checkpoint, out));
  }

  /** Exports as {@code config} says. */
  public static Result export(Configuration conf, ExportConfig config) {
    List<String> skipped = new ArrayList<>();
    String file = CheckpointDir.resolve(conf, config.checkpoint(), skipped);
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
    List<String> warnings = new ArrayList<>();
    TableTokenizer tok = null;
    try {
      tok = TableTokenizer.of(conf, h.table(), h.tableVersion(), config.tokenizer());
    } catch (RuntimeException e) {
      warnings.add("no tokenizer exported: " + e.getMessage() + " (--set tokenizer=PATH names a"
          + " copy of it)");
    }
    return config.format() == ExportConfig.Format.PACKED
        ? packed(conf, config, file, h, params, tok, skipped, warnings)
        : hf(conf, config.out(), file, h, layout, params, tok, skipped, warnings);
  }

  private static Result packed(Configuration conf, ExportConfig config, String file,
      Checkpoint.Header h, FloatBuffer params, TableTokenizer tok, List<String> skipped,
      List<String> warnings) {
    ModelSpec spec = h.config().model();
    PackedFile.Header header = new PackedFile.Header(PackedFile.FORMAT_VERSION, spec,
        config.embedding(), tok == null ? null : tok.info(), new PackedFile.Source(
            new Path(file).getName(), h.step(), h.table(), h.tableVersion()));
    String path = new Path(config.out(), PackedFile.NAME).toString();
    PackedFile.write(conf, path, header, PackedModel.pack(spec, params, config.embedding()),
        tok == null ? null : tok.bytes());
    return new Result(file, h.step(), spec.parameterCount(), List.of(path), skipped, warnings);
  }

  private static Result hf(Configuration conf, String out, String file, Checkpoint.Header h,
      ParamLayout layout, FloatBuffer params, TableTokenizer tok, List<String> skipped,
      List<String> warnings) {
    ModelSpec spec = h.config().model();
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
    // sorted: the safetensors header is the same bytes in every JVM
    Map<String, String> metadata = new TreeMap<>(Map.of("format", "pt", "flashlm.arch",
        spec.arch().id(), "flashlm.quant", spec.quant().id(), "flashlm.step",
        Long.toString(h.step())));
    String weights = new Path(out, SAFETENSORS).toString();

    ObjectNode provenance = JSON.createObjectNode();
    provenance.put("checkpoint", file);
    provenance.put("step", h.step());
    provenance.put("table", h.table());
    provenance.put("table_version", h.tableVersion());
    Integer bos = tok == null ? null : tok.info().bosId();
    Integer eos = tok == null ? null : tok.info().eosId();
    Map<String, AtomicFiles.Body> companions = new LinkedHashMap<>();
    companions.put(CONFIG, bytes(HfConfig.of(spec, provenance, bos, eos)));
    if (tok != null) {
      companions.put(TOKENIZER, o -> o.write(tok.bytes()));
      companions.put(TOKENIZER_CONFIG, bytes(HfConfig.tokenizerConfig(spec, tok.info())));
      companions.put(GENERATION_CONFIG, bytes(HfConfig.generationConfig(tok.info())));
    }
    AtomicFiles.writeSet(conf, weights, o -> Safetensors.write(o, tensors, metadata), companions);
    List<String> files = new ArrayList<>(List.of(weights));
    companions.keySet().forEach(n -> files.add(new Path(out, n).toString()));
    return new Result(file, h.step(), written, files, skipped, warnings);
  }

  private static AtomicFiles.Body bytes(com.fasterxml.jackson.databind.JsonNode json) {
    byte[] b = (json.toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8);
    return o -> o.write(b);
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
