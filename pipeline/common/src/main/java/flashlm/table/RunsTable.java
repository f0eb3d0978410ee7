package flashlm.table;

/**
 * The contract of the runs registry: one Delta table, one row per {@code flashlm train}
 * invocation, appended by the trainer when the run ends (a resume is a run of its own), read by
 * {@code flashlm audit lineage} to answer which runs trained on a table version.
 *
 * <pre>
 * run_id            STRING     random UUID of the invocation
 * status            STRING     how it ended: max_steps, time_budget, signal, stop_at, or failed
 * started_at        TIMESTAMP  when the training loop began
 * ended_at          TIMESTAMP  when it ended
 * host              STRING     the host rank 0 ran on
 * config_sha256     STRING     sha256 of the resolved config (flashlm.config.Configs.fingerprint)
 * config            STRING     the resolved config as JSON, credential-like values masked
 * table             STRING     the sequences table, qualified (file:/..., s3a://...)
 * table_version     LONG       the Delta version read
 * train_split       STRING     the split trained on
 * validation_split  STRING     the split evaluated on
 * world_size        INT        ranks
 * start_step        LONG       0, or the step of the checkpoint resumed from
 * end_step          LONG       updates done when it ended
 * resumed_from      STRING     the checkpoint resumed from, or null
 * train_loss        DOUBLE     loss of the last update, or null
 * val_loss          DOUBLE     last validation loss, or null when no evaluation ran
 * checkpoint_dir    STRING     qualified checkpoint.dir, or null
 * checkpoint        STRING     the last checkpoint written, or null
 * checkpoints       ARRAY&lt;STRING&gt;  this run's checkpoints still in the directory at its end
 * error             STRING     the failure, for status failed
 * </pre>
 *
 * <p>Its place is the config's {@code runs_table}, by default {@link #beside} the sequences
 * table: {@code data_dir/runs}.
 */
public final class RunsTable {
  public static final String RUN_ID = "run_id";
  public static final String STATUS = "status";
  public static final String STARTED_AT = "started_at";
  public static final String ENDED_AT = "ended_at";
  public static final String HOST = "host";
  public static final String CONFIG_SHA256 = "config_sha256";
  public static final String CONFIG = "config";
  public static final String TABLE = "table";
  public static final String TABLE_VERSION = "table_version";
  public static final String TRAIN_SPLIT = "train_split";
  public static final String VALIDATION_SPLIT = "validation_split";
  public static final String WORLD_SIZE = "world_size";
  public static final String START_STEP = "start_step";
  public static final String END_STEP = "end_step";
  public static final String RESUMED_FROM = "resumed_from";
  public static final String TRAIN_LOSS = "train_loss";
  public static final String VAL_LOSS = "val_loss";
  public static final String CHECKPOINT_DIR = "checkpoint_dir";
  public static final String CHECKPOINT = "checkpoint";
  public static final String CHECKPOINTS = "checkpoints";
  public static final String ERROR = "error";

  /** {@link #STATUS} of a run that ended with an error. */
  public static final String FAILED = "failed";
  /** The directory name of the default location, beside the sequences table. */
  public static final String DIR = "runs";

  private RunsTable() {}

  /**
   * The default runs table of a run reading {@code sequencesTable}: {@code runs} in the same
   * directory ({@code data_dir/sequences} gives {@code data_dir/runs}).
   */
  public static String beside(String sequencesTable) {
    String t = sequencesTable;
    while (t.length() > 1 && t.endsWith("/")) {
      t = t.substring(0, t.length() - 1);
    }
    int slash = t.lastIndexOf('/');
    if (slash < 0) {
      return DIR;
    }
    // "s3a://bucket" has no parent directory inside the bucket: the runs table goes beside it.
    String parent = t.substring(0, slash);
    return (parent.endsWith(":/") || parent.endsWith(":") ? t : parent) + "/" + DIR;
  }
}
