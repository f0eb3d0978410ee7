package flashlm.train;

/**
 * Learning rate as a function of the step (for warmup) and the run's progress in [0, 1], the
 * larger of steps done / max_steps and time used / time_budget. Placing the decay by progress
 * is what lets a time-budgeted run enter its decay phase when the budget minus the decay time is
 * reached and end at min_lr when the budget runs out.
 */
final class LrSchedule {
  private final TrainConfig.Schedule config;
  private final double peak;

  LrSchedule(TrainConfig.Schedule config, double peak) {
    this.config = config;
    this.peak = peak;
  }

  double lr(long step, double progress) {
    double p = Math.min(1, Math.max(0, progress));
    double minLr = config.minLr();
    double lr;
    if (config.type().equals(TrainConfig.Schedule.WSD)) {
      double decayStart = 1 - config.decayFraction();
      lr = p < decayStart || config.decayFraction() == 0
          ? peak
          : minLr + (peak - minLr) * (1 - p) / config.decayFraction();
    } else {
      lr = minLr + 0.5 * (peak - minLr) * (1 + Math.cos(Math.PI * p));
    }
    if (step < config.warmup()) {
      lr = Math.min(lr, peak * (step + 1) / config.warmup());
    }
    return lr;
  }
}
