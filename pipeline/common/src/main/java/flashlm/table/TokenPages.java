package flashlm.table;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.parquet.bytes.ByteBufferInputStream;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.bytes.BytesUtils;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.Dictionary;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.column.ValuesType;
import org.apache.parquet.column.page.DataPage;
import org.apache.parquet.column.page.DataPageV1;
import org.apache.parquet.column.page.DataPageV2;
import org.apache.parquet.column.page.DictionaryPage;
import org.apache.parquet.column.page.PageReader;
import org.apache.parquet.column.values.ValuesReader;
import org.apache.parquet.column.values.rle.RunLengthBitPackingHybridDecoder;

/**
 * The {@code tokens} column of one row group, decoded page by page with parquet's level and value
 * decoders and handed to a {@link Sink} one entry at a time: how the trainer reads its rows and
 * the audit checks them. Parquet's generic {@code ColumnReader} costs about 20 ns an id (it binds
 * a converter and checks the page for every value); the decoders alone are a few ns.
 */
public final class TokenPages {
  /** Receives the column's entries in order. */
  public interface Sink {
    /** A row starts (repetition level 0); called before its first entry. */
    void rowStart();

    /** An id of the current row. */
    void id(int id);

    /** A null id, or the one entry of a null or empty list. */
    void hole();
  }

  private TokenPages() {}

  /**
   * Decodes every page of {@code column} in {@code pages} into {@code sink}.
   *
   * @throws IllegalArgumentException naming {@code where} when a page is of an unknown kind or
   *     refers to a dictionary the column chunk does not have
   * @throws UncheckedIOException when decoding fails
   */
  public static void read(PageReader pages, ColumnDescriptor column, Sink sink, String where) {
    try {
      DictionaryPage dp = pages.readDictionaryPage();
      Dictionary dictionary = dp == null ? null : dp.getEncoding().initDictionary(column, dp);
      int maxDef = column.getMaxDefinitionLevel();
      DataPage page;
      while ((page = pages.readPage()) != null) {
        int n = page.getValueCount();
        Levels rep;
        Levels def;
        ValuesReader values;
        if (page instanceof DataPageV1 v1) {
          ByteBufferInputStream in = v1.getBytes().toInputStream();
          ValuesReader r = v1.getRlEncoding().getValuesReader(column, ValuesType.REPETITION_LEVEL);
          ValuesReader d = v1.getDlEncoding().getValuesReader(column, ValuesType.DEFINITION_LEVEL);
          r.initFromPage(n, in);
          d.initFromPage(n, in);
          rep = r::readInteger;
          def = d::readInteger;
          values = values(v1.getValueEncoding(), column, dictionary, where);
          values.initFromPage(n, in);
        } else if (page instanceof DataPageV2 v2) {
          rep = levels(column.getMaxRepetitionLevel(), v2.getRepetitionLevels());
          def = levels(maxDef, v2.getDefinitionLevels());
          values = values(v2.getDataEncoding(), column, dictionary, where);
          values.initFromPage(n, v2.getData().toInputStream());
        } else {
          throw new IllegalArgumentException(where + ": unknown parquet page " + page);
        }
        for (int i = 0; i < n; i++) {
          if (rep.next() == 0) {
            sink.rowStart();
          }
          if (def.next() == maxDef) {
            sink.id(values.readInteger());
          } else {
            sink.hole();
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(where + ": " + e.getMessage(), e);
    }
  }

  /** One level after another. */
  private interface Levels {
    int next() throws IOException;
  }

  private static ValuesReader values(Encoding encoding, ColumnDescriptor column,
      Dictionary dictionary, String where) {
    if (!encoding.usesDictionary()) {
      return encoding.getValuesReader(column, ValuesType.VALUES);
    }
    if (dictionary == null) {
      throw new IllegalArgumentException(where
          + ": a dictionary-encoded page without a dictionary");
    }
    return encoding.getDictionaryBasedValuesReader(column, ValuesType.VALUES, dictionary);
  }

  /** A data page v2's levels: RLE/bit-packed hybrid without a length prefix. */
  private static Levels levels(int max, BytesInput bytes) throws IOException {
    if (max == 0) {
      return () -> 0;
    }
    RunLengthBitPackingHybridDecoder d = new RunLengthBitPackingHybridDecoder(
        BytesUtils.getWidthFromMaxInt(max), bytes.toInputStream());
    return d::readInt;
  }
}
