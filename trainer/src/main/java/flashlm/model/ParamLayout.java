package flashlm.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The flat parameter layout of a model: every tensor is a named view (offset, shape) into one
 * fp32 buffer, in the order below, under HuggingFace Llama names. Gradients and each optimizer
 * state buffer use the same layout. Matrices are {@code [out, in]} and a linear computes
 * {@code y = x W^T}.
 *
 * <pre>
 * model.embed_tokens.weight                         [vocab, d]   (tied output head)
 * per layer i, transformer:
 *   model.layers.i.input_layernorm.weight           [d]
 *   model.layers.i.self_attn.{q,k,v,o}_proj.weight  [d, d]
 *   model.layers.i.post_attention_layernorm.weight  [d]
 *   model.layers.i.mlp.{gate,up}_proj.weight        [ffn, d]
 *   model.layers.i.mlp.down_proj.weight             [d, ffn]
 * per layer i, ffn:
 *   model.layers.i.input_layernorm.weight           [d]
 *   model.layers.i.mlp.up_proj.weight               [ffn, d]
 *   model.layers.i.mlp.down_proj.weight             [d, ffn]
 * model.norm.weight                                 [d]
 * with learnable_alpha only, per layer i (transformer: q, k, v, o, gate, up, down; ffn: up, down):
 *   model.layers.i.self_attn.{q,k,v,o}_proj.alpha   [1]
 *   model.layers.i.mlp.{gate,up,down}_proj.alpha    [1]
 * </pre>
 *
 * <p>The alphas come last so that the tensors before them keep their offsets whether the switch
 * is on or off (and q, k, v stay one consecutive (3d, d) matrix, which the native backward
 * uses). Weight decay applies to the 2-D tensors (matrices and the embedding), not to norm
 * weights or alphas.
 */
public final class ParamLayout {
  /**
   * One named view; also how a checkpoint's header records the layout (JSON).
   *
   * @param name HuggingFace Llama tensor name
   * @param offset first element in the flat buffer
   * @param shape dimensions, row-major
   * @param decay whether weight decay applies
   */
  public record Tensor(String name, long offset, int[] shape, boolean decay) {
    public Tensor {
      shape = shape.clone();
    }

    public long size() {
      long n = 1;
      for (int s : shape) {
        n *= s;
      }
      return n;
    }

    @Override
    public int[] shape() {
      return shape.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Tensor t && t.name.equals(name) && t.offset == offset
          && Arrays.equals(t.shape, shape) && t.decay == decay;
    }

    @Override
    public int hashCode() {
      return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
      return name + Arrays.toString(shape) + "@" + offset + (decay ? " decay" : "");
    }
  }

  private final List<Tensor> tensors;
  private final long size;

  private ParamLayout(List<Tensor> tensors) {
    this.tensors = Collections.unmodifiableList(tensors);
    Tensor last = tensors.get(tensors.size() - 1);
    this.size = last.offset() + last.size();
  }

  /** The layout of {@code spec}. */
  public static ParamLayout of(ModelSpec spec) {
    Builder b = new Builder();
    int d = spec.dModel();
    int f = spec.ffnDim();
    b.add("model.embed_tokens.weight", true, spec.vocabSize(), d);
    for (int i = 0; i < spec.nLayers(); i++) {
      String p = "model.layers." + i + ".";
      b.add(p + "input_layernorm.weight", false, d);
      if ((spec.arch() == ModelSpec.Arch.TRANSFORMER)) {
        for (String n : new String[] {"q", "k", "v", "o"}) {
          b.add(p + "self_attn." + n + "_proj.weight", true, d, d);
        }
        b.add(p + "post_attention_layernorm.weight", false, d);
        b.add(p + "mlp.gate_proj.weight", true, f, d);
      }
      b.add(p + "mlp.up_proj.weight", true, f, d);
      b.add(p + "mlp.down_proj.weight", true, d, f);
    }
    b.add("model.norm.weight", false, d);
    if (spec.learnableAlpha()) {
      for (int i = 0; i < spec.nLayers(); i++) {
        for (String linear : linears(spec)) {
          b.add("model.layers." + i + "." + linear + ".alpha", false, 1);
        }
      }
    }
    return new ParamLayout(b.list);
  }

  /** The linears of one layer in layout order, as Llama module names ("self_attn.q_proj", ...). */
  public static List<String> linears(ModelSpec spec) {
    return (spec.arch() == ModelSpec.Arch.TRANSFORMER)
        ? List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
        : List.of("mlp.up_proj", "mlp.down_proj");
  }

  /** The alpha of a linear's weight: {@code ...q_proj.weight} -> {@code ...q_proj.alpha}. */
  public static String alphaName(String weightName) {
    if (!weightName.endsWith("_proj.weight")) {
      throw new IllegalArgumentException(weightName + " is not the weight of a linear");
    }
    return weightName.substring(0, weightName.length() - "weight".length()) + "alpha";
  }

  /** A layout from tensors listed elsewhere (the native model, a checkpoint). */
  public static ParamLayout of(List<Tensor> tensors) {
    return new ParamLayout(new ArrayList<>(tensors));
  }

  public List<Tensor> tensors() {
    return tensors;
  }

  /** Total number of fp32 elements. */
  public long size() {
    return size;
  }

  /** The tensor called {@code name}. */
  public Tensor get(String name) {
    for (Tensor t : tensors) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    throw new IllegalArgumentException("no tensor named " + name);
  }

  private static final class Builder {
    final List<Tensor> list = new ArrayList<>();
    long offset;

    void add(String name, boolean decay, int... shape) {
      Tensor t = new Tensor(name, offset, shape, decay);
      list.add(t);
      offset += t.size();
    }
  }
}
