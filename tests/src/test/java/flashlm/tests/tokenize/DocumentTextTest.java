package flashlm.tests.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import flashlm.table.SequencesTable;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Document text is text: the tokenizer's special-token strings inside a document encode as the
 * pieces of their characters, so a document cannot plant BOS/EOS (document boundaries) in the
 * training stream. Only the configured separators are control tokens.
 */
class DocumentTextTest {
  /** A TinyStories story that spells all three LLaMA-2 special tokens. */
  static final String STORY = "Tom typed </s> and then <s> into the box. The box said <unk>"
      + " and Tom laughed.";

  /**
   * LLaMA-2's ids for {@link #STORY} encoded as ordinary text, as SentencePiece encodes it
   * ({@code </s>} is "▁</", "s", ">"). Made with the Python {@code tokenizers} package 0.23.2 on
   * {@code fixtures/llama2/tokenizer.json}: {@code t = Tokenizer.from_file(path);
   * t.encode_special_tokens = True; t.encode(STORY, add_special_tokens=False).ids}.
   */
  static final int[] STORY_IDS = {4335, 13033, 1533, 29879, 29958, 322, 769, 529, 29879, 29958,
      964, 278, 3800, 29889, 450, 3800, 1497, 529, 2960, 29958, 322, 4335, 19090, 29889};

  @TempDir Path dir;

  @Test
  void specialTokenStringsInADocumentPackAsTheOrdinaryEncodingOfItsText() throws Exception {
    SparkSession spark = SparkTestSession.get();
    Path raw = Files.createDirectories(dir.resolve("raw"));
    Files.writeString(raw.resolve(TinyStoriesFixture.TRAIN),
        STORY + "\n" + TinyStoriesFixture.SEPARATOR + "\n");
    DatasetPaths paths = new DatasetPaths(dir.toString());
    Ingest.run(spark, paths, IngestConfig.defaults().withFiles(List.of("*.txt")));
    // BOS + 24 ids + EOS = 26 = two rows of 13: the whole stream, nothing dropped.
    TokenizeConfig config = TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString())
        .withPacking(12, 1)
        .withValidationRatio(0)
        .withSeparators(true, true);
    Tokenize.run(spark, paths, config);

    List<Row> rows = spark.read().format("delta").load(paths.sequences())
        .orderBy(SequencesTable.SEQ_INDEX).collectAsList();
    int[] stream = rows.stream()
        .flatMapToInt(r -> r.<Integer>getList(r.fieldIndex(SequencesTable.TOKENS)).stream()
            .mapToInt(Integer::intValue))
        .toArray();
    int[] want = IntStream.concat(IntStream.concat(IntStream.of(Llama2Fixture.BOS),
        Arrays.stream(STORY_IDS)), IntStream.of(Llama2Fixture.EOS)).toArray();
    assertArrayEquals(want, stream, () -> "first mismatch at index "
        + Arrays.mismatch(want, stream) + ": " + Arrays.toString(stream));
    int[] inside = Arrays.copyOfRange(stream, 1, stream.length - 1);
    assertEquals(0, Arrays.stream(inside).filter(id -> id == Llama2Fixture.BOS
        || id == Llama2Fixture.EOS || id == 0).count(), "a control id inside the document");
  }
}
