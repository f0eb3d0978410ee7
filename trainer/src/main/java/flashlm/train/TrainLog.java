package flashlm.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The trainer's console lines and metrics file (JSON lines, appended, so a resumed run continues
 * the same file). Only rank 0 writes; on other ranks every method does nothing.
 *
 * <pre>
 * {"type":"train","step":120,"loss":5.12,"lr":0.003,"grad_norm":0.81,"tokens":491520,"tokens_per_s":12345.6,"elapsed_s":39.8}
 * {"type":"eval","step":200,"val_loss":4.98,"tokens":819200,"elapsed_s":66.1}
 * {"type":"stop","step":400,"reason":"max_steps","loss":4.71,"val_loss":4.80,"checkpoint":"..."}
 * </pre>
 */
final class TrainLog implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final PrintStream out;
  private final BufferedWriter metrics;
  private final boolean active;

  TrainLog(PrintStream out, String metricsPath, boolean active) {
    this.out = out;
    this.active = active;
    if (active && metricsPath != null) {
      try {
        Path p = Path.of(metricsPath).toAbsolutePath();
        Files.createDirectories(p.getParent());
        metrics = Files.newBufferedWriter(p, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot open the metrics file " + metricsPath + ": "
            + e.getMessage(), e);
      }
    } else {
      metrics = null;
    }
  }

  void info(String message) {
    if (active) {
      out.println("train: " + message);
      out.flush();
    }
  }

  /** One training log line and metrics record. */
  void step(long step, long lastStep, double loss, double lr, double gradNorm, long tokens,
      double tokensPerSecond, double elapsedSeconds, double etaSeconds) {
    if (!active) {
      return;
    }
    out.println(String.format(Locale.ROOT,
        "step %d/%d | loss %.4f | lr %.3e | grad norm %.3f | %,.0f tok/s | elapsed %s | eta %s",
        step, lastStep, loss, lr, gradNorm, tokensPerSecond, duration(elapsedSeconds),
        duration(etaSeconds)));
    out.flush();
    ObjectNode m = JSON.createObjectNode().put("type", "train").put("step", step).put("loss", loss)
        .put("lr", lr).put("grad_norm", gradNorm).put("tokens", tokens)
        .put("tokens_per_s", tokensPerSecond).put("elapsed_s", elapsedSeconds);
    write(m);
  }

  void eval(long step, double valLoss, long tokens, double elapsedSeconds) {
    if (!active) {
      return;
    }
    out.println(String.format(Locale.ROOT, "eval step %d | val loss %.4f", step, valLoss));
    out.flush();
    write(JSON.createObjectNode().put("type", "eval").put("step", step).put("val_loss", valLoss)
        .put("tokens", tokens).put("elapsed_s", elapsedSeconds));
  }

  /** How the run ended ({@code val_loss} null when no evaluation ran). */
  void stop(long step, String reason, double loss, double valLoss, String checkpoint) {
    if (!active) {
      return;
    }
    ObjectNode m = JSON.createObjectNode().put("type", "stop").put("step", step)
        .put("reason", reason).put("loss", loss);
    if (Double.isNaN(valLoss)) {
      m.putNull("val_loss");
    } else {
      m.put("val_loss", valLoss);
    }
    write(m.put("checkpoint", checkpoint));
  }

  private void write(ObjectNode record) {
    if (metrics == null) {
      return;
    }
    try {
      metrics.write(record.toString());
      metrics.newLine();
      metrics.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the metrics file: " + e.getMessage(), e);
    }
  }

  /** "45s", "12m05s", "3h07m". */
  static String duration(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      return "?";
    }
    long s = Math.round(seconds);
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }

  @Override
  public void close() {
    if (metrics != null) {
      try {
        metrics.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
