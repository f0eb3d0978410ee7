/**
 * Byte-level BPE tokenizer training (GPT-2 style) on Spark.
 *
 * <p>{@link flashlm.pipeline.bpe.BpeTrainer#train} pre-tokenizes documents in executors with
 * GPT-2's regex, maps each piece's UTF-8 bytes to GPT-2's printable byte alphabet, counts word
 * frequencies and initial pair counts with {@code reduceByKey}, and brings only the bounded word
 * histogram (the {@code max_words} most frequent words) to the driver. The merges then run on the
 * driver with incremental pair-count updates. The result is a standard HuggingFace
 * {@code tokenizer.json} ({@link flashlm.pipeline.bpe.BpeResult#write}) that DJL's
 * {@code HuggingFaceTokenizer} loads; DJL, not this package, is the encoder the pipeline uses.
 *
 * <p>Id layout: ids 0..255 are the 256 byte tokens in byte-value order (id = byte value), then the
 * learned tokens in merge order, then the special tokens ({@code <|endoftext|>} is the last id, as
 * in GPT-2). Training is deterministic: the same documents give a byte-identical file whatever the
 * partitioning.
 */
package flashlm.pipeline.bpe;
