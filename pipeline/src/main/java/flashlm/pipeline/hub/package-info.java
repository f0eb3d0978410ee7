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
 * in this user's private folder under the executor's {@code java.io.tmpdir} ({@code
 * StagingDir}), uploaded in one piece once verified and removed when the file fails. A download
 * claims a part ({@code PartLock}) before touching it, so two downloads into one destination
 * never write the same part. An interrupted transfer resumes with {@code Range: bytes=N-} (and
 * {@code If-Range} with the validator of the bytes held) from the part's length. A file reaches
 * {@code DEST/PATH} only after its size and hash match the hub's: the LFS sha256 from the listing
 * (or {@code X-Linked-Etag}), or for a small file kept in git its git blob id; where the hub
 * gives no hash the manifest says {@code sha256_verified: false}. IO errors, 429 and 5xx are
 * retried with exponential backoff and jitter ({@code Retry-After} wins) while the part grows, up
 * to {@code max_retries} attempts without growth and within {@code file_deadline_seconds}; 401,
 * 403 and 404 fail at once with a {@link flashlm.pipeline.hub.HubException} naming the repo,
 * revision and file.
 *
 * <p>What the hub sends is checked before it names a path or a URL ({@code HubPaths}): listing
 * paths are relative and stay under the destination, the commit is a commit id, pagination never
 * revisits a page, and redirects go to http(s) only (not down from https to http for a file
 * without an LFS sha256).
 *
 * <p>A re-run skips a file whose manifest entry matches the listing (size, blob id, sha256) when
 * the file has that size, without hashing it ({@code verify_existing} hashes it anyway); a file
 * present but missing from the manifest is hashed and kept when it matches.
 *
 * <p>The token comes from {@code token_file} or the environment variable {@code HF_TOKEN}; it is
 * sent as {@code Authorization: Bearer} to the hub endpoint's own origin, never to a redirect
 * target on another host (a CDN), only over https (or plain http to a loopback address), and it
 * is never printed nor written to a manifest; server text copied into messages is redacted.
 */
package flashlm.pipeline.hub;
