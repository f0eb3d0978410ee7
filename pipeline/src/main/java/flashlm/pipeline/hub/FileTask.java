package flashlm.pipeline.hub;

import java.io.Serializable;

/**
 * The input of one Spark task: a file of the listing and what an earlier run's manifest says
 * about it (null when it lists no such path).
 */
record FileTask(HubFile file, DownloadManifest.File prior) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Whether the earlier run wrote exactly this file: same size, blob id and LFS sha256. */
  boolean priorMatches() {
    return prior != null && prior.size() != null && prior.size() == file.size()
        && file.oid() != null && file.oid().equals(prior.oid())
        && (file.sha256() == null || file.sha256().equals(prior.sha256()))
        && Boolean.TRUE.equals(prior.sha256Verified());
  }
}
