package flashlm.tests.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;

/**
 * A file of a {@link HubServer} repo, with the ids the hub computes: the git blob id of the bytes
 * (a file kept in git) or of the LFS pointer (an LFS file, whose sha256 is the LFS oid).
 *
 * @param path repo path
 * @param bytes content
 * @param lfs whether the hub stores it with LFS
 */
public record HubFixtureFile(String path, byte[] bytes, boolean lfs) {
  /** Lower-case hex sha256 of the bytes. */
  public String sha256() {
    return hex("SHA-256", bytes);
  }

  /** The oid the tree API lists: the blob id of the bytes, or of the LFS pointer. */
  public String gitOid() {
    return gitSha1(lfs ? pointer() : bytes);
  }

  /** The LFS pointer file git stores instead of the bytes. */
  byte[] pointer() {
    return ("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256() + "\nsize "
        + bytes.length + "\n").getBytes(StandardCharsets.US_ASCII);
  }

  /** The bytes with the middle one changed: same size, other hashes. */
  byte[] corrupted() {
    byte[] copy = bytes.clone();
    copy[copy.length / 2] ^= 0x5a;
    return copy;
  }

  /** {@code sha1("blob SIZE\0" + bytes)}, as git names a blob. */
  static String gitSha1(byte[] bytes) {
    byte[] header = ("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII);
    byte[] all = new byte[header.length + bytes.length];
    System.arraycopy(header, 0, all, 0, header.length);
    System.arraycopy(bytes, 0, all, header.length, bytes.length);
    return hex("SHA-1", all);
  }

  private static String hex(String algorithm, byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The tree API's entries under {@code dir} (recursive, sorted by path, folders included), or
   * null when {@code dir} is neither the root nor a folder of the repo.
   */
  static List<ObjectNode> treeEntries(Collection<HubFixtureFile> files, String dir,
      ObjectMapper json) {
    String prefix = dir.isEmpty() ? "" : dir + "/";
    TreeMap<String, ObjectNode> entries = new TreeMap<>();
    for (HubFixtureFile f : files) {
      if (!f.path().startsWith(prefix)) {
        continue;
      }
      ObjectNode e = json.createObjectNode().put("type", "file").put("oid", f.gitOid())
          .put("size", f.bytes().length).put("path", f.path());
      if (f.lfs()) {
        e.putObject("lfs").put("oid", f.sha256()).put("size", f.bytes().length)
            .put("pointerSize", f.pointer().length);
      }
      entries.put(f.path(), e);
      String[] segments = f.path().split("/");
      StringBuilder folder = new StringBuilder();
      for (int i = 0; i < segments.length - 1; i++) {
        folder.append(i == 0 ? "" : "/").append(segments[i]);
        if (folder.length() > dir.length()) {
          entries.put(folder.toString(), json.createObjectNode().put("type", "directory")
              .put("oid", gitSha1(folder.toString().getBytes(StandardCharsets.UTF_8)))
              .put("size", 0).put("path", folder.toString()));
        }
      }
    }
    return entries.isEmpty() && !dir.isEmpty() ? null : new ArrayList<>(entries.values());
  }
}
