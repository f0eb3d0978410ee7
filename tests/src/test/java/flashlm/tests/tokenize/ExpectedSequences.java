package flashlm.tests.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The sequences table a tokenize run must write, computed the slow, obvious way: each document
 * encoded on its own, separators added, documents concatenated per (split, shard) in doc_id order.
 */
final class ExpectedSequences {
  /** One document with the split and shard the documented rules give it. */
  record Doc(String docId, String split, int shard, String text) {}

  /** The token stream of each "split/shard" group, before packing. */
  final Map<String, int[]> streams = new TreeMap<>();
  /** Tokens of all documents plus separators. */
  long tokens;
  long documents;

  ExpectedSequences(List<Doc> docs, HuggingFaceTokenizer tokenizer, int bos, int eos) {
    Map<String, List<Doc>> groups = new TreeMap<>();
    for (Doc d : docs) {
      groups.computeIfAbsent(d.split() + "/" + d.shard(), k -> new ArrayList<>()).add(d);
    }
    for (Map.Entry<String, List<Doc>> g : groups.entrySet()) {
      List<Doc> inGroup = new ArrayList<>(g.getValue());
      inGroup.sort((a, b) -> a.docId().compareTo(b.docId()));
      List<Integer> stream = new ArrayList<>();
      for (Doc d : inGroup) {
        if (bos >= 0) {
          stream.add(bos);
        }
        for (long id : tokenizer.encode(d.text()).getIds()) {
          stream.add((int) id);
        }
        if (eos >= 0) {
          stream.add(eos);
        }
        documents++;
      }
      tokens += stream.size();
      streams.put(g.getKey(), stream.stream().mapToInt(Integer::intValue).toArray());
    }
  }
}
