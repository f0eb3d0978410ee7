package flashlm.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Batches of rows of one split of the sequences table, for one rank: {@code int[batch * (seq_len
 * + 1)]}, row-major, endlessly, epoch after epoch.
 *
 * <p>Shuffling is deterministic in (seed, epoch) and bounded in memory: each epoch permutes the
 * row groups ({@link TokenBlock}) of the rank's shards, cuts the permuted list into windows of
 * about {@code window_tokens} tokens (whole row groups), and visits each window's rows in a
 * permutation of their own. Only the current window is in memory. Without shuffling the rows
 * come in table order (shard, file, row group, row). A batch never spans two epochs: the rows
 * left at the end of an epoch that do not fill a batch are skipped.
 *
 * <p>{@link #position()} is (epoch, index of the next row in that epoch's order); a loader built
 * with the same table version, split, rank, seed and window at that position yields exactly the
 * batches that would have followed.
 */
public final class SequenceBatches {
  /**
   * Where the next batch starts.
   *
   * @param epoch 0-based pass over the data
   * @param index next row in the epoch's order
   */
  public record Position(long epoch, long index) {
    public static final Position START = new Position(0, 0);
  }

  /** A window of whole row groups, rows {@code [firstRow, firstRow + rows)} of its epoch. */
  private record Window(int firstBlock, int endBlock, long firstRow, int rows) {}

  private final SequencesSnapshot snapshot;
  private final String context;
  private final List<TokenBlock> blocks;
  private final int width;
  private final int batch;
  private final long seed;
  private final boolean shuffle;
  private final long totalRows;
  private final int windowRows;

  private long epoch;
  private long index;
  private long plannedEpoch = -1;
  private List<TokenBlock> order;
  private List<Window> windows;
  private int windowIndex = -1;
  private int[] data;
  private int[] perm;

  private SequenceBatches(Builder b) {
    snapshot = b.snapshot;
    context = snapshot.describe() + " split " + b.split + " (rank " + b.rank + " of " + b.worldSize
        + ")";
    blocks = snapshot.blocks(b.split, b.rank, b.worldSize);
    width = snapshot.seqLen() + 1;
    batch = b.batchSize;
    seed = b.seed;
    shuffle = b.shuffle;
    totalRows = blocks.stream().mapToLong(TokenBlock::rows).sum();
    if (totalRows == 0) {
      throw new IllegalArgumentException(
          context
              + " holds no rows (the rank owns shards s with s % "
              + b.worldSize
              + " == "
              + b.rank
              + " of "
              + snapshot.numShards()
              + ")");
    }
    if (totalRows < batch) {
      throw new IllegalArgumentException(context + " holds " + totalRows + " rows, fewer than one"
          + " batch of " + batch);
    }
    windowRows = (int) Math.max(1, Math.min(Integer.MAX_VALUE / width, b.windowTokens / width));
    epoch = b.position.epoch();
    index = b.position.index();
    if (epoch < 0 || index < 0 || index > totalRows) {
      throw new IllegalArgumentException(context + ": position " + b.position + " is outside the "
          + totalRows + " rows of an epoch (was the checkpoint made on another table version?)");
    }
  }

  /** A builder over {@code snapshot}; split and batch size are required. */
  public static Builder builder(SequencesSnapshot snapshot) {
    return new Builder(snapshot);
  }

  /** Ids per row: seq_len + 1. */
  public int width() {
    return width;
  }

  public int batchSize() {
    return batch;
  }

  /** Rows in one epoch on this rank. */
  public long rows() {
    return totalRows;
  }

  /** Full batches in one epoch. */
  public long batchesPerEpoch() {
    return totalRows / batch;
  }

  public Position position() {
    return new Position(epoch, index);
  }

  /** The next batch, {@code batch * width} ids row-major, in a new array. */
  public int[] next() {
    int[] out = new int[batch * width];
    next(out);
    return out;
  }

  /** Fills {@code out} (at least {@code batch * width} long) with the next batch. */
  public void next(int[] out) {
    if (index + batch > totalRows) {
      epoch++;
      index = 0;
    }
    if (plannedEpoch != epoch) {
      plan(epoch);
    }
    for (int r = 0; r < batch; r++, index++) {
      Window w = windowOf(index);
      int local = (int) (index - w.firstRow());
      int row = perm == null ? local : perm[local];
      System.arraycopy(data, row * width, out, r * width, width);
    }
  }

  /** The epoch's block order and its windows (no data read). */
  private void plan(long e) {
    List<TokenBlock> o = new ArrayList<>(blocks);
    if (shuffle) {
      SplittableRandom rng = new SplittableRandom(mix(seed, e, -1));
      for (int i = o.size() - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        TokenBlock t = o.get(i);
        o.set(i, o.get(j));
        o.set(j, t);
      }
    }
    List<Window> ws = new ArrayList<>();
    int first = 0;
    long firstRow = 0;
    long rows = 0;
    for (int i = 0; i < o.size(); i++) {
      rows += o.get(i).rows();
      if (rows >= windowRows || i == o.size() - 1) {
        if ((long) rows * width > Integer.MAX_VALUE - 8) {
          throw new IllegalArgumentException(context + ": row group " + o.get(i).rowGroup() + " of "
              + o.get(i).file() + " is too large to load (" + rows + " rows of " + width + " ids)");
        }
        ws.add(new Window(first, i + 1, firstRow, (int) rows));
        first = i + 1;
        firstRow += rows;
        rows = 0;
      }
    }
    order = o;
    windows = ws;
    windowIndex = -1;
    plannedEpoch = e;
  }

  /** The window holding row {@code i} of the epoch, loaded. */
  private Window windowOf(long i) {
    if (windowIndex >= 0) {
      Window w = windows.get(windowIndex);
      if (i >= w.firstRow() && i < w.firstRow() + w.rows()) {
        return w;
      }
    }
    int lo = 0;
    int hi = windows.size() - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (windows.get(mid).firstRow() <= i) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    load(lo);
    return windows.get(lo);
  }

  private void load(int w) {
    Window win = windows.get(w);
    data = null; // let the previous window go before allocating the next
    int[] d = new int[win.rows() * width];
    int offset = 0;
    for (int b = win.firstBlock(); b < win.endBlock(); b++) {
      TokenBlock block = order.get(b);
      block.read(snapshot.conf(), width, d, offset, context);
      offset += (int) block.rows() * width;
    }
    data = d;
    perm = null;
    if (shuffle) {
      perm = new int[win.rows()];
      for (int i = 0; i < perm.length; i++) {
        perm[i] = i;
      }
      SplittableRandom rng = new SplittableRandom(mix(seed, plannedEpoch, w));
      for (int i = perm.length - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
    }
    windowIndex = w;
  }

  /** A well-spread seed for (seed, epoch, window): SplitMix64 finalizers over the three. */
  static long mix(long seed, long epoch, long window) {
    long z = seed;
    for (long x : new long[] {epoch, window}) {
      z += 0x9E3779B97F4A7C15L + x * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      z ^= z >>> 31;
    }
    return z;
  }

  /** Builds a {@link SequenceBatches}; DJL style: {@code setX} required, {@code optX} optional. */
  public static final class Builder {
    private final SequencesSnapshot snapshot;
    private String split;
    private int batchSize;
    private int rank;
    private int worldSize = 1;
    private long seed;
    private boolean shuffle = true;
    private long windowTokens = 1L << 24;
    private Position position = Position.START;

    private Builder(SequencesSnapshot snapshot) {
      this.snapshot = snapshot;
    }

    /** The split to read ("train", "validation"). */
    public Builder setSplit(String split) {
      this.split = split;
      return this;
    }

    public Builder setBatchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    /** Read only the shards that {@code rank} of {@code worldSize} owns; default 0 of 1. */
    public Builder optRank(int rank, int worldSize) {
      this.rank = rank;
      this.worldSize = worldSize;
      return this;
    }

    public Builder optSeed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Shuffle (default) or read in table order. */
    public Builder optShuffle(boolean shuffle) {
      this.shuffle = shuffle;
      return this;
    }

    /** Tokens held in memory for shuffling, default 16M (64 MiB). */
    public Builder optWindowTokens(long windowTokens) {
      this.windowTokens = windowTokens;
      return this;
    }

    /** Resume from a {@link SequenceBatches#position()}. */
    public Builder optPosition(Position position) {
      this.position = position;
      return this;
    }

    public SequenceBatches build() {
      if (split == null) {
        throw new IllegalArgumentException("SequenceBatches: split not set");
      }
      if (batchSize <= 0) {
        throw new IllegalArgumentException("SequenceBatches: batch size must be positive, got "
            + batchSize);
      }
      if (windowTokens <= 0) {
        throw new IllegalArgumentException("SequenceBatches: window tokens must be positive");
      }
      return new SequenceBatches(this);
    }
  }
}
