package flashlm.pipeline.bpe;

import flashlm.hash.Sha256;
import flashlm.fs.AtomicFiles;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * A trained byte-level BPE tokenizer: the {@code tokenizer.json} text and what training saw.
 *
 * @param tokenizerJson the HuggingFace tokenizer.json, UTF-8 text
 * @param sha256 hex sha256 of the file's UTF-8 bytes
 * @param vocabSize tokens in the vocabulary, special tokens included (the model's embedding rows)
 * @param mergesCount merges learned (equals vocab_size - 256 - specials unless two merges spelled
 *     the same token, or training stopped early for lack of pairs at min_frequency)
 * @param distinctWords distinct pre-tokenized words in the (sampled) documents
 * @param keptWords distinct words the driver learned from (at most max_words)
 * @param totalWords word occurrences in the documents the driver learned from
 * @param seconds wall time of training
 */
public record BpeResult(
    String tokenizerJson,
    String sha256,
    int vocabSize,
    int mergesCount,
    long distinctWords,
    long keptWords,
    long totalWords,
    double seconds) {

  /** Suffix of the checksum file written beside the tokenizer ({@code sha256sum} format). */
  public static final String SHA256_SUFFIX = ".sha256";

  static BpeResult of(String json, int vocabSize, int merges, long distinct, long kept, long total,
      double seconds) {
    return new BpeResult(json, Sha256.hex(json), vocabSize, merges,
        distinct, kept, total, seconds);
  }

  /**
   * Writes the tokenizer.json to {@code location} (local path, {@code s3a://...} or any Hadoop
   * filesystem), its checksum to {@code location + ".sha256"} and {@code companions} (more files
   * beside it, such as training.json) as one set ({@link AtomicFiles#writeSet}): replacing earlier
   * files, tokenizer.json published last, so that a reader who finds it finds its own checksum and
   * companions.
   *
   * @return the sha256 written
   */
  public String write(String location, Configuration hadoopConf, Map<String, byte[]> companions) {
    Path dest = new Path(location);
    Map<String, AtomicFiles.Body> files = new LinkedHashMap<>();
    String line = sha256 + "  " + dest.getName() + "\n";
    byte[] checksum = line.getBytes(StandardCharsets.UTF_8);
    files.put(dest.getName() + SHA256_SUFFIX, out -> out.write(checksum));
    companions.forEach((name, bytes) -> files.put(name, out -> out.write(bytes)));
    byte[] json = tokenizerJson.getBytes(StandardCharsets.UTF_8);
    AtomicFiles.writeSet(hadoopConf, location, out -> out.write(json), files);
    return sha256;
  }

  /** {@link #write(String, Configuration, Map)} without more companions. */
  public String write(String location, Configuration hadoopConf) {
    return write(location, hadoopConf, Map.of());
  }

  /** A one-line summary (the record's default would print the whole file). */
  @Override
  public String toString() {
    return String.format("BpeResult[vocab_size=%d, merges=%d, distinct_words=%d, kept_words=%d,"
        + " total_words=%d, seconds=%.2f, sha256=%s]", vocabSize, mergesCount, distinctWords,
        keptWords, totalWords, seconds, sha256);
  }
}
