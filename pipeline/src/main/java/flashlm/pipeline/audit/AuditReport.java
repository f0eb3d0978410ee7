package flashlm.pipeline.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import flashlm.config.Configs;
import java.io.PrintStream;
import java.util.List;

/**
 * What an audit command returns: printed as terminal tables ({@link #print}) or as JSON (the
 * record's components, snake_case), and the problems it found, which make the command fail.
 */
public interface AuditReport {
  /** Prints the report for a reader, as aligned tables. */
  void print(PrintStream out);

  /** What is wrong (mismatches, leaks), one line each; empty when the audit passed. */
  default List<String> problems() {
    return List.of();
  }

  /** The report as indented snake_case JSON. */
  default String toJson() {
    try {
      return Configs.json().writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the report as JSON", e);
    }
  }
}
