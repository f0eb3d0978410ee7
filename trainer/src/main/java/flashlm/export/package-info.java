/**
 * Export of trained weights for outside tools: {@link flashlm.export.Exporter} writes a
 * checkpoint as HuggingFace safetensors ({@link flashlm.export.Safetensors}) under Llama tensor
 * names with a {@code config.json} ({@link flashlm.export.HfConfig}).
 */
package flashlm.export;
