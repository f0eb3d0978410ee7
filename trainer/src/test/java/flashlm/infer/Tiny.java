package flashlm.infer;

import flashlm.config.Configs;
import flashlm.data.SequencesFixture;
import flashlm.hash.Sha256;
import flashlm.model.Init;
import flashlm.model.ModelSpec;
import flashlm.model.NativeModel;
import flashlm.model.ParamLayout;
import flashlm.table.SequencesTable;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import flashlm.train.TrainConfig;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/** Small models, checkpoints and tables for the inference tests. */
final class Tiny {
  private Tiny() {}

  /**
   * A training config of a small model: {@code kind} is "transformer", "ffn" or "float" (the
   * transformer with fp32 linears); seq_len 70 crosses a 64-key attention block.
   */
  static TrainConfig config(String kind, String table, String... extra) {
    List<String> o = new ArrayList<>(List.of(
        "model.arch=" + (kind.equals("ffn") ? "ffn" : "transformer"), "model.vocab_size=48",
        "model.d_model=16", "model.n_layers=2", "model.n_heads=2", "model.ffn_dim=24",
        "model.seq_len=70", "model.quant=" + (kind.equals("float") ? "none" : "ternary"),
        "data.table=" + table, "data.batch_size=1", "max_steps=1"));
    o.addAll(List.of(extra));
    return Configs.load(null, TrainConfig.class, o);
  }

  /** A native model with seeded weights (matrices N(0, 0.3^2)). */
  static NativeModel model(ModelSpec spec, long seed) {
    NativeModel m = NativeModel.create(spec, 1);
    Init.normal(m.params(), m.layout(), 0.3, seed);
    return m;
  }

  /** Writes {@code params} as the checkpoint of {@code step} in {@code dir}; returns its path. */
  static String checkpoint(TrainConfig c, FloatBuffer params, String dir, long step,
      long tableVersion) {
    ParamLayout layout = ParamLayout.of(c.model());
    int n = (int) layout.size();
    float[] w = new float[n];
    params.duplicate().position(0).get(w);
    Checkpoint.Header h = Checkpoint.Header.untrained(c, step, c.data().table(), tableVersion,
        layout.tensors(), n, 2L * n);
    Configuration conf = new Configuration();
    String path = new CheckpointDir(conf, dir).path(step);
    Checkpoint.write(conf, path, h, FloatBuffer.wrap(w), FloatBuffer.allocate(2 * n));
    return path;
  }

  /** A tokenizer file's bytes (any bytes do for what the trainer checks: the sha256). */
  static final byte[] TOKENIZER =
      "{\"model\":{\"vocab\":{\"a\":0}}}".getBytes(StandardCharsets.UTF_8);

  /**
   * A sequences table at {@code root} whose manifest names {@code tokenizer} (written at {@code
   * tokenizerPath}) with BOS 1 and EOS 2, EOS after each document.
   */
  static String table(Path root, Path tokenizerPath, byte[] tokenizer) throws IOException {
    Files.write(tokenizerPath, tokenizer);
    SequencesFixture f = new SequencesFixture(root, 70);
    String manifest = "{\"job\":\"tokenize\",\"tokenizer\":{\"location\":\"" + tokenizerPath
        + "\",\"sha256\":\"" + Sha256.hex(tokenizer) + "\",\"vocab_size\":48,\"bos_id\":1,"
        + "\"eos_id\":2,\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"},"
        + "\"config\":{\"add_bos\":false,\"add_eos\":true}}";
    Map<String, String> props = new LinkedHashMap<>();
    props.put(SequencesTable.PROP_FORMAT_VERSION, SequencesTable.FORMAT_VERSION);
    props.put(SequencesTable.PROP_SEQ_LEN, "70");
    props.put(SequencesTable.PROP_VOCAB_SIZE, "48");
    props.put(SequencesTable.PROP_NUM_SHARDS, "1");
    props.put(SequencesTable.PROP_MANIFEST, manifest);
    f.commit(List.of(SequencesFixture.protocol(), f.metaData(props),
        f.add(SequencesTable.VALIDATION, 0, SequencesFixture.randomRows(2, 70, 48, 1), 0)));
    return f.table();
  }

  static int argmax(float[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[best]) {
        best = i;
      }
    }
    return best;
  }
}
