package flashlm.export;

import flashlm.config.ConfigException;

/**
 * What {@code flashlm export} writes: {@code bin/flashlm export --set checkpoint=DIR_OR_FILE
 * --set out=DIR}.
 *
 * @param checkpoint a checkpoint file (ckpt-*.flm), or a checkpoint directory to export its
 *     newest
 * @param out the directory for model.safetensors and config.json (local or any Hadoop URI)
 */
public record ExportConfig(String checkpoint, String out) {
  public ExportConfig {
    if (checkpoint == null || checkpoint.isBlank()) {
      throw ConfigException.missing("checkpoint");
    }
    if (out == null || out.isBlank()) {
      throw ConfigException.missing("out");
    }
  }
}
