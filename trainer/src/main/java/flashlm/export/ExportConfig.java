package flashlm.export;

import com.fasterxml.jackson.annotation.JsonCreator;
import flashlm.config.ConfigEnum;
import flashlm.config.ConfigException;
import flashlm.infer.Embedding;

/**
 * What {@code flashlm export} writes: {@code bin/flashlm export --set checkpoint=DIR_OR_FILE
 * --set out=DIR [--set format=packed]}.
 *
 * @param checkpoint a checkpoint file (ckpt-*.flm), or a checkpoint directory to export its
 *     newest
 * @param out the directory to write into (local or any Hadoop URI)
 * @param format {@code hf} (default): model.safetensors (fp32 master weights under Llama names),
 *     config.json, and the tokenizer files; {@code packed}: {@value
 *     flashlm.infer.PackedFile#NAME}, the packed model file {@code generate} and {@code eval}
 *     load (2-bit ternary weights, the tokenizer inside)
 * @param embedding packed only: {@code f32} (default) or {@code bf16} embedding
 * @param tokenizer the tokenizer.json to ship, when the one recorded in the training table's
 *     manifest cannot be read any more (default: that one)
 */
public record ExportConfig(String checkpoint, String out, Format format, Embedding embedding,
    String tokenizer) {

  /** The export formats. */
  public enum Format implements ConfigEnum {
    HF,
    PACKED;

    @JsonCreator
    public static Format of(String id) {
      return ConfigEnum.parse(Format.class, "format", id);
    }
  }

  public ExportConfig {
    if (checkpoint == null || checkpoint.isBlank()) {
      throw ConfigException.missing("checkpoint");
    }
    if (out == null || out.isBlank()) {
      throw ConfigException.missing("out");
    }
    format = format == null ? Format.HF : format;
    embedding = embedding == null ? Embedding.F32 : embedding;
    if (tokenizer != null && tokenizer.isBlank()) {
      throw ConfigException.badValue("tokenizer", "''", "a tokenizer.json path, or leave it unset");
    }
  }

  /** An HF export of {@code checkpoint} into {@code out}. */
  public ExportConfig(String checkpoint, String out) {
    this(checkpoint, out, null, null, null);
  }
}
