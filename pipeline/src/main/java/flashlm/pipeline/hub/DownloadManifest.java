package flashlm.pipeline.hub;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.io.Serializable;
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
 * @param files the downloaded files, sorted by path
 * @param createdAt when the download finished
 * @param patterns the globs that selected the files (null in manifests that predate the field)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record DownloadManifest(String source, String repo, String revision, String resolvedCommit,
    String endpoint, List<File> files, String createdAt, List<String> patterns)
    implements Serializable {

  /** A manifest without {@code patterns}. */
  public DownloadManifest(String source, String repo, String revision, String resolvedCommit,
      String endpoint, List<File> files, String createdAt) {
    this(source, repo, revision, resolvedCommit, endpoint, files, createdAt, null);
  }

  /** {@link File#verifiedBy()} when the bytes matched the LFS oid (the hub's sha256). */
  public static final String VERIFIED_BY_LFS_SHA256 = "lfs-sha256";
  /** {@link File#verifiedBy()} when the bytes matched the git blob id of a file kept in git. */
  public static final String VERIFIED_BY_GIT_SHA1 = "git-blob-sha1";

  /**
   * One downloaded file.
   *
   * @param path path within the repo, also its path under the raw directory
   * @param location full URI it was written to
   * @param size bytes
   * @param sha256 hex SHA-256 of the bytes written (computed while downloading)
   * @param sha256Verified whether the bytes were checked against a hash the hub gave: the LFS
   *     sha256 or, for a small file kept in git, its git blob id; false when the hub gave none
   * @param oid the listing's git blob id (for an LFS file, that of its pointer); lets a re-run see
   *     that a file is unchanged without hashing it
   * @param verifiedBy {@link #VERIFIED_BY_LFS_SHA256}, {@link #VERIFIED_BY_GIT_SHA1} or null
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record File(String path, String location, Long size, String sha256, Boolean sha256Verified,
      String oid, String verifiedBy) implements Serializable {

    /** An entry without the hub's blob id and verification method. */
    public File(String path, String location, Long size, String sha256, Boolean sha256Verified) {
      this(path, location, size, sha256, sha256Verified, null, null);
    }
  }
}
