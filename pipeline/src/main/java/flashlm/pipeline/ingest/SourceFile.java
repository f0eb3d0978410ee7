package flashlm.pipeline.ingest;

import java.io.Serializable;

/**
 * One input file. A JavaBean (public, no-arg constructor, setters) so Spark can encode it.
 *
 * <p>{@code path} is the path within the source (the documents' {@code source_file}); {@code
 * location} the full URI read; {@code sha256} may be null until hashed; {@code split} is
 * "train"/"validation" or null.
 */
public final class SourceFile implements Serializable {
  private static final long serialVersionUID = 1L;
  private String path;
  private String location;
  private long size;
  private String sha256;
  private String split;

  public SourceFile() {}

  /** A file with all fields. */
  public SourceFile(String path, String location, long size, String sha256, String split) {
    this.path = path;
    this.location = location;
    this.size = size;
    this.sha256 = sha256;
    this.split = split;
  }

  public String getPath() {
    return path;
  }

  public void setPath(String path) {
    this.path = path;
  }

  public String getLocation() {
    return location;
  }

  public void setLocation(String location) {
    this.location = location;
  }

  public long getSize() {
    return size;
  }

  public void setSize(long size) {
    this.size = size;
  }

  public String getSha256() {
    return sha256;
  }

  public void setSha256(String sha256) {
    this.sha256 = sha256;
  }

  public String getSplit() {
    return split;
  }

  public void setSplit(String split) {
    this.split = split;
  }
}
