package flashlm.pipeline.tokenize;

import flashlm.pipeline.manifest.DatasetManifest;

/**
 * What {@link Tokenize#run} did.
 *
 * @param table the sequences table's location
 * @param version the table version that holds these inputs (new, or the one already there)
 * @param committed true when this run wrote a new version; false when the table already held
 *     the same inputs and nothing was written
 * @param manifest the manifest of that version
 */
public record TokenizeResult(String table, long version, boolean committed,
    DatasetManifest manifest) {}
