package flashlm.jobs;

import com.fasterxml.jackson.annotation.JsonCreator;
import flashlm.config.ConfigEnum;
import flashlm.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What {@code flashlm quickstart} runs (conf/quickstart.yaml).
 *
 * @param source {@code local} (the bundled TinyStories excerpt, offline) or {@code hub}
 *     (TinyStories' validation file from the hub)
 * @param datasets the data set config of each source
 * @param dataDir where the data set's tables go (data_dir); default the data set config's own
 * @param model the model config to train (v6.1)
 * @param runDir the run's directory (run_dir): checkpoints, metrics, report, evals, sample and
 *     the packed model; default {@code runs/quickstart}, {@code runs/quickstart-hub} for the hub
 * @param train overrides of the model config ({@code time_budget: 3m}; nested keys may be
 *     dotted, {@code log.every: 10})
 * @param prompt the story's start
 * @param maxNewTokens the story's length in tokens at most (max_new_tokens)
 * @param maxDocuments validation documents scored (max_documents), default all
 */
public record QuickstartConfig(Source source, Map<String, String> datasets, String dataDir,
    String model, String runDir, Map<String, Object> train, String prompt, Integer maxNewTokens,
    Integer maxDocuments) {

  /** Where the quick start's stories come from. */
  public enum Source implements ConfigEnum {
    LOCAL,
    HUB;

    @JsonCreator
    public static Source of(String id) {
      return ConfigEnum.parse(Source.class, "source", id);
    }
  }

  public QuickstartConfig {
    source = source == null ? Source.LOCAL : source;
    if (datasets == null || datasets.get(source.id()) == null) {
      throw ConfigException.missing("datasets." + source.id());
    }
    if (dataDir != null && dataDir.isBlank()) {
      throw ConfigException.badValue("data_dir", "''", "a directory, or leave it unset");
    }
    if (model == null || model.isBlank()) {
      throw ConfigException.missing("model");
    }
    runDir = runDir == null || runDir.isBlank()
        ? "runs/quickstart" + (source == Source.HUB ? "-hub" : "") : runDir;
    train = train == null ? Map.of() : train;
    prompt = prompt == null ? "Once upon a time" : prompt;
    maxNewTokens = maxNewTokens == null ? 200 : maxNewTokens;
  }

  /** The data set config of the chosen source. */
  String dataset() {
    return datasets.get(source.id());
  }

  /** {@link #train} as {@code --set} overrides, nested maps joined with dots. */
  List<String> trainOverrides() {
    List<String> out = new ArrayList<>();
    flatten("", train, out);
    return out;
  }

  private static void flatten(String prefix, Map<?, ?> map, List<String> out) {
    for (Map.Entry<?, ?> e : map.entrySet()) {
      String key = prefix + e.getKey();
      if (e.getValue() instanceof Map<?, ?> nested) {
        flatten(key + ".", nested, out);
      } else {
        out.add(key + "=" + e.getValue());
      }
    }
  }
}
