package flashlm.pipeline.audit;

import flashlm.config.ConfigException;

/**
 * Settings the audit commands share ({@code conf/audit.yaml}); the table, versions and checks are
 * the command's arguments.
 *
 * @param sample how many offending documents or rows a finding names (default 10)
 * @param seed which documents {@code verify --retokenize K} picks: the K smallest {@code
 *     xxhash64(seed, doc_id)} (default 0)
 */
public record AuditConfig(Integer sample, Long seed) {
  public AuditConfig {
    sample = sample == null ? 10 : sample;
    if (sample < 0) {
      throw ConfigException.badValue("sample", sample, "an integer >= 0");
    }
    seed = seed == null ? 0L : seed;
  }
}
