/**
 * Downloads files from the HuggingFace hub into any Hadoop filesystem.
 *
 * <p>{@link flashlm.pipeline.hub.Downloader#run} resolves the revision to one commit ({@code
 * /api/{type}s/{repo}/revision/{rev}}), lists the repo with the hub's tree API (following the
 * {@code Link} pagination), matches the {@link flashlm.pipeline.hub.DownloadConfig#patterns}
 * globs, fetches the files in parallel Spark tasks (one task per file) from the {@code resolve}
 * URLs at that commit, and writes a {@link flashlm.pipeline.hub.DownloadManifest} next to them.
 *
 * <p>A file's bytes collect in a part (see {@code PartFile}): on a filesystem that appends (local,
 * HDFS) at {@code DEST/_flashlm_partial/PATH.COMMIT.part}; on an object store ({@code s3a://})
 * in the executor's {@code java.io.tmpdir}, uploaded in one piece once verified. An interrupted
 * transfer resumes with {@code Range: bytes=N-} from the part's length. A file reaches {@code
 * DEST/PATH} only after its size and hash match the hub's: the LFS sha256 from the listing (or
 * {@code X-Linked-Etag}), or for a small file kept in git its git blob id; where the hub gives no
 * hash the manifest says {@code sha256_verified: false}. IO errors, 429 and 5xx are retried with
 * exponential backoff and jitter ({@code Retry-After} wins); 401, 403 and 404 fail at once with
 * a {@link flashlm.pipeline.hub.HubException} naming the repo, revision and file.
 *
 * <p>A re-run skips a file whose manifest entry matches the listing (size, blob id, sha256) when
 * the file has that size, without hashing it ({@code verify_existing} hashes it anyway); a file
 * present but missing from the manifest is hashed and kept when it matches.
 *
 * <p>The token comes from {@code token_file} or the environment variable {@code HF_TOKEN}; it is
 * sent as {@code Authorization: Bearer} to the hub endpoint's own origin, never to a redirect
 * target on another host (a CDN), and it is never printed nor written to a manifest.
 */
package flashlm.pipeline.hub;
