package flashlm.jobs;

import flashlm.config.ConfigException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;

/**
 * What {@code flashlm eval} scores: {@code bin/flashlm eval --set model=runs/v6.1/checkpoints
 * [--set tables='[flashlm-data/x/sequences@3]'] [--max-documents N]}.
 *
 * @param model a checkpoint file, a checkpoint directory (its newest), or a packed model file
 *     ({@code export --set format=packed}) (required)
 * @param tables sequences tables whose validation documents to score, each {@code PATH} (its
 *     latest version) or {@code PATH@VERSION}; default the table and version the model trained
 *     on. A table made with another tokenizer than the model's is skipped with a message.
 * @param maxDocuments score only the first this many validation documents (by doc_id) of each
 *     table (max_documents, or {@code --max-documents N}); default all
 * @param stride tokens between the windows of a document longer than the model's context
 *     (seq_len); default seq_len / 2
 * @param evals the evals Delta table the results are appended to; default {@code evals} beside
 *     the model (in a checkpoint directory, or in the packed file's directory)
 */
public record EvalConfig(String model, List<String> tables, Integer maxDocuments, Integer stride,
    String evals) {
  private static final Pattern VERSIONED = Pattern.compile("(.+)@(\\d+)");

  public EvalConfig {
    if (model == null || model.isBlank()) {
      throw ConfigException.missing("model");
    }
    tables = tables == null ? List.of() : List.copyOf(tables);
    if (maxDocuments != null && maxDocuments < 1) {
      throw ConfigException.badValue("max_documents", maxDocuments, "a positive integer");
    }
    if (stride != null && stride < 1) {
      throw ConfigException.badValue("stride", stride, "a positive integer");
    }
    for (String t : tables) {
      if (t == null || t.isBlank()) {
        throw ConfigException.badValue("tables", tables, "table paths, each PATH or PATH@VERSION");
      }
    }
  }

  /**
   * A sequences table at a pinned version.
   *
   * @param path the table
   * @param version its version, or null for the latest
   */
  public record TableRef(String path, Long version) {
    static TableRef parse(String text) {
      Matcher m = VERSIONED.matcher(text);
      return m.matches() ? new TableRef(m.group(1), Long.parseLong(m.group(2)))
          : new TableRef(text, null);
    }

    @Override
    public String toString() {
      return version == null ? path : path + "@" + version;
    }
  }

  /** The tables as references. */
  List<TableRef> tableRefs() {
    return tables.stream().map(TableRef::parse).toList();
  }

  /** The evals table: {@code evals}, else beside the model ({@code isDirectory}: is it a run's). */
  String evalsTable(boolean modelIsDirectory) {
    if (evals != null) {
      return evals;
    }
    Path m = new Path(model);
    return new Path(modelIsDirectory ? m : m.getParent(), "evals").toString();
  }
}
