package flashlm.infer;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import flashlm.data.SequencesSnapshot;
import flashlm.fs.HadoopFiles;
import flashlm.hash.Sha256;
import flashlm.table.SequencesTable;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;

/**
 * The tokenizer a sequences table was made with, found through the manifest the table carries
 * ({@code flashlm.manifest}, read with Delta Kernel, no Spark): the tokenizer.json bytes, checked
 * against the sha256 the manifest records, and its separators.
 *
 * @param location where the tokenizer.json was read
 * @param bytes its bytes
 * @param info its sha256, BOS/EOS ids and texts, and whether documents start with BOS and end
 *     with EOS
 */
public record TableTokenizer(String location, byte[] bytes, PackedFile.TokenizerInfo info) {

  /**
   * The tokenizer of {@code table} at {@code version} (latest when null).
   *
   * @throws IllegalArgumentException naming the table when it has no manifest, or the tokenizer
   *     file is gone or changed since the table was made
   */
  public static TableTokenizer of(Configuration conf, String table, Long version) {
    return of(conf, table, version, null);
  }

  /**
   * {@link #of(Configuration, String, Long)}, reading the tokenizer.json from {@code location}
   * instead of the place the manifest records (a copy, when that one is gone); its sha256 must
   * still be the manifest's. Null: the manifest's place.
   */
  public static TableTokenizer of(Configuration conf, String table, Long version,
      String location) {
    SequencesSnapshot snap = SequencesSnapshot.open(conf, table, version);
    String where = snap.describe();
    String json = snap.properties().get(SequencesTable.PROP_MANIFEST);
    if (json == null) {
      throw new IllegalArgumentException(where + " has no " + SequencesTable.PROP_MANIFEST
          + " property: it was not written by flashlm tokenize");
    }
    JsonNode manifest;
    try {
      manifest = Configs.json().readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException(where + ": its manifest does not parse: "
          + e.getMessage(), e);
    }
    JsonNode t = manifest.path("tokenizer");
    location = location != null ? location : t.path("location").asText(null);
    String sha256 = t.path("sha256").asText(null);
    if (location == null || sha256 == null) {
      throw new IllegalArgumentException(where + ": its manifest names no tokenizer");
    }
    byte[] bytes;
    try {
      bytes = HadoopFiles.readAll(conf, location);
    } catch (IOException e) {
      throw new IllegalArgumentException("the tokenizer of " + where + ", " + location
          + ", cannot be read (" + e.getMessage() + "); run prepare again to restore it", e);
    }
    String actual = Sha256.hex(bytes);
    if (!actual.equals(sha256)) {
      throw new IllegalArgumentException("the tokenizer of " + where + ", " + location
          + ", changed since the table was made (sha256 " + actual + ", the manifest records "
          + sha256 + "): tokenize again, or restore the file");
    }
    JsonNode cfg = manifest.path("config");
    PackedFile.TokenizerInfo info = new PackedFile.TokenizerInfo(sha256, intOrNull(t, "bos_id"),
        intOrNull(t, "eos_id"), t.path("bos_token").asText(null),
        t.path("eos_token").asText(null), cfg.path("add_bos").asBoolean(false),
        cfg.path("add_eos").asBoolean(true));
    return new TableTokenizer(location, bytes, info);
  }

  private static Integer intOrNull(JsonNode n, String key) {
    return n.hasNonNull(key) ? n.get(key).asInt() : null;
  }
}
