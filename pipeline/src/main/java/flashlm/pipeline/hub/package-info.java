/**
 * Downloads files from the HuggingFace hub into any Hadoop filesystem.
 *
 * <p>{@link flashlm.pipeline.hub.Downloader#run} resolves the revision to one commit, lists the
 * repo with the hub's tree API, matches the {@link flashlm.pipeline.hub.DownloadConfig#patterns}
 * globs, fetches the files in parallel Spark tasks (one task per file) through the {@code
 * resolve} URLs, and writes a {@link flashlm.pipeline.hub.DownloadManifest} next to them.
 *
 * <p>Every file is written in parts under {@code DEST/_flashlm_partial/PATH/part-OFFSET}; a part
 * holds the bytes of one HTTP response, so an interrupted transfer resumes with {@code Range:
 * bytes=OFFSET-} into a new part, on every filesystem, append or not (S3A included). Once the
 * size and sha256 are verified the file is moved to {@code DEST/PATH} (a rename when there is one
 * part, a copy of the parts otherwise) and a record is written to {@code
 * DEST/_flashlm_verified/PATH.json}; a re-run skips files whose record matches the listing. The
 * {@code _} prefixes keep both folders hidden from Spark and Hadoop file listings.
 *
 * <p>The token comes only from the environment variable {@code HF_TOKEN}; it is sent as {@code
 * Authorization: Bearer} to the hub endpoint and never to a redirect target on another host, and
 * it is never printed nor written to a manifest.
 */
package flashlm.pipeline.hub;
