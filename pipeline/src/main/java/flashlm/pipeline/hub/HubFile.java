package flashlm.pipeline.hub;

import java.io.Serializable;

/**
 * One file of a tree listing.
 *
 * @param path repo path
 * @param size bytes
 * @param oid git blob id (sha1 of {@code "blob SIZE\0" + bytes}) for a plain file; for an LFS
 *     file the pointer's blob id
 * @param sha256 the LFS oid (sha256 of the bytes), null for a file kept in git
 */
record HubFile(String path, long size, String oid, String sha256) implements Serializable {
  boolean lfs() {
    return sha256 != null;
  }
}
