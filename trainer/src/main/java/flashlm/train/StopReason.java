package flashlm.train;

import java.util.Locale;

/** Why a training run stopped; {@link #id()} is the name logs and metrics use. */
public enum StopReason {
  /** {@code max_steps} updates are done. */
  MAX_STEPS,
  /** The session's {@code optStopAt} step is reached (a preempted job, in tests). */
  STOP_AT,
  /** The time budget's decay window ended. */
  TIME_BUDGET,
  /** The JVM was asked to stop (SIGTERM, SIGINT): no final evaluation. */
  SIGNAL;

  /** {@code max_steps}, {@code stop_at}, {@code time_budget} or {@code signal}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }
}
