package flashlm.train;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.dist.Collective;
import flashlm.model.ModelSpec;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;

/**
 * Where a run starts: the checkpoint every rank resumes from (rank 0 chooses it and sends its
 * step to the others, so that all read the same file whatever their own listings of the
 * directory would show) and its header, checked against the config and the world size.
 */
final class Resume {
  private final Configuration conf;
  private final TrainConfig config;
  private final Collective collective;
  private final boolean resume;
  private final TrainLog log;

  Resume(Configuration conf, TrainConfig config, Collective collective, boolean resume,
      TrainLog log) {
    this.conf = conf;
    this.config = config;
    this.collective = collective;
    this.resume = resume;
    this.log = log;
  }

  /** The checkpoint every rank resumes from, or null to start fresh. */
  String agreedPath(CheckpointDir dir) {
    String path = collective.rank() == 0 ? chosenPath(dir) : null;
    if (dir == null || collective.worldSize() == 1) {
      return path;
    }
    long step = collective.broadcast(path == null ? -1 : CheckpointDir.stepOf(path));
    return step < 0 ? null : dir.path(step);
  }

  /**
   * Rank 0's choice: the newest complete checkpoint with {@code --resume}, or null to start
   * fresh; refuses to overwrite another run. Newer incomplete checkpoints are skipped with a
   * warning and set aside.
   */
  private String chosenPath(CheckpointDir dir) {
    List<String> any = dir == null ? List.of() : dir.list();
    if (!resume) {
      if (!any.isEmpty()) {
        throw new ConfigException("checkpoint.dir " + dir + " already holds checkpoints"
            + " (newest " + any.get(any.size() - 1) + "); pass --resume to continue that run, or"
            + " set checkpoint.dir to a new directory");
      }
      return null;
    }
    if (dir == null) {
      throw new ConfigException("--resume needs checkpoint.dir in the config");
    }
    Optional<String> latest = dir.latest(bad -> log.info("warning: --resume skips " + bad.path()
        + ", not a complete checkpoint: " + bad.reason() + "; set aside as "
        + dir.setAside(bad)));
    if (latest.isEmpty()) {
      log.info("--resume: no checkpoint in " + dir + " yet, starting from step 0");
      return null;
    }
    return latest.get();
  }

  /** The header of the checkpoint to resume from, checked against the config. */
  Checkpoint.Header header(String path) {
    Checkpoint.Header h = Checkpoint.readHeader(conf, path);
    // backward_dx and backward_dw change how gradients are computed, not the weights: any
    // values resume
    ModelSpec want = config.model();
    if (!h.config().model().withBackward(want.backwardDx(), want.backwardDw()).equals(want)
        || !h.optimizer().equals(config.optimizer().type().id())) {
      throw new IllegalArgumentException(path + " was written for model "
          + Configs.toJson(h.config().model()).replaceAll("\\s+", " ") + " with optimizer "
          + h.optimizer() + ", but the config asks for model "
          + Configs.toJson(config.model()).replaceAll("\\s+", " ") + " with optimizer "
          + config.optimizer().type().id() + ". Resume with the config saved beside it ("
          + CheckpointDir.CONFIG + "), or set checkpoint.dir to a new directory");
    }
    RankPositions.checkWorldSize(h, path, collective.worldSize());
    for (String key : ConfigDiff.changed(h.config(), config)) {
      log.info("--resume: config key '" + key + "' differs from the checkpoint's; using the new"
          + " value");
    }
    return h;
  }
}
