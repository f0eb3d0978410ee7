/* Model tests: argument errors, the parameter layout, gradients against finite differences
 * (quantisation off), the SIMD kernels against the reference kernels (quantisation on and off),
 * determinism, learnable alpha (at 1 it is the switch off, bit for bit), and the generation
 * entry point; learnable alpha on and off throughout. The Java tests compare with the
 * double-precision reference model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* Whole-model finite differences in fp32: relative to the largest sampled gradient. */
#define TOL_MODEL_FD 3e-2
/* SIMD vs reference kernels, fp32 linears: summation order only. */
#define TOL_MODEL_FLOAT 1e-4
/* SIMD vs reference kernels with BitLinear: an activation that lands within rounding of a
 * quantisation step can round the other way, which moves gradients by up to a step. */
#define TOL_MODEL_TERNARY 2e-2

static fl_spec small_spec(int arch, int ternary) {
  fl_spec s = {.arch = arch,
               .vocab = 37,
               .d = 16,
               .n_layers = 2,
               .n_heads = 2,
               .ffn = 24,
               .seq_len = 7,
               .ternary = ternary,
               .learnable_alpha = 0,
               .rope_theta = 10000.0,
               .norm_eps = 1e-5};
  return s;
}

/* Learnable alphas the tests set, in layout order: signs and sizes; and the first alpha of the
 * last layer (q_proj, ffn: up_proj) is exactly 0, where dalpha must still be exact (it may not
 * come from dividing by alpha). One zero only: a zero output starves gradients behind it. */
static const float ALPHAS[] = {0.7f, -1.3f, 1.6f, -0.4f, 2.1f};

/* Sets the alpha tensors of m to ALPHAS and the zero (values), or all to 1 (values 0). */
static void set_alphas(fl_model *m, int values) {
  float *p = fl_model_params(m);
  const fl_spec *s = fl_model_spec(m);
  int per = s->arch == FL_ARCH_TRANSFORMER ? 7 : 2, zero = per * (s->n_layers - 1);
  for (int i = 0, n = 0; i < fl_model_num_tensors(m); i++) {
    const char *name;
    size_t off;
    int nd, shape[2], decay;
    fl_model_tensor(m, i, &name, &off, &nd, shape, &decay);
    if (!strstr(name, ".alpha")) continue;
    p[off] = !values ? 1.0f : n == zero ? 0.0f : ALPHAS[n % 5];
    n++;
  }
}

static fl_model *make(const fl_spec *s, int max_batch, float std) {
  fl_model *m;
  int rc = fl_model_create(&m, s, max_batch);
  T_CHECK(rc == FL_OK, "fl_model_create: %s", fl_last_error());
  if (rc) return NULL;
  t_fill_model(m, std, NULL);
  set_alphas(m, 1);
  return m;
}

static int *make_tokens(int B, int T, int V) {
  int *tok = t_bytes(sizeof(int) * B * (T + 1));
  for (int i = 0; i < B * (T + 1); i++) tok[i] = (int)(t_next() % V);
  return tok;
}

void test_model_errors(void) {
  fl_model *m = NULL;
  fl_spec s = small_spec(FL_ARCH_TRANSFORMER, 1);
  s.n_heads = 3;
  T_CHECK(
      fl_model_create(&m, &s, 2) == FL_EINVAL && m == NULL && strstr(fl_last_error(), "n_heads"),
      "bad n_heads accepted or unclear: %s", fl_last_error());
  s = small_spec(7, 1);
  T_CHECK(fl_model_create(&m, &s, 2) == FL_EINVAL, "arch 7 accepted");
  s = small_spec(FL_ARCH_FFN, 0);
  T_CHECK(fl_model_create(&m, &s, 0) == FL_EINVAL, "max_batch 0 accepted");
  m = make(&s, 2, 0.1f);
  if (!m) return;
  int *tok = make_tokens(2, s.seq_len, s.vocab);
  float loss;
  tok[3] = s.vocab;
  T_CHECK(fl_model_loss(m, tok, 2, &loss) == FL_EINVAL && strstr(fl_last_error(), "position 3"),
          "bad token accepted or unclear: %s", fl_last_error());
  tok[3] = 0;
  tok[s.seq_len + 1 + 2] = -1;
  T_CHECK(
      fl_model_forward_backward(m, tok, 2, &loss) == FL_EINVAL && strstr(fl_last_error(), "row 1"),
      "bad token in row 1 accepted or unclear: %s", fl_last_error());
  tok[s.seq_len + 1 + 2] = 0;
  T_CHECK(fl_model_loss(m, tok, 3, &loss) == FL_EINVAL && strstr(fl_last_error(), "max_batch"),
          "batch above max_batch accepted: %s", fl_last_error());
  float out[37 * 2];
  T_CHECK(fl_model_last_logits(m, tok, 1, s.seq_len + 1, out) == FL_EINVAL,
          "len > seq_len accepted");
  T_CHECK(fl_model_loss(m, tok, 2, &loss) == FL_OK && isfinite(loss), "loss after errors: %s",
          fl_last_error());
  t_free(tok);
  fl_model_free(m);
  fl_model_free(NULL);
}

void test_model_layout(void) {
  for (int arch = 0; arch < 2; arch++)
    for (int alpha = 0; alpha < 2; alpha++) {
      fl_spec s = small_spec(arch, 1);
      s.learnable_alpha = alpha;
      fl_model *m = make(&s, 1, 0.1f);
      if (!m) return;
      static const char *tf[] = {"input_layernorm",  "self_attn.q_proj", "self_attn.k_proj",
                                 "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm",
                                 "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
      static const char *tf_lin[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                     "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                     "mlp.down_proj"};
      static const char *ff[] = {"input_layernorm", "mlp.up_proj", "mlp.down_proj"};
      int per = arch == FL_ARCH_TRANSFORMER ? 9 : 3, d = s.d, f = s.ffn;
      int lin = arch == FL_ARCH_TRANSFORMER ? 7 : 2, base = 2 + per * s.n_layers;
      int n_alpha = alpha ? lin * s.n_layers : 0;
      T_CHECK(fl_model_num_tensors(m) == base + n_alpha, "tensor count %d",
              fl_model_num_tensors(m));
      size_t off = 0;
      for (int i = 0; i < fl_model_num_tensors(m); i++) {
        const char *name;
        size_t o;
        int nd, shape[2], decay;
        fl_model_tensor(m, i, &name, &o, &nd, shape, &decay);
        char want[96];
        int r = d, c = 0;
        if (i == 0)
          snprintf(want, sizeof want, "model.embed_tokens.weight"), r = s.vocab, c = d;
        else if (i == base - 1)
          snprintf(want, sizeof want, "model.norm.weight");
        else if (i >= base) { /* alphas after the final norm, layer by layer */
          int j = i - base;
          const char *part = arch == FL_ARCH_TRANSFORMER ? tf_lin[j % lin] : ff[1 + j % lin];
          snprintf(want, sizeof want, "model.layers.%d.%s.alpha", j / lin, part);
          r = 1;
        } else {
          const char *part = (per == 9 ? tf : ff)[(i - 1) % per];
          snprintf(want, sizeof want, "model.layers.%d.%s.weight", (i - 1) / per, part);
          if (strstr(part, "proj")) {
            c = d;
            if (strstr(part, "gate") || strstr(part, "up")) r = f;
            if (strstr(part, "down")) c = f;
          }
        }
        T_CHECK(strcmp(name, want) == 0, "tensor %d is %s, want %s", i, name, want);
        T_CHECK(o == off && nd == (c ? 2 : 1) && shape[0] == r && (!c || shape[1] == c) &&
                    decay == (c != 0),
                "tensor %s: offset %zu (want %zu), ndim %d, shape %dx%d, decay %d", name, o, off,
                nd, shape[0], shape[1], decay);
        off += (size_t)r * (c ? c : 1);
      }
      size_t per_layer =
          arch == FL_ARCH_TRANSFORMER ? 4 * d * d + 3 * d * f + 2 * d : 2 * d * f + d;
      size_t want_n = (size_t)s.vocab * d + d + n_alpha + (size_t)s.n_layers * per_layer;
      T_CHECK(fl_model_num_params(m) == want_n && off == want_n, "num_params %zu, want %zu",
              fl_model_num_params(m), want_n);
      const char *name;
      size_t o;
      int nd, shape[2], decay;
      T_CHECK(fl_model_tensor(m, 99, &name, &o, &nd, shape, &decay) == FL_EINVAL,
              "tensor 99 exists");
      fl_model_free(m);
    }
}

struct model_ctx {
  fl_model *m;
  const int *tok;
  int B;
};

static double model_loss(void *p) {
  struct model_ctx *c = p;
  float loss = NAN;
  fl_model_loss(c->m, c->tok, c->B, &loss);
  return loss;
}

void test_model_fd(void) {
  for (int arch = 0; arch < 2; arch++)
    for (int alpha = 0; alpha < 2; alpha++) {
      fl_spec s = small_spec(arch, 0);
      s.learnable_alpha = alpha;
      int B = 2;
      fl_model *m = make(&s, B, 0.3f);
      if (!m) return;
      int *tok = make_tokens(B, s.seq_len, s.vocab);
      float loss;
      fl_model_zero_grads(m);
      T_CHECK(fl_model_forward_backward(m, tok, B, &loss) == FL_OK, "%s", fl_last_error());
      struct model_ctx c = {m, tok, B};
      for (int i = 0; i < fl_model_num_tensors(m); i++) {
        const char *name;
        size_t off;
        int nd, shape[2], decay;
        fl_model_tensor(m, i, &name, &off, &nd, shape, &decay);
        size_t n = (size_t)shape[0] * (nd == 2 ? shape[1] : 1);
        char what[128];
        snprintf(what, sizeof what, "%s%s fd %s", arch ? "ffn" : "transformer",
                 alpha ? " alpha" : "", name);
        t_fd(what, fl_model_params(m) + off, n, fl_model_grads(m) + off, model_loss, &c, 1e-2f,
             TOL_MODEL_FD, 12);
      }
      t_free(tok);
      fl_model_free(m);
    }
}

/* The same model on the reference and on the SIMD table: loss and every gradient tensor. */
void test_model_simd_vs_ref(void) {
  if (!t_simd()) {
    printf("    no SIMD table: nothing to compare\n");
    return;
  }
  for (int arch = 0; arch < 2; arch++)
    for (int variant = 0; variant < 3; variant++) {
      int ternary = variant > 0;
      fl_spec s = small_spec(arch, ternary);
      s.learnable_alpha = variant == 2;
      s.d = 64, s.ffn = 96, s.seq_len = 70, s.vocab = 67; /* > one attention key block */
      int B = 3;
      fl_model *a = make(&s, B, 0.1f), *b;
      if (!a || fl_model_create(&b, &s, B)) return;
      fl_model_use_kernels(a, fl_kernels_ref());
      fl_model_use_kernels(b, t_simd());
      memcpy(fl_model_params(b), fl_model_params(a), fl_model_num_params(a) * sizeof(float));
      int *tok = make_tokens(B, s.seq_len, s.vocab);
      float la, lb;
      T_CHECK(fl_model_forward_backward(a, tok, B, &la) == FL_OK, "%s", fl_last_error());
      T_CHECK(fl_model_forward_backward(b, tok, B, &lb) == FL_OK, "%s", fl_last_error());
      double tol = ternary ? TOL_MODEL_TERNARY : TOL_MODEL_FLOAT;
      T_CHECK(fabsf(la - lb) <= tol * 0.1 * fabsf(la), "loss %s: ref %.7f simd %.7f",
              ternary ? "ternary" : "float", la, lb);
      for (int i = 0; i < fl_model_num_tensors(a); i++) {
        const char *name;
        size_t off;
        int nd, shape[2], decay;
        fl_model_tensor(a, i, &name, &off, &nd, shape, &decay);
        size_t n = (size_t)shape[0] * (nd == 2 ? shape[1] : 1);
        char what[128];
        snprintf(what, sizeof what, "%s %s%s simd vs ref %s", arch ? "ffn" : "transformer",
                 ternary ? "ternary" : "float", s.learnable_alpha ? " alpha" : "", name);
        t_close(what, fl_model_grads(b) + off, fl_model_grads(a) + off, n, tol);
      }
      t_free(tok);
      fl_model_free(a);
      fl_model_free(b);
    }
}

void test_model_deterministic(void) {
  for (int arch = 0; arch < 2; arch++)
    for (int alpha = 0; alpha < 2; alpha++) {
      fl_spec s = small_spec(arch, 1);
      s.learnable_alpha = alpha;
      int B = 3;
      fl_model *m = make(&s, B, 0.1f);
      if (!m) return;
      size_t n = fl_model_num_params(m);
      float *g1 = t_floats(n), l1, l2, l3;
      int *tok = make_tokens(B, s.seq_len, s.vocab);
      fl_model_forward_backward(m, tok, B, &l1);
      memcpy(g1, fl_model_grads(m), n * 4);
      fl_model_zero_grads(m);
      fl_model_forward_backward(m, tok, B, &l2);
      T_CHECK(l1 == l2, "loss not repeatable: %.9g vs %.9g", l1, l2);
      t_same("model grads repeatable", fl_model_grads(m), g1, n * 4, 4);
      fl_model_loss(m, tok, B, &l3);
      T_CHECK(l3 == l1, "loss-only %.9g differs from forward_backward %.9g", l3, l1);
      t_same("loss-only leaves grads", fl_model_grads(m), g1, n * 4, 4);
      fl_model_forward_backward(m, tok, B, &l2); /* gradients add up */
      for (size_t i = 0; i < n; i++) g1[i] *= 2.0f;
      t_close("model grads accumulate", fl_model_grads(m), g1, n, 1e-6);
      t_free(g1), t_free(tok);
      fl_model_free(m);
    }
}

void test_model_last_logits(void) {
  for (int arch = 0; arch < 2; arch++) {
    fl_spec s = small_spec(arch, 1);
    int B = 3, V = s.vocab;
    fl_model *m = make(&s, B, 0.1f);
    if (!m) return;
    int *tok = make_tokens(B, s.seq_len, V);
    float *all = t_floats((size_t)B * V), *one = t_floats(V);
    for (int len = 1; len <= s.seq_len; len += 3) {
      /* rows of length len: row b is tok[b*len ...] */
      T_CHECK(fl_model_last_logits(m, tok, B, len, all) == FL_OK, "%s", fl_last_error());
      for (int b = 0; b < B; b++) {
        T_CHECK(fl_model_last_logits(m, tok + (size_t)b * len, 1, len, one) == FL_OK, "%s",
                fl_last_error());
        char what[64];
        snprintf(what, sizeof what, "last_logits row %d alone vs in a batch, len %d", b, len);
        t_close(what, one, all + (size_t)b * V, V, 1e-6);
      }
    }
    t_free(tok), t_free(all), t_free(one);
    fl_model_free(m);
  }
}

/* Learnable alpha at 1 is the switch off, bit for bit: loss and every shared gradient (the
 * alpha tensors come last, so the shared ones have the same offsets). */
void test_model_alpha_one(void) {
  for (int arch = 0; arch < 2; arch++)
    for (int ternary = 0; ternary < 2; ternary++) {
      fl_spec s = small_spec(arch, ternary), sa = s;
      sa.learnable_alpha = 1;
      int B = 2;
      fl_model *off = make(&s, B, 0.1f), *on;
      if (!off || fl_model_create(&on, &sa, B)) return;
      size_t n = fl_model_num_params(off);
      memcpy(fl_model_params(on), fl_model_params(off), n * sizeof(float));
      set_alphas(on, 0);
      int *tok = make_tokens(B, s.seq_len, s.vocab);
      float l_off, l_on;
      T_CHECK(fl_model_forward_backward(off, tok, B, &l_off) == FL_OK, "%s", fl_last_error());
      T_CHECK(fl_model_forward_backward(on, tok, B, &l_on) == FL_OK, "%s", fl_last_error());
      T_CHECK(l_off == l_on, "%s %s: loss with alpha 1 %.9g, without %.9g",
              arch ? "ffn" : "transformer", ternary ? "ternary" : "float", l_on, l_off);
      char what[96];
      snprintf(what, sizeof what, "%s %s alpha=1 grads vs switch off", arch ? "ffn" : "transformer",
               ternary ? "ternary" : "float");
      t_same(what, fl_model_grads(on), fl_model_grads(off), n * 4, 4);
      t_free(tok);
      fl_model_free(off);
      fl_model_free(on);
    }
}
