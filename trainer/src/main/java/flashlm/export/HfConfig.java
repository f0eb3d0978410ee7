package flashlm.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.Configs;
import flashlm.infer.PackedFile;
import flashlm.model.ModelSpec;

/**
 * The {@code config.json} beside an exported model. A transformer is described as a {@code
 * LlamaForCausalLM} (its tensors, norms, RoPE and tied head are Llama's), an ffn model as the
 * non-Llama {@code FlashLMFFN}. The {@code flashlm} section says how the weights were trained:
 * with {@code quant = ternary} they are fp32 master weights, and reproducing the trained model
 * needs the BitNet b1.58 quantization applied in every linear layer; a plain Llama loader computes
 * with the float weights instead.
 */
public final class HfConfig {
  private static final ObjectMapper JSON = new ObjectMapper();

  private HfConfig() {}

  /** config.json for {@code spec}; {@code provenance} is copied into the flashlm section. */
  public static ObjectNode of(ModelSpec spec, ObjectNode provenance) {
    return of(spec, provenance, null, null);
  }

  /**
   * config.json for {@code spec} with the tokenizer's BOS and EOS ids (either may be null: then
   * absent).
   */
  public static ObjectNode of(ModelSpec spec, ObjectNode provenance, Integer bosId,
      Integer eosId) {
    ObjectNode c = JSON.createObjectNode();
    boolean transformer = (spec.arch() == ModelSpec.Arch.TRANSFORMER);
    if (transformer) {
      c.putArray("architectures").add("LlamaForCausalLM");
      c.put("model_type", "llama");
    } else {
      c.putArray("architectures").add("FlashLMFFN");
      c.put("model_type", "flashlm_ffn");
    }
    c.put("vocab_size", spec.vocabSize());
    c.put("hidden_size", spec.dModel());
    c.put("intermediate_size", spec.ffnDim());
    c.put("num_hidden_layers", spec.nLayers());
    if (transformer) {
      c.put("num_attention_heads", spec.nHeads());
      c.put("num_key_value_heads", spec.nHeads());
      c.put("head_dim", spec.headDim());
      c.put("rope_theta", spec.ropeTheta());
      c.put("attention_bias", false);
      c.put("attention_dropout", 0.0);
    }
    c.put("max_position_embeddings", spec.seqLen());
    c.put("rms_norm_eps", spec.normEps());
    c.put("hidden_act", "silu");
    c.put("mlp_bias", false);
    c.put("tie_word_embeddings", true);
    c.put("initializer_range", spec.initStd());
    c.put("torch_dtype", "float32");
    if (bosId != null) {
      c.put("bos_token_id", bosId);
    }
    if (eosId != null) {
      c.put("eos_token_id", eosId);
    }

    ObjectNode f = c.putObject("flashlm");
    f.put("arch", spec.arch().id());
    f.put("quant", spec.quant().id());
    f.put("learnable_alpha", spec.learnableAlpha());
    f.put("weights", "fp32 master weights");
    if (spec.ternary()) {
      f.put("quantization", "BitNet b1.58 in every linear layer (not the embedding): weights"
          + " s*clamp(round(W/s),-1,1) with s=max(mean|W|,1e-5) per tensor; inputs per token"
          + " clamp(round(x*127/g),-128,127)*g/127 with g=max(max|x|,1e-5)");
    }
    if (transformer) {
      f.put("rope", "q_proj and k_proj rows are permuted per head on export so that Llama's"
          + " rotate-half RoPE equals the trainer's interleaved-pair RoPE");
    } else {
      f.put("note", "not a Llama model: each layer is x + down_proj(SiLU(up_proj(RMSNorm(x)))),"
          + " no attention, no gate; then a final RMSNorm and the tied embedding as head");
    }
    // Only the provenance holds values from the run (paths); the keys above are Llama's, and
    // redacting them would mask num_key_value_heads, whose name has the word "key" in it.
    f.setAll((ObjectNode) Configs.redacted(provenance));
    return c;
  }

  /**
   * tokenizer_config.json: a fast tokenizer over tokenizer.json ({@code AutoTokenizer} loads it
   * as {@code PreTrainedTokenizerFast}) with the separators the training data used and the
   * model's context as its maximum length.
   */
  public static ObjectNode tokenizerConfig(ModelSpec spec, PackedFile.TokenizerInfo t) {
    ObjectNode c = JSON.createObjectNode();
    c.put("tokenizer_class", "PreTrainedTokenizerFast");
    if (t.bosToken() != null) {
      c.put("bos_token", t.bosToken());
    }
    if (t.eosToken() != null) {
      c.put("eos_token", t.eosToken());
    }
    c.put("model_max_length", spec.seqLen());
    c.put("clean_up_tokenization_spaces", false);
    ObjectNode f = c.putObject("flashlm");
    f.put("documents_start_with_bos", t.addBos());
    f.put("documents_end_with_eos", t.addEos());
    f.put("tokenizer_sha256", t.sha256());
    return c;
  }

  /** generation_config.json: the BOS and EOS ids (generation stops at EOS). */
  public static ObjectNode generationConfig(PackedFile.TokenizerInfo t) {
    ObjectNode c = JSON.createObjectNode();
    if (t.bosId() != null) {
      c.put("bos_token_id", t.bosId());
    }
    if (t.eosId() != null) {
      c.put("eos_token_id", t.eosId());
      c.put("pad_token_id", t.eosId());
    }
    return c;
  }
}
