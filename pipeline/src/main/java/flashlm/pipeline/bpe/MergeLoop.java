package flashlm.pipeline.bpe;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.function.Consumer;

/**
 * The driver half of BPE training: repeatedly merges the most frequent adjacent pair of symbols
 * in a word histogram, keeping pair counts up to date incrementally.
 *
 * <p>Each word is an array of token ids (ids 0..255 are bytes). {@code pairCounts} holds the
 * frequency-weighted count of every adjacent pair, {@code where} the words a pair may occur in
 * (with stale entries, checked on use), and {@code queue} a max-heap of candidate pairs with lazy
 * deletion: an entry whose count no longer matches {@code pairCounts} is skipped. A merge touches
 * only the words containing its pair, so the cost per merge is proportional to those words.
 *
 * <p>Ties are broken deterministically: higher count first, then the left token's bytes, then the
 * right token's bytes (unsigned lexicographic). The result does not depend on word order.
 */
final class MergeLoop {
  /** How often progress is reported, in merges. */
  static final int REPORT_EVERY = 100;

  /**
   * One learned merge: {@code left + right -> id}, chosen when the pair occurred {@code count}
   * times.
   */
  record Merge(int left, int right, int id, long count) {}

  /** Tokens (byte-level strings, index = id, bytes first) and merges in the order learned. */
  record Result(List<String> tokens, List<Merge> merges) {
    /** Merges as {@code "left right"} strings, HuggingFace's format. */
    List<String> mergeStrings() {
      List<String> out = new ArrayList<>(merges.size());
      for (Merge m : merges) {
        out.add(tokens.get(m.left()) + " " + tokens.get(m.right()));
      }
      return out;
    }
  }

  private record Candidate(long pair, long count) {}

  private final int[][] words; // word index -> symbol ids
  private final long[] freqs; // word index -> occurrences in the corpus
  private final List<byte[]> tokenBytes = new ArrayList<>();
  private final List<String> tokens = new ArrayList<>();
  private final Map<String, Integer> idOf = new HashMap<>();
  private final Map<Long, Long> pairCounts;
  private final Map<Long, IntList> where = new HashMap<>();
  private final PriorityQueue<Candidate> queue;
  private final int[] seen; // per word: the last merge that visited it

  private MergeLoop(List<String> byteLevelWords, long[] counts, Map<Long, Long> initialPairs) {
    for (int b = 0; b < BpeConfig.BYTE_TOKENS; b++) {
      addToken(new byte[] {(byte) b});
    }
    words = new int[byteLevelWords.size()][];
    freqs = counts.clone();
    for (int w = 0; w < words.length; w++) {
      byte[] bytes = ByteLevel.decode(byteLevelWords.get(w));
      words[w] = new int[bytes.length];
      for (int i = 0; i < bytes.length; i++) {
        words[w][i] = bytes[i] & 0xFF;
      }
    }
    seen = new int[words.length];
    Arrays.fill(seen, -1);
    Map<Long, Long> local = new HashMap<>();
    for (int w = 0; w < words.length; w++) {
      int[] s = words[w];
      for (int i = 0; i + 1 < s.length; i++) {
        long p = pair(s[i], s[i + 1]);
        local.merge(p, freqs[w], Long::sum);
        where.computeIfAbsent(p, k -> new IntList()).add(w);
      }
    }
    if (initialPairs != null && !initialPairs.equals(local)) {
      throw new IllegalStateException("pair counts from Spark (" + initialPairs.size()
          + " pairs) disagree with the word histogram (" + local.size() + " pairs)");
    }
    pairCounts = local;
    queue = new PriorityQueue<>(Math.max(16, local.size()), this::compare);
    local.forEach((p, c) -> queue.add(new Candidate(p, c)));
  }

  /**
   * Learns up to {@code learnedTokens} new tokens from {@code words} (byte-level strings) occurring
   * {@code counts[i]} times.
   *
   * @param initialPairs pair counts computed elsewhere (on Spark), checked against the words; or
   *     null
   * @param log receives a progress line every {@link #REPORT_EVERY} merges
   */
  static Result run(
      List<String> words,
      long[] counts,
      int learnedTokens,
      long minFrequency,
      Map<Long, Long> initialPairs,
      Consumer<String> log) {
    if (words.size() != counts.length) {
      throw new IllegalArgumentException(words.size() + " words but " + counts.length + " counts");
    }
    return new MergeLoop(words, counts, initialPairs).learn(learnedTokens, minFrequency, log);
  }

  private Result learn(int learnedTokens, long minFrequency, Consumer<String> log) {
    long start = System.nanoTime();
    int target = BpeConfig.BYTE_TOKENS + learnedTokens;
    List<Merge> merges = new ArrayList<>();
    while (tokens.size() < target) {
      Candidate best = queue.poll();
      if (best == null) {
        break;
      }
      Long current = pairCounts.get(best.pair());
      if (current == null || current != best.count()) {
        continue; // stale entry: the pair's count changed since it was queued
      }
      if (best.count() < minFrequency) {
        break;
      }
      int left = left(best.pair());
      int right = right(best.pair());
      byte[] joined = concat(tokenBytes.get(left), tokenBytes.get(right));
      // Two merge paths can spell the same bytes ("a"+"bc", "ab"+"c"): reuse the id, as HF does.
      Integer existing = idOf.get(ByteLevel.encode(joined));
      int id = existing != null ? existing : addToken(joined);
      Merge merge = new Merge(left, right, id, best.count());
      merges.add(merge);
      apply(merge, merges.size());
      if (merges.size() % REPORT_EVERY == 0) {
        log.accept(String.format("bpe merge %d: '%s' + '%s' (count %d), vocab %d, %.2f s",
            merges.size(), tokens.get(left), tokens.get(right), best.count(), tokens.size(),
            (System.nanoTime() - start) / 1e9));
      }
    }
    log.accept(String.format("bpe done: %d merges, vocab %d (+ specials), %.2f s", merges.size(),
        tokens.size(), (System.nanoTime() - start) / 1e9));
    return new Result(List.copyOf(tokens), List.copyOf(merges));
  }

  /** Replaces the merge's pair in every word holding it and updates the pair counts. */
  private void apply(Merge merge, int stamp) {
    long merged = pair(merge.left(), merge.right());
    IntList candidates = where.remove(merged);
    Map<Long, Long> delta = new HashMap<>();
    for (int k = 0; k < candidates.size; k++) {
      int w = candidates.items[k];
      if (seen[w] == stamp) {
        continue;
      }
      seen[w] = stamp;
      int[] before = words[w];
      int[] after = replace(before, merge.left(), merge.right(), merge.id());
      if (after == before) {
        continue;
      }
      long f = freqs[w];
      for (int i = 0; i + 1 < before.length; i++) {
        delta.merge(pair(before[i], before[i + 1]), -f, Long::sum);
      }
      for (int i = 0; i + 1 < after.length; i++) {
        long p = pair(after[i], after[i + 1]);
        delta.merge(p, f, Long::sum);
        if (after[i] == merge.id() || after[i + 1] == merge.id()) {
          where.computeIfAbsent(p, x -> new IntList()).add(w);
        }
      }
      words[w] = after;
    }
    for (Map.Entry<Long, Long> e : delta.entrySet()) {
      if (e.getValue() == 0) {
        continue;
      }
      long count = pairCounts.getOrDefault(e.getKey(), 0L) + e.getValue();
      if (count <= 0) {
        pairCounts.remove(e.getKey());
        where.remove(e.getKey());
      } else {
        pairCounts.put(e.getKey(), count);
        queue.add(new Candidate(e.getKey(), count));
      }
    }
    pairCounts.remove(merged);
  }

  /**
   * {@code word} with each non-overlapping (left, right), scanned left to right, replaced by id.
   */
  static int[] replace(int[] word, int left, int right, int id) {
    int[] out = null;
    int n = 0;
    for (int i = 0; i < word.length; i++) {
      if (i + 1 < word.length && word[i] == left && word[i + 1] == right) {
        if (out == null) {
          out = new int[word.length - 1];
          System.arraycopy(word, 0, out, 0, i);
          n = i;
        }
        out[n++] = id;
        i++;
      } else if (out != null) {
        out[n++] = word[i];
      }
    }
    return out == null ? word : Arrays.copyOf(out, n);
  }

  private int compare(Candidate x, Candidate y) {
    if (x.count() != y.count()) {
      return Long.compare(y.count(), x.count());
    }
    int c = Arrays.compareUnsigned(tokenBytes.get(left(x.pair())), tokenBytes.get(left(y.pair())));
    return c != 0 ? c
        : Arrays.compareUnsigned(tokenBytes.get(right(x.pair())), tokenBytes.get(right(y.pair())));
  }

  private int addToken(byte[] bytes) {
    int id = tokens.size();
    String s = ByteLevel.encode(bytes);
    tokenBytes.add(bytes);
    tokens.add(s);
    idOf.put(s, id);
    return id;
  }

  static long pair(int left, int right) {
    return ((long) left << 32) | (right & 0xFFFFFFFFL);
  }

  static int left(long pair) {
    return (int) (pair >>> 32);
  }

  static int right(long pair) {
    return (int) pair;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** A growable int array (word indices), without boxing. */
  private static final class IntList {
    int[] items = new int[4];
    int size;

    void add(int v) {
      if (size == items.length) {
        items = Arrays.copyOf(items, size * 2);
      }
      items[size++] = v;
    }
  }
}
