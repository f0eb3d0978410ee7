package flashlm.pipeline.hub;

import flashlm.fs.HadoopFiles;
import flashlm.pipeline.hub.FileResult.Outcome;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Fetches one file of the listing to {@code DEST/PATH}, inside a Spark task: skips it when an
 * earlier run already verified it, otherwise claims its {@link PartFile} (waiting while another
 * download into the same destination holds it), collects its bytes there (resuming with {@code
 * Range} and {@code If-Range} from what the part holds), retries IO errors, 429 and 5xx with
 * backoff while the part grows, checks the size and the hub's hash of exactly the bytes in the
 * part, and only then moves it into place. The whole file, retries included, must finish within
 * {@code file_deadline_seconds}.
 */
final class FileFetcher {
  private static final int BUFFER = 1 << 16;
  private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

  private final HubClient client;
  private final Configuration conf;
  private final Path dest;
  private final String commit;

  FileFetcher(HubClient client, Configuration conf, String dest, String commit) {
    this.client = client;
    this.conf = conf;
    this.dest = new Path(dest);
    this.commit = commit;
  }

  /** Fetches {@code task}'s file; failures come back as a result so other files go on. */
  FileResult fetch(FileTask task) {
    HubFile file = task.file();
    Transfer t = new Transfer(file);
    try {
      Path target = target(file);
      FileSystem fs = HadoopFiles.fileSystem(conf, target);
      FileResult present = present(fs, target, task);
      return present != null ? present : claimAndDownload(fs, target, task, t);
    } catch (HubException e) {
      return FileResult.failed(file.path(), e.getMessage(), e.status(), t.fetched);
    } catch (PartFile.UnsafePart e) {
      return FileResult.failed(file.path(), where(file) + ": " + e.getMessage(), 0, t.fetched);
    } catch (IOException e) {
      return FileResult.failed(file.path(), where(file) + ": " + client.redact(e.toString()), 0,
          t.fetched);
    }
  }

  /** {@code DEST/PATH}, refused when the path would not stay under the destination. */
  private Path target(HubFile file) {
    try {
      return HubPaths.resolveUnder(dest, file.path());
    } catch (HubException e) {
      throw new HubException(client.describe(commit, null) + ": " + e.getMessage());
    }
  }

  /**
   * Claims the part and downloads; a download that had to wait for another one first looks
   * whether that one put the file in place. A staged part of a file that fails is removed.
   */
  private FileResult claimAndDownload(FileSystem fs, Path target, FileTask task, Transfer t)
      throws IOException {
    HubFile file = t.file;
    DownloadConfig cfg = client.config();
    PartFile part = PartFile.forTarget(fs, dest, target, file.path(), commit);
    long staleAfterMs = PartLock.staleAfterMs(cfg);
    try (PartLock lock = part.claim(staleAfterMs)) {
      long waitUntil = System.nanoTime() + cfg.fileDeadlineSeconds() * 1_000_000_000L;
      if (!lock.acquire(waitUntil, () -> Console.line(file.path() + ": another download into "
          + dest + " is fetching it (it holds " + lock.location() + "); waiting"))) {
        throw new HubException(where(file) + ": another download into " + dest + " still"
            + " holds " + lock.location() + " after " + cfg.fileDeadlineSeconds() + " s"
            + " (file_deadline_seconds); run again once it has finished");
      }
      if (lock.waited()) {
        FileResult present = present(fs, target, task);
        if (present != null) {
          return present;
        }
      }
      boolean done = false;
      try {
        FileResult result = download(fs, target, part, t);
        done = true;
        return result;
      } finally {
        if (!done) {
          abandon(part);
        }
      }
    }
  }

  private static void abandon(PartFile part) {
    try {
      part.abandon();
    } catch (IOException e) {
      Console.line("warning: cannot remove " + part.location() + ": " + e.getMessage());
    }
  }

  /** The result for a file already at the target and equal to the hub's, else null. */
  private FileResult present(FileSystem fs, Path target, FileTask task) throws IOException {
    HubFile file = task.file();
    long length;
    try {
      length = fs.getFileStatus(target).getLen();
    } catch (FileNotFoundException e) {
      return null;
    }
    if (length != file.size()) {
      return null;
    }
    if (task.priorMatches() && !client.config().verifyExisting()) {
      DownloadManifest.File prior = task.prior();
      return FileResult.done(Outcome.SKIPPED,
          entry(file, target, prior.sha256(), prior.verifiedBy()), 0);
    }
    if (file.sha256() == null && file.oid() == null) {
      return null; // nothing to compare with: fetch it again
    }
    Hashes.Result hashes = Hashes.over(file.size(), fs.open(target)).finish();
    Check check = Check.of(file, hashes, null);
    if (!check.ok()) {
      Console.line(file.path() + ": the file at " + target + " differs from the hub's; fetching");
      return null;
    }
    Console.line(file.path() + ": already at " + target + " and " + check.by() + " matches, kept");
    return FileResult.done(Outcome.KEPT, entry(file, target, hashes.sha256(), check.by()), 0);
  }

  private FileResult download(FileSystem fs, Path target, PartFile part, Transfer t)
      throws IOException {
    HubFile file = t.file;
    DownloadConfig cfg = client.config();
    t.deadlineNanos = System.nanoTime() + cfg.fileDeadlineSeconds() * 1_000_000_000L;
    Progress progress = new Progress(file.path(), file.size());
    boolean fromEarlierPart = part.length() > 0;
    // Progress is the part growing past the longest it has been: bytes received do not count,
    // since a server that ignores Range and drops the connection sends bytes on every attempt
    // and the part never gets longer.
    long longest = part.length();
    int failures = 0; // consecutive attempts without progress
    while (true) {
      long have = part.length();
      if (have > file.size()) {
        part.delete(); // longer than the file can be: not a prefix of it
        have = 0;
      }
      if (t.hashes == null || t.hashes.count() != have) {
        // The digests must cover exactly the bytes in the part: hash what an earlier attempt
        // or run left there (read once; every later byte is hashed as it arrives).
        t.hashes = have == 0 ? new Hashes(file.size()) : Hashes.over(file.size(), part.openRead());
      }
      if (have < file.size()) {
        try {
          receive(part, t, have, progress);
        } catch (PartFile.UnsafePart e) {
          throw new HubException(where(file) + ": " + e.getMessage(), e);
        } catch (IOException e) {
          long now = part.length();
          if (now > longest) {
            longest = now;
            failures = 1;
          } else {
            failures++;
          }
          String why = client.redact(e.getMessage());
          if (failures > cfg.maxRetries()) {
            throw new HubException(where(file) + ": gave up after " + failures
                + " attempts without progress (the part holds " + now + " of " + file.size()
                + " bytes and grew to no more than " + longest + "): " + why, e);
          }
          String retryAfter = e instanceof HubClient.RetryableException r ? r.retryAfter() : null;
          long delay = Backoff.delayMs(cfg.retryBackoffMs(), failures, retryAfter);
          if (System.nanoTime() + delay * 1_000_000 - t.deadlineNanos > 0) {
            throw pastDeadline(file, now, why);
          }
          Console.line(file.path() + ": " + why + "; retry " + failures + "/"
              + cfg.maxRetries() + " from byte " + now + " in " + delay + " ms");
          Backoff.sleep(delay);
          continue;
        }
      }
      if (file.size() == 0 && have == 0) {
        part.openAppend().close(); // an empty file needs no request, but a part to move
      }
      long inPart = part.length();
      if (inPart != t.hashes.count()) {
        // What is verified must be exactly what is moved into place.
        part.delete();
        throw new HubException(where(file) + ": the part " + part.location() + " holds "
            + inPart + " bytes but " + t.hashes.count() + " were received and hashed: something"
            + " else writes to it; nothing was written to " + target);
      }
      Check check = Check.of(file, t.hashes.finish(), t.linkedSha256);
      if (!check.ok()) {
        part.delete();
        if (fromEarlierPart) {
          // The part an earlier run left may be what is wrong: fetch the whole file once more.
          Console.line(file.path() + ": " + check.by() + " mismatch after resuming "
              + part.location() + "; fetching the whole file again");
          fromEarlierPart = false;
          t.hashes = null;
          longest = 0;
          continue;
        }
        throw new HubException(where(file) + ": " + check.by() + " mismatch: expected "
            + check.expected() + ", got " + check.actual() + " for " + file.size()
            + " bytes; nothing was written to " + target);
      }
      part.commit();
      progress.done(t.fetched, check.by() == null ? "size checked (the hub gave no hash)"
          : check.by() + " verified");
      return FileResult.done(Outcome.DOWNLOADED,
          entry(file, target, check.sha256(), check.by()), t.fetched);
    }
  }

  /** One response's bytes from byte {@code have} into the part. */
  private void receive(PartFile part, Transfer t, long have, Progress progress)
      throws IOException {
    HubFile file = t.file;
    HubClient.Download d = client.open(commit, file.path(), have, t.validator,
        file.sha256() != null);
    String linked = checkHeaders(file, d);
    if (linked != null) {
      t.linkedSha256 = linked;
    }
    long start = d.start();
    if (start != have) {
      if (start != 0) {
        d.conn().disconnect();
        throw new IOException("asked for bytes from " + have + ", the server sent from " + start);
      }
      part.delete(); // the server ignored Range and sends the whole file: start over
      t.hashes = new Hashes(file.size());
    }
    t.validator = d.validator(); // of the bytes about to be appended
    long expected = file.size() - start;
    if (d.length() >= 0 && d.length() != expected) {
      d.conn().disconnect();
      throw new HubException(where(file) + ": the server sends " + d.length() + " bytes from byte "
          + start + " but the listing says the file has " + file.size());
    }
    byte[] buffer = new byte[BUFFER];
    long done = 0;
    try (InputStream in = d.body(); OutputStream out = part.openAppend()) {
      while (done < expected) {
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, expected - done));
        if (n < 0) {
          throw new IOException("connection closed after byte " + (start + done) + " of "
              + file.size());
        }
        out.write(buffer, 0, n);
        t.hashes.update(buffer, 0, n);
        done += n;
        t.fetched += n;
        progress.update(start + done);
        if (System.nanoTime() - t.deadlineNanos > 0) {
          throw pastDeadline(file, start + done, "still receiving");
        }
      }
      if (d.length() < 0 && in.read() >= 0) {
        throw new HubException(where(file) + ": the server sent more than the listing's "
            + file.size() + " bytes");
      }
    }
  }

  /**
   * Headers that contradict the listing mean the wrong file; no retry will fix that. Returns the
   * sha256 of {@code X-Linked-Etag}, or null when it is not one.
   */
  private String checkHeaders(HubFile file, HubClient.Download d) {
    if (d.repoCommit() != null && !d.repoCommit().equals(commit)) {
      d.conn().disconnect();
      throw new HubException(where(file) + ": the hub answered with X-Repo-Commit "
          + client.shown(d.repoCommit()));
    }
    if (d.linkedSize() >= 0 && d.linkedSize() != file.size()) {
      d.conn().disconnect();
      throw new HubException(where(file) + ": X-Linked-Size " + d.linkedSize()
          + " differs from the listing's size " + file.size());
    }
    String linked = d.linkedEtag() != null && SHA256_HEX.matcher(d.linkedEtag()).matches()
        ? d.linkedEtag() : null;
    if (linked != null && file.sha256() != null && !linked.equals(file.sha256())) {
      d.conn().disconnect();
      throw new HubException(where(file) + ": X-Linked-Etag " + linked
          + " differs from the listing's LFS oid " + file.sha256());
    }
    return linked;
  }

  private String where(HubFile file) {
    return client.describe(commit, file.path());
  }

  private HubException pastDeadline(HubFile file, long have, String why) {
    return new HubException(where(file) + ": not complete within file_deadline_seconds ("
        + client.config().fileDeadlineSeconds() + " s): " + have + " of " + file.size()
        + " bytes (" + why + ")");
  }

  private static DownloadManifest.File entry(HubFile file, Path target, String sha256,
      String verifiedBy) {
    return new DownloadManifest.File(file.path(), target.toString(), file.size(), sha256,
        verifiedBy != null, file.oid(), verifiedBy);
  }

  /** The mutable state of one file's download across attempts. */
  private static final class Transfer {
    final HubFile file;
    Hashes hashes;
    String linkedSha256;
    /** What {@code If-Range} carries when resuming: the validator of the part's bytes. */
    String validator;
    long deadlineNanos;
    long fetched;

    Transfer(HubFile file) {
      this.file = file;
    }
  }

  /**
   * The bytes' hashes against the hub's: the LFS sha256 (from the listing, else {@code
   * X-Linked-Etag}), else the git blob id; {@code by} is null when the hub gave neither.
   */
  record Check(boolean ok, String by, String expected, String actual, String sha256) {
    static Check of(HubFile file, Hashes.Result h, String linkedSha256) {
      String sha256 = file.sha256() != null ? file.sha256() : linkedSha256;
      if (sha256 != null) {
        return new Check(sha256.equals(h.sha256()), DownloadManifest.VERIFIED_BY_LFS_SHA256,
            sha256, h.sha256(), h.sha256());
      }
      if (file.oid() != null) {
        return new Check(file.oid().equals(h.gitSha1()), DownloadManifest.VERIFIED_BY_GIT_SHA1,
            file.oid(), h.gitSha1(), h.sha256());
      }
      return new Check(true, null, null, null, h.sha256());
    }
  }
}
