package flashlm.pipeline.ingest;

import flashlm.pipeline.manifest.DatasetManifest;

/**
 * What {@link Ingest#run} did.
 *
 * @param table the documents table's location
 * @param version the table version that holds the inputs (new, or the one already there)
 * @param committed true when this run wrote a new version; false when the table already held
 *     the same inputs and nothing was written
 * @param manifest the manifest of that version
 */
public record IngestResult(String table, long version, boolean committed,
    DatasetManifest manifest) {}
