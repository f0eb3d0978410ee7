package flashlm.pipeline.ingest;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The parquet columns ingest expects, checked against each file's footer schema so that a missing
 * or retyped column is an error naming the file and the column rather than nulls or a cast error
 * deep inside a Spark task.
 */
final class ParquetSchemas implements Serializable {
  private static final long serialVersionUID = 1L;

  /** FineWeb-Edu's eleven columns and their types, in the dataset's order. */
  static final Map<String, DataType> FINEWEB_EDU = fineWebEdu();

  private final String textColumn;
  private final Map<String, DataType> expected; // empty: only the text column is checked

  private ParquetSchemas(String textColumn, Map<String, DataType> expected) {
    this.textColumn = textColumn;
    this.expected = expected;
  }

  /** The checker for {@code config} and the source name (fineweb-edu by default for it). */
  static ParquetSchemas of(IngestConfig config, String source) {
    String mode = config.expectedSchema();
    if (mode == null) {
      mode = source.toLowerCase().contains("fineweb-edu") ? IngestConfig.FINEWEB_EDU
          : IngestConfig.NONE;
    }
    if (mode.equals(IngestConfig.FINEWEB_EDU)) {
      return new ParquetSchemas(config.textColumn(), FINEWEB_EDU);
    }
    return new ParquetSchemas(config.textColumn(), Map.of());
  }

  /** Whether every file must have a fixed set of columns (else all must share one schema). */
  boolean fixed() {
    return !expected.isEmpty();
  }

  /** The Spark schema to read fixed-schema files with (nullable columns, in order). */
  StructType sparkSchema() {
    StructType s = new StructType();
    for (Map.Entry<String, DataType> e : expected.entrySet()) {
      s = s.add(new StructField(e.getKey(), e.getValue(), true,
          org.apache.spark.sql.types.Metadata.empty()));
    }
    return s;
  }

  /** Fails naming {@code file} and the column when {@code schema} lacks or retypes a column. */
  void check(String file, MessageType schema) {
    Map<String, DataType> want = expected.isEmpty()
        ? Map.of(textColumn, DataTypes.StringType) : expected;
    for (Map.Entry<String, DataType> e : want.entrySet()) {
      String name = e.getKey();
      if (!schema.containsField(name)) {
        throw new IngestException(file + ": parquet column '" + name + "' is missing (the file"
            + " has " + fieldNames(schema) + ")");
      }
      Type type = schema.getType(name);
      String found = describe(type);
      String wanted = describe(e.getValue());
      if (!found.equals(wanted)) {
        throw new IngestException(file + ": parquet column '" + name + "' has type " + found
            + ", expected " + wanted);
      }
    }
  }

  /** A short name of a parquet column's type: string, double, long, int, or its schema text. */
  private static String describe(Type type) {
    if (!type.isPrimitive() || type.isRepetition(Type.Repetition.REPEATED)) {
      return type.toString().trim();
    }
    PrimitiveTypeName p = type.asPrimitiveType().getPrimitiveTypeName();
    LogicalTypeAnnotation logical = type.getLogicalTypeAnnotation();
    return switch (p) {
      case BINARY -> logical instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation
          ? "string" : "binary" + (logical == null ? "" : " (" + logical + ")");
      case DOUBLE -> "double";
      case FLOAT -> "float";
      case INT64 -> logical == null ? "long" : "int64 (" + logical + ")";
      case INT32 -> logical == null ? "int" : "int32 (" + logical + ")";
      default -> p.name().toLowerCase();
    };
  }

  private static String describe(DataType type) {
    if (type.equals(DataTypes.StringType)) {
      return "string";
    }
    if (type.equals(DataTypes.LongType)) {
      return "long";
    }
    if (type.equals(DataTypes.IntegerType)) {
      return "int";
    }
    return type.typeName();
  }

  private static String fieldNames(MessageType schema) {
    return schema.getFields().stream().map(Type::getName).toList().toString();
  }

  private static Map<String, DataType> fineWebEdu() {
    Map<String, DataType> m = new LinkedHashMap<>();
    for (String s : new String[] {"text", "id", "dump", "url", "date", "file_path", "language"}) {
      m.put(s, DataTypes.StringType);
    }
    m.put("language_score", DataTypes.DoubleType);
    m.put("token_count", DataTypes.LongType);
    m.put("score", DataTypes.DoubleType);
    m.put("int_score", DataTypes.LongType);
    return java.util.Collections.unmodifiableMap(m);
  }
}
