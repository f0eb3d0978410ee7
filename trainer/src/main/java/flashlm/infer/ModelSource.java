package flashlm.infer;

import flashlm.model.ModelSpec;
import flashlm.model.ParamLayout;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * A model to evaluate or generate with, from either kind of file: a packed model file ({@link
 * PackedFile}), or a checkpoint (a ckpt-*.flm file, or a checkpoint directory: its newest
 * complete one), whose master weights are packed in memory exactly as the packed export packs
 * them. The tokenizer comes from the packed file, or for a checkpoint from the manifest of the
 * table it trained on ({@link TableTokenizer}).
 *
 * @param path the file read (for a directory, the checkpoint chosen in it)
 * @param packedFile whether it is a packed model file (else a checkpoint)
 * @param spec the architecture
 * @param embedding how the weights store the embedding
 * @param weights the packed weights (position 0, limit = capacity)
 * @param step the training step of the weights
 * @param table the sequences table they were trained on (null if unknown)
 * @param tableVersion its version (null if unknown)
 * @param tokenizer the tokenizer.json bytes, or null ({@code tokenizerProblem} says why)
 * @param tokenizerInfo the tokenizer's sha256 and separators, or null
 * @param tokenizerProblem why there is no tokenizer, or null
 * @param skipped newer incomplete checkpoints passed over in a directory
 */
public record ModelSource(String path, boolean packedFile, ModelSpec spec, Embedding embedding,
    ByteBuffer weights, long step, String table, Long tableVersion, byte[] tokenizer,
    PackedFile.TokenizerInfo tokenizerInfo, String tokenizerProblem, List<String> skipped) {

  /** Reads {@code location}: a packed model file, a checkpoint file or a checkpoint directory. */
  public static ModelSource open(Configuration conf, String location) {
    if (PackedFile.isPacked(conf, location)) {
      PackedFile.Contents c = PackedFile.read(conf, location);
      PackedFile.Source src = c.header().source();
      return new ModelSource(location, true, c.header().model(), c.header().embedding(),
          c.weights(), src == null ? -1 : src.step(), src == null ? null : src.table(),
          src == null ? null : src.tableVersion(), c.tokenizer(), c.header().tokenizer(),
          c.tokenizer() == null ? location + " holds no tokenizer" : null, List.of());
    }
    List<String> skipped = new ArrayList<>();
    String file = CheckpointDir.resolve(conf, location, skipped);
    Checkpoint.Header h = Checkpoint.readHeader(conf, file);
    ModelSpec spec = h.config().model();
    if (!ParamLayout.of(spec).tensors().equals(h.layout().tensors())) {
      throw new IllegalArgumentException(file + " records a tensor layout that differs from the"
          + " one this build derives from its model config; use the build that wrote it");
    }
    FloatBuffer params = FloatBuffer.allocate(Math.toIntExact(h.paramCount()));
    Checkpoint.read(conf, file, params, null);
    ByteBuffer weights = PackedModel.pack(spec, params, Embedding.F32);
    TableTokenizer tok = null;
    String problem = null;
    try {
      tok = TableTokenizer.of(conf, h.table(), h.tableVersion());
    } catch (RuntimeException e) {
      problem = e.getMessage();
    }
    return new ModelSource(file, false, spec, Embedding.F32, weights, h.step(), h.table(),
        h.tableVersion(), tok == null ? null : tok.bytes(), tok == null ? null : tok.info(),
        problem, skipped);
  }

  /** Loads the weights; the caller closes the model. */
  public PackedModel load() {
    return PackedModel.load(spec, embedding, weights);
  }

  /** The tokenizer.json bytes. */
  public byte[] requireTokenizer() {
    if (tokenizer == null) {
      throw new IllegalArgumentException("no tokenizer for " + path + ": " + tokenizerProblem);
    }
    return tokenizer;
  }
}
