package flashlm.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Iterator;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Writes a classic Delta checkpoint for tests: the columns of Delta's own checkpoints that a
 * reader needs (Delta Kernel requires the non-null fields of each action), without statistics.
 */
final class DeltaCheckpointWriter {
  private static final MessageType SCHEMA =
      MessageTypeParser.parseMessageType(
          """
          message spark_schema {
            optional group txn { optional binary appId (STRING); optional int64 version; }
            optional group add {
              optional binary path (STRING);
              optional group partitionValues (MAP) {
                repeated group key_value {
                  required binary key (STRING); optional binary value (STRING);
                }
              }
              optional int64 size;
              optional int64 modificationTime;
              optional boolean dataChange;
              optional group deletionVector {
                optional binary storageType (STRING);
                optional binary pathOrInlineDv (STRING);
                optional int32 offset;
                optional int32 sizeInBytes;
                optional int64 cardinality;
              }
            }
            optional group remove {
              optional binary path (STRING); optional int64 deletionTimestamp;
            }
            optional group metaData {
              optional binary id (STRING);
              optional group format {
                optional binary provider (STRING);
                optional group options (MAP) {
                  repeated group key_value {
                    required binary key (STRING);
                    optional binary value (STRING);
                  }
                }
              }
              optional binary schemaString (STRING);
              optional group partitionColumns (LIST) {
                repeated group list { optional binary element (STRING); }
              }
              optional group configuration (MAP) {
                repeated group key_value {
                  required binary key (STRING);
                  optional binary value (STRING);
                }
              }
              optional int64 createdTime;
            }
            optional group protocol {
              optional int32 minReaderVersion; optional int32 minWriterVersion;
            }
          }\
          """);

  private DeltaCheckpointWriter() {}

  static void write(Configuration conf, Path log, long version, ObjectNode metaData,
      Collection<ObjectNode> adds) {
    Path file = log.resolve(String.format("%020d.checkpoint.parquet", version));
    SimpleGroupFactory rows = new SimpleGroupFactory(SCHEMA);
    try (ParquetWriter<Group> w = ExampleParquetWriter
        .builder(new org.apache.hadoop.fs.Path(file.toUri())).withConf(conf).withType(SCHEMA)
        .withCompressionCodec(CompressionCodecName.SNAPPY).build()) {
      Group protocol = rows.newGroup();
      protocol.addGroup("protocol").append("minReaderVersion", 1).append("minWriterVersion", 2);
      w.write(protocol);
      Group meta = rows.newGroup();
      Group m = meta.addGroup("metaData");
      m.append("id", metaData.get("id").asText());
      m.addGroup("format").append("provider", "parquet").addGroup("options");
      m.append("schemaString", metaData.get("schemaString").asText());
      Group cols = m.addGroup("partitionColumns");
      metaData
          .get("partitionColumns")
          .forEach(c -> cols.addGroup("list").append("element", c.asText()));
      putMap(m.addGroup("configuration"), metaData.get("configuration"));
      m.append("createdTime", 0L);
      w.write(meta);
      for (ObjectNode add : adds) {
        Group row = rows.newGroup();
        Group a = row.addGroup("add");
        a.append("path", add.get("path").asText());
        putMap(a.addGroup("partitionValues"), add.get("partitionValues"));
        a.append("size", add.get("size").asLong()).append("modificationTime", 0L)
            .append("dataChange", false);
        w.write(row);
      }
      // a tombstone, which readers must ignore
      Group tomb = rows.newGroup();
      tomb.addGroup("remove").append("path", "split=train/shard=0/gone.parquet")
          .append("deletionTimestamp", 0L);
      w.write(tomb);
      Files.writeString(log.resolve("_last_checkpoint"),
          "{\"version\":" + version + ",\"size\":" + (adds.size() + 3) + "}");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void putMap(Group map, JsonNode values) {
    for (Iterator<Map.Entry<String, JsonNode>> it = values.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      map.addGroup("key_value").append("key", e.getKey()).append("value", e.getValue().asText());
    }
  }
}
