package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.udf;

import flashlm.hash.Sha256;
import java.text.Normalizer;
import java.util.regex.Pattern;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.types.DataTypes;

/**
 * The key two documents share when they hold the same text: the hex SHA-256 of the text after
 * Unicode NFC normalisation, with every run of whitespace (Unicode's, not only ASCII's) collapsed
 * to one space and the ends trimmed; case is kept. So "Once upon\na time" and "Once upon a time "
 * share a key, "once upon a time" does not.
 */
final class TextKey implements UDF1<String, String> {
  private static final long serialVersionUID = 1L;
  private static final Pattern WHITESPACE = Pattern.compile("\\s+",
      Pattern.UNICODE_CHARACTER_CLASS); // Unicode's White_Space: NBSP, U+2028, U+3000, ...

  /** The normalised text (what the key hashes). */
  static String normalize(String text) {
    String nfc = Normalizer.normalize(text, Normalizer.Form.NFC);
    return WHITESPACE.matcher(nfc).replaceAll(" ").strip();
  }

  /** The key of {@code text}, or null for null. */
  static String of(String text) {
    return text == null ? null : Sha256.hex(normalize(text));
  }

  @Override
  public String call(String text) {
    return of(text);
  }

  /** The key of a text column, as a Spark expression. */
  static Column column(Column text) {
    return udf(new TextKey(), DataTypes.StringType).apply(text);
  }
}
