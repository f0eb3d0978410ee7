package flashlm.pipeline.hub;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;

/**
 * The download job's manifest, JSON at {@code DatasetPaths.downloadManifest()} with snake_case
 * keys: what was fetched, from where, at which commit. Written by the downloader, read by ingest;
 * unknown keys are ignored so later versions may add fields.
 *
 * @param source "hf://datasets/{repo}"
 * @param repo hub repo id
 * @param revision revision asked for
 * @param resolvedCommit commit the revision resolved to (resolved_commit)
 * @param endpoint hub endpoint
 * @param files the downloaded files
 * @param createdAt when the download finished
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record DownloadManifest(String source, String repo, String revision, String resolvedCommit,
    String endpoint, List<File> files, String createdAt) {

  /**
   * One downloaded file.
   *
   * @param path path within the repo, also its path under the raw directory
   * @param location full URI it was written to
   * @param size bytes
   * @param sha256 hex SHA-256
   * @param sha256Verified whether the download verified the sha256 against the hub's
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record File(String path, String location, Long size, String sha256, Boolean sha256Verified) {}
}
