package flashlm.train;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;

/** The dotted snake_case keys whose values differ between two configs (for resume notes). */
final class ConfigDiff {
  private ConfigDiff() {}

  static List<String> changed(Object before, Object after) {
    List<String> out = new ArrayList<>();
    diff("", Configs.json().valueToTree(before), Configs.json().valueToTree(after), out);
    return out;
  }

  private static void diff(String prefix, JsonNode a, JsonNode b, List<String> out) {
    if (a != null && b != null && a.isObject() && b.isObject()) {
      TreeSet<String> keys = new TreeSet<>();
      for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
        keys.add(it.next());
      }
      for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) {
        keys.add(it.next());
      }
      for (String k : keys) {
        diff(prefix.isEmpty() ? k : prefix + "." + k, a.get(k), b.get(k), out);
      }
    } else if (a == null ? b != null && !b.isNull() : !a.equals(b) && !(a.isNull() && b == null)) {
      out.add(prefix);
    }
  }
}
