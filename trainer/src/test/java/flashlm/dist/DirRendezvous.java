package flashlm.dist;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A one-round {@link Rendezvous} for ranks that are processes: rank r publishes its message as
 * {@code DIR/rank-r} (written aside, then renamed, so a reader sees all of it or nothing) and
 * waits until every rank's file is there.
 */
public final class DirRendezvous implements Rendezvous {
  private static final long WAIT_MS = 120_000;

  private final Path dir;
  private final int rank;
  private final int world;

  public DirRendezvous(Path dir, int rank, int world) {
    this.dir = dir;
    this.rank = rank;
    this.world = world;
  }

  /** Rank r's published message, or null if it has not published yet. */
  public static String message(Path dir, int rank) throws IOException {
    try {
      return Files.readString(dir.resolve("rank-" + rank));
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  @Override
  public List<String> allGather(String message) {
    try {
      Path tmp = dir.resolve(".rank-" + rank + ".tmp");
      Files.writeString(tmp, message);
      Files.move(tmp, dir.resolve("rank-" + rank), StandardCopyOption.ATOMIC_MOVE);
      long deadline = System.currentTimeMillis() + WAIT_MS;
      List<String> all = new ArrayList<>();
      while (all.size() < world) {
        String m = message(dir, all.size());
        if (m != null) {
          all.add(m);
        } else if (System.currentTimeMillis() > deadline) {
          throw new IllegalStateException("rank " + all.size() + " never published in " + dir);
        } else {
          Thread.sleep(10);
        }
      }
      return all;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
