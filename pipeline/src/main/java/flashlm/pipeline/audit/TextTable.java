package flashlm.pipeline.audit;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A table for the terminal: a header, rows, columns padded to their widest cell; numbers are
 * right-aligned with thousands separators, null prints as "-".
 */
final class TextTable {
  private final List<String> headers;
  private final List<Object[]> rows = new ArrayList<>();

  TextTable(String... headers) {
    this.headers = List.of(headers);
  }

  TextTable row(Object... cells) {
    if (cells.length != headers.size()) {
      throw new IllegalArgumentException(cells.length + " cells for " + headers.size()
          + " columns");
    }
    rows.add(cells.clone());
    return this;
  }

  boolean isEmpty() {
    return rows.isEmpty();
  }

  void print(PrintStream out) {
    int[] width = new int[headers.size()];
    boolean[] numeric = new boolean[headers.size()];
    for (int c = 0; c < width.length; c++) {
      width[c] = headers.get(c).length();
      numeric[c] = !rows.isEmpty();
    }
    List<String[]> text = new ArrayList<>();
    for (Object[] r : rows) {
      String[] t = new String[r.length];
      for (int c = 0; c < r.length; c++) {
        t[c] = cell(r[c]);
        width[c] = Math.max(width[c], t[c].length());
        numeric[c] &= r[c] == null || r[c] instanceof Number;
      }
      text.add(t);
    }
    out.println(line(headers.toArray(new String[0]), width, numeric));
    for (String[] t : text) {
      out.println(line(t, width, numeric));
    }
  }

  static String cell(Object v) {
    if (v == null) {
      return "-";
    }
    if (v instanceof Long || v instanceof Integer) {
      return String.format(Locale.ROOT, "%,d", ((Number) v).longValue());
    }
    if (v instanceof Double d) {
      return Double.isFinite(d) ? String.format(Locale.ROOT, "%.4f", d) : "-";
    }
    return v.toString();
  }

  private static String line(String[] cells, int[] width, boolean[] numeric) {
    StringBuilder b = new StringBuilder();
    for (int c = 0; c < cells.length; c++) {
      String pad = " ".repeat(width[c] - cells[c].length());
      b.append(numeric[c] ? pad + cells[c] : cells[c] + (c == cells.length - 1 ? "" : pad));
      if (c < cells.length - 1) {
        b.append("  ");
      }
    }
    return b.toString();
  }
}
