/**
 * Dataset manifests and the one way tables are written.
 *
 * <p>Every commit of the documents and sequences tables carries a {@link
 * flashlm.pipeline.manifest.DatasetManifest} as its Delta {@code userMetadata} and in the table
 * property {@code flashlm.manifest}, plus a few flat properties. {@link
 * flashlm.pipeline.manifest.DeltaWrites} replaces a table in one atomic commit and skips the
 * commit when the table already holds the same inputs (same manifest fingerprint), so a retried or
 * repeated job adds no rows and no version.
 */
package flashlm.pipeline.manifest;
