package flashlm.train;

/**
 * The learning rate of each update, counted from 0, over a run of {@code max_steps} updates,
 * with an optional decay window opened when the time budget runs low.
 *
 * <ul>
 *   <li>Warmup: update {@code s < warmup} gets at most {@code peak * (s + 1) / warmup}.
 *   <li>{@code wsd}: {@code peak} until {@code D = max_steps - round(decay_fraction *
 *       max_steps)}, then linear towards {@code min_lr}: update {@code s >= D} gets {@code peak +
 *       (min_lr - peak) * (s - D) / (max_steps - D)}.
 *   <li>{@code cosine}: {@code min_lr + (peak - min_lr) * (1 + cos(pi * s / max_steps)) / 2}.
 *   <li>Time budget ({@link BudgetDecay}): when the run has used {@code (1 - decay_fraction)} of
 *       its {@code time_budget}, at update {@code s0} with learning rate {@code lr0}, the trainer
 *       opens a window of {@code n = max(1, ceil(s0 * decay_fraction / (1 - decay_fraction)))}
 *       updates, the number the remaining share of the budget holds at the pace so far (no later
 *       than {@code max_steps}); update {@code s} in it gets, with {@code q = (s - s0) / n},
 *       {@code lr0 + (min_lr - lr0) * q} for wsd and {@code min_lr + (lr0 - min_lr) * (1 +
 *       cos(pi * q)) / 2} for cosine. The run stops after the window's last update. The window
 *       is counted in updates, not seconds, so a run resumed inside it replays it exactly.
 * </ul>
 */
final class LrSchedule {
  /**
   * A decay window the time budget opened.
   *
   * @param start first update of the window
   * @param end the update after the last one; the run stops there
   * @param fromLr the learning rate at {@code start} before the window
   */
  record BudgetDecay(long start, long end, double fromLr) {}

  private final TrainConfig.Schedule config;
  private final double peak;
  private final long maxSteps;
  private final long decayStart;

  LrSchedule(TrainConfig.Schedule config, double peak, long maxSteps) {
    this.config = config;
    this.peak = peak;
    this.maxSteps = maxSteps;
    this.decayStart = maxSteps - Math.round(config.decayFraction() * maxSteps);
  }

  /** The learning rate of update {@code step}; {@code budget} is the open window or null. */
  double lr(long step, BudgetDecay budget) {
    double minLr = config.minLr();
    if (budget != null && step >= budget.start()) {
      long n = budget.end() - budget.start();
      double q = n <= 0 ? 1 : Math.min(1, (double) (step - budget.start()) / n);
      return wsd()
          ? budget.fromLr() + (minLr - budget.fromLr()) * q
          : minLr + (budget.fromLr() - minLr) * 0.5 * (1 + Math.cos(Math.PI * q));
    }
    double lr;
    if (wsd()) {
      lr = step < decayStart ? peak
          : peak + (minLr - peak) * (double) (step - decayStart) / (maxSteps - decayStart);
    } else {
      lr =
          minLr
              + (peak - minLr)
                  * 0.5
                  * (1 + Math.cos(Math.PI * Math.min(1.0, (double) step / maxSteps)));
    }
    if (step < config.warmup()) {
      lr = Math.min(lr, peak * (step + 1) / config.warmup());
    }
    return lr;
  }

  /**
   * The window opened at update {@code step} when {@code (1 - decay_fraction)} of the budget is
   * used: its length is what the rest of the budget holds at the pace of the first {@code step}
   * updates. With {@code decay_fraction = 0} the window is empty: the run stops at once.
   */
  BudgetDecay budgetDecay(long step) {
    double f = config.decayFraction();
    // the tolerance keeps 8.0 / 0.8 = 9.999... from rounding up to 11 updates
    long n = f == 0 ? 0 : Math.max(1, (long) Math.ceil(step * f / (1 - f) - 1e-9));
    long end = Math.min(maxSteps, step + n);
    return new BudgetDecay(step, end, lr(step, null));
  }

  private boolean wsd() {
    return config.type() == TrainConfig.Schedule.Type.WSD;
  }
}
