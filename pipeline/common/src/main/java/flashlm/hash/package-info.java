/** SHA-256 as lower-case hex: one helper for file, table, tokenizer and config hashes. */
package flashlm.hash;
