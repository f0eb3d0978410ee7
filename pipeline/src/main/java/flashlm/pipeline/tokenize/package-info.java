/**
 * Tokenize and pack: the documents table into the sequences table the trainer reads.
 *
 * <p>Entry point {@link flashlm.pipeline.tokenize.Tokenize#run}; settings in {@link
 * flashlm.pipeline.tokenize.TokenizeConfig}. Tokenizers are HuggingFace {@code tokenizer.json}
 * files read by DJL ({@link flashlm.pipeline.tokenize.TokenizerFile}) with truncation, padding and
 * DJL's own special tokens off, loaded once per executor JVM and keyed by sha256. Document text is
 * text: a special token's string inside a document encodes as ordinary text ({@link
 * flashlm.pipeline.tokenize.OrdinaryText}); only the configured BOS/EOS are control tokens.
 */
package flashlm.pipeline.tokenize;
