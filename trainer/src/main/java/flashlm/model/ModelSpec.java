package flashlm.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import flashlm.config.ConfigEnum;
import flashlm.config.ConfigException;

/**
 * The architecture of a model: what the native model, the Java reference model, checkpoints and the
 * safetensors export agree on. Read from the {@code model} section of a training config.
 *
 * <p>{@code arch = "transformer"}: v7 "ECLIPSE" (and the float baseline with {@code quant =
 * "none"}): tied float embedding, {@code n_layers} x [RMSNorm, Q/K/V, RoPE, causal attention, O,
 * residual, RMSNorm, gate/up, SiLU(gate)*up, down, residual], final RMSNorm, head tied to the
 * embedding. {@code arch = "ffn"}: v6.1 "SUPERNOVA II": tied embedding, {@code n_layers} x
 * [RMSNorm, up d->ffn, SiLU, down ffn->d, residual], final RMSNorm, tied head.
 *
 * @param arch "transformer" or "ffn"
 * @param vocabSize embedding rows (vocab_size)
 * @param dModel hidden size (d_model)
 * @param nLayers blocks (n_layers)
 * @param nHeads attention heads, transformer only (n_heads); head dim = d_model / n_heads
 * @param ffnDim hidden size of the feed-forward (ffn_dim)
 * @param seqLen context length the model is trained at (seq_len)
 * @param quant "ternary" (BitNet b1.58 BitLinear: absmean ternary weights, per-token int8 absmax
 *     activations, straight-through estimator) or "none" (plain fp32 linears)
 * @param learnableAlpha FlashLM's learnable per-layer output scale (learnable_alpha), default
 *     false, the BitNet b1.58 reference recipe: when true every linear gets one fp32 scalar, {@code
 *     y = alpha * linear(x)}, initialised to 1, without weight decay. It applies to plain fp32
 *     linears too ({@code quant = "none"}), where it only reparametrises W (though not under AdamW
 *     and weight decay), so that a float baseline can train with exactly the parameters of its
 *     ternary twin. The export folds it into the weights ({@code W' = alpha W}), exactly: see
 *     {@link flashlm.export.Exporter}
 * @param ropeTheta RoPE base (rope_theta), default 10000
 * @param normEps RMSNorm epsilon (norm_eps), default 1e-5
 * @param initStd std of the normal initialisation of matrices and embedding (init_std), default
 *     0.02
 * @param backwardDx how the backward computes a BitLinear's input gradient {@code dx = dy W_eff}
 *     (backward_dx): {@code int16} (the default) quantises {@code dy} per token to int16 (absmax
 *     to 32767, round half to even) and sums exactly in int32 against the ternary signs, about
 *     twice the fp32 GEMM's rate (AVX-512 VNNI; 1.5x with AVX2 alone); {@code fp32} is the fp32
 *     GEMM with {@code W_eff}. Each {@code dy} is then off by at most 2^-16 of its token's largest
 *     value. Plain fp32 linears ({@code quant = "none"}) ignore it, and so do checkpoints: a run
 *     may resume with the other value.
 * @param backwardDw how the backward computes a BitLinear's weight gradient {@code dW += dy^T x}
 *     (backward_dw): {@code int16} (the default) quantises {@code dy} times the input's
 *     per-token scale to int16 per output and block of 256 tokens (absmax to 32767, round half to
 *     even) and sums exactly in int32 against the int8 inputs the forward kept, about twice the
 *     fp32 GEMM's rate with AVX-512 VNNI; {@code fp32} is the fp32 GEMM with the dequantised
 *     input. Each such product is then off by at most 2^-16 of the largest one of its output in
 *     its block. Plain fp32 linears ignore it, and so do checkpoints: a run may resume with the
 *     other value.
 */
public record ModelSpec(
    Arch arch,
    Integer vocabSize,
    Integer dModel,
    Integer nLayers,
    Integer nHeads,
    Integer ffnDim,
    Integer seqLen,
    Quant quant,
    Boolean learnableAlpha,
    Double ropeTheta,
    Double normEps,
    Double initStd,
    BackwardDx backwardDx,
    BackwardDw backwardDw) {

  /** The architecture: {@code transformer} (v7 and its float baseline) or {@code ffn} (v6.1). */
  public enum Arch implements ConfigEnum {
    TRANSFORMER,
    FFN;

    @JsonCreator
    public static Arch of(String id) {
      return ConfigEnum.parse(Arch.class, "model.arch", id);
    }
  }

  /** The linears: {@code ternary} (BitNet b1.58 BitLinear) or {@code none} (plain fp32). */
  public enum Quant implements ConfigEnum {
    TERNARY,
    NONE;

    @JsonCreator
    public static Quant of(String id) {
      return ConfigEnum.parse(Quant.class, "model.quant", id);
    }
  }

  /** A BitLinear's input gradient in the backward: {@code int16} (the default) or {@code fp32}. */
  public enum BackwardDx implements ConfigEnum {
    INT16,
    FP32;

    @JsonCreator
    public static BackwardDx of(String id) {
      return ConfigEnum.parse(BackwardDx.class, "model.backward_dx", id);
    }
  }

  /** A BitLinear's weight gradient in the backward: {@code int16} (the default) or {@code fp32}. */
  public enum BackwardDw implements ConfigEnum {
    INT16,
    FP32;

    @JsonCreator
    public static BackwardDw of(String id) {
      return ConfigEnum.parse(BackwardDw.class, "model.backward_dw", id);
    }
  }

  public ModelSpec {
    if (arch == null) {
      throw ConfigException.missing("model.arch");
    }
    vocabSize = positive("model.vocab_size", vocabSize);
    dModel = positive("model.d_model", dModel);
    nLayers = positive("model.n_layers", nLayers);
    ffnDim = positive("model.ffn_dim", ffnDim);
    seqLen = positive("model.seq_len", seqLen);
    if (arch == Arch.TRANSFORMER) {
      nHeads = positive("model.n_heads", nHeads);
      if (dModel % nHeads != 0 || (dModel / nHeads) % 2 != 0) {
        throw ConfigException.badValue("model.n_heads", nHeads,
            "a divisor of d_model=" + dModel + " giving an even head dim (RoPE rotates pairs)");
      }
    } else {
      nHeads = nHeads == null ? 0 : nHeads;
    }
    quant = quant == null ? Quant.TERNARY : quant;
    learnableAlpha = learnableAlpha != null && learnableAlpha;
    ropeTheta = ropeTheta == null ? 10000.0 : ropeTheta;
    normEps = normEps == null ? 1e-5 : normEps;
    initStd = initStd == null ? 0.02 : initStd;
    backwardDx = backwardDx == null ? BackwardDx.INT16 : backwardDx;
    backwardDw = backwardDw == null ? BackwardDw.INT16 : backwardDw;
    if (!(ropeTheta > 0) || !(normEps > 0) || !(initStd > 0)) {
      throw ConfigException.badValue("model.rope_theta/norm_eps/init_std",
          ropeTheta + "/" + normEps + "/" + initStd, "positive numbers");
    }
  }

  public boolean ternary() {
    return quant == Quant.TERNARY;
  }

  /** This spec with the given backward_dx (which changes no weight: checkpoints ignore it). */
  public ModelSpec withBackwardDx(BackwardDx dx) {
    return withBackward(dx, backwardDw);
  }

  /** This spec with the given backward_dx and backward_dw (checkpoints ignore both). */
  public ModelSpec withBackward(BackwardDx dx, BackwardDw dw) {
    return new ModelSpec(arch, vocabSize, dModel, nLayers, nHeads, ffnDim, seqLen, quant,
        learnableAlpha, ropeTheta, normEps, initStd, dx, dw);
  }

  public int headDim() {
    return arch == Arch.TRANSFORMER ? dModel / nHeads : 0;
  }

  /** Parameter count, tied embedding counted once (alpha scalars included when enabled). */
  public long parameterCount() {
    long d = dModel;
    long perBlock;
    int linears;
    if (arch == Arch.TRANSFORMER) {
      perBlock = 4 * d * d + 3 * d * ffnDim + 2 * d;
      linears = 7;
    } else {
      perBlock = 2 * d * ffnDim + d;
      linears = 2;
    }
    long alphas = learnableAlpha ? (long) linears * nLayers : 0;
    return (long) vocabSize * d + nLayers * perBlock + d + alphas;
  }

  private static Integer positive(String key, Integer value) {
    if (value == null) {
      throw ConfigException.missing(key);
    }
    if (value <= 0) {
      throw ConfigException.badValue(key, value, "a positive integer");
    }
    return value;
  }
}
