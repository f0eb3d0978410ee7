package flashlm.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.Locale;

/**
 * The trainer's console lines and metrics records ({@link MetricsFile}: JSON lines, a resumed run
 * continuing the same file). Only rank 0 writes; on other ranks every method does nothing.
 *
 * <pre>
 * (one record per line; wrapped here)
 * {"type":"attempt","attempt":1,"start":"2026-12-05T10:00:00Z","step":0,"resumed_from":null,
 *  "world_size":2}
 * {"type":"train","step":120,"loss":5.12,"lr":0.003,"grad_norm":0.81,"tokens":491520,
 *  "tokens_per_s":12345.6,"elapsed_s":39.8,"comm_s":0.41}
 * {"type":"eval","step":200,"val_loss":4.98,"tokens":819200,"elapsed_s":66.1}
 * {"type":"stop","step":400,"reason":"max_steps","loss":4.71,"val_loss":4.80,"checkpoint":"..."}
 * {"type":"failure","attempt":2,"step":130,"error":"..."}
 * </pre>
 *
 * <p>{@code comm_s} is the time this rank spent in the gradient allreduce since the previous train
 * record (waiting for slower ranks included).
 */
final class TrainLog implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final PrintStream out;
  private final boolean active;
  private MetricsFile metrics;

  TrainLog(PrintStream out, boolean active) {
    this.out = out;
    this.active = active;
  }

  /** Whether this log writes (rank 0). */
  boolean active() {
    return active;
  }

  /** Where records go from now on (rank 0; none before this). */
  void metrics(MetricsFile file) {
    metrics = file;
  }

  void info(String message) {
    if (active) {
      out.println("train: " + message);
      out.flush();
    }
  }

  /**
   * One training log line and metrics record; {@code showComm} adds the share of the {@code
   * intervalSeconds} since the last line spent in the allreduce to the line.
   */
  void step(long step, long lastStep, double loss, double lr, double gradNorm, long tokens,
      double tokensPerSecond, double elapsedSeconds, double etaSeconds, double commSeconds,
      double intervalSeconds, boolean showComm) {
    if (!active) {
      return;
    }
    out.println(String.format(Locale.ROOT,
        "step %d/%d | loss %.4f | lr %.3e | grad norm %.3f | %,.0f tok/s | elapsed %s | eta %s%s",
        step, lastStep, loss, lr, gradNorm, tokensPerSecond, duration(elapsedSeconds),
        duration(etaSeconds), showComm ? String.format(Locale.ROOT, " | allreduce %.1f%%",
            100 * commSeconds / intervalSeconds) : ""));
    out.flush();
    ObjectNode m = JSON.createObjectNode().put("type", "train").put("step", step).put("loss", loss)
        .put("lr", lr).put("grad_norm", gradNorm).put("tokens", tokens)
        .put("tokens_per_s", tokensPerSecond).put("elapsed_s", elapsedSeconds)
        .put("comm_s", commSeconds);
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

  /** The error that ended this attempt after {@code step} updates. */
  void failure(long step, Throwable error) {
    if (active && metrics != null) {
      write(JSON.createObjectNode().put("type", "failure").put("attempt", metrics.attempt())
          .put("step", step).put("error", String.valueOf(error)));
    }
  }

  /** Makes the stored metrics file hold every record so far (after a checkpoint). */
  void flush() {
    if (metrics != null) {
      metrics.flush();
    }
  }

  private void write(ObjectNode record) {
    if (metrics != null) {
      metrics.add(record);
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
      metrics.close();
    }
  }
}
