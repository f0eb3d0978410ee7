/* The integer dX and dW in the model (fl_spec.backward_dx and backward_dw, flashlm.h "integer
 * dX", "integer dW"): the same step with each of them int16 against both fp32, the linears'
 * gradients' bits for every thread count, the gradient of the first linear the backward reaches
 * against the fp32 GEMM's, a short training run, and the spec checks. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* int16 against fp32 products, every gradient tensor, relative to its largest value: each dy is
 * quantised to 2^-16 of the largest value of its token (dX) or of its output in its block of
 * tokens (dW), half a step, so dx and dW move by about 1e-5 of their scale, and the gradients of
 * earlier layers inherit that through a few products; 1e-3 leaves room for sums that cancel,
 * and is still far below the smallest real change of a gradient. */
#define TOL_DX16_VS_FP32 1e-3

static fl_spec spec_of(int arch, int alpha, int dx, int dw) {
  fl_spec s = {.arch = arch,
               .vocab = 67,
               .d = 64,
               .n_layers = 2,
               .n_heads = 2,
               .ffn = 96,
               .seq_len = 70,
               .ternary = 1,
               .learnable_alpha = alpha,
               .backward_dx = dx,
               .backward_dw = dw,
               .rope_theta = 10000.0,
               .norm_eps = 1e-5};
  return s;
}

static float uniform_alpha(int i) {
  (void)i;
  return t_uniform(0.5f, 1.5f);
}

/* A model with parameters from the test stream (the same for the same seed position): matrices
 * N(0, 0.1), norms around 1, alphas from 0.5 to 1.5. */
static fl_model *make_model(const fl_spec *s, int B, const float *params) {
  fl_model *m;
  if (fl_model_create(&m, s, B)) {
    T_CHECK(0, "fl_model_create: %s", fl_last_error());
    return NULL;
  }
  float *p = fl_model_params(m);
  if (params) {
    memcpy(p, params, fl_model_num_params(m) * sizeof(float));
    return m;
  }
  t_fill_model(m, 0.1f, uniform_alpha);
  return m;
}

static int *tokens(int B, int T, int V) {
  int *tok = t_bytes(sizeof(int) * B * (T + 1));
  for (int i = 0; i < B * (T + 1); i++) tok[i] = (int)(t_next() % V);
  return tok;
}

/* The offset and size of the named tensor. */
static size_t tensor_at(fl_model *m, const char *want, size_t *n) {
  for (int i = 0; i < fl_model_num_tensors(m); i++) {
    const char *name;
    size_t off;
    int nd, shape[2], decay;
    fl_model_tensor(m, i, &name, &off, &nd, shape, &decay);
    if (!strcmp(name, want)) {
      *n = (size_t)shape[0] * (nd == 2 ? shape[1] : 1);
      return off;
    }
  }
  *n = 0;
  return 0;
}

/* The (backward_dx, backward_dw) pairs with an integer product, as the tests name them. */
static const int INT_PAIRS[3][2] = {
    {FL_DX_INT16, FL_DW_INT16}, {FL_DX_INT16, FL_DW_FP32}, {FL_DX_FP32, FL_DW_INT16}};

static const char *pair_name(int dx, int dw) {
  return dx == FL_DX_INT16 ? (dw == FL_DW_INT16 ? "int16 dX+dW" : "int16 dX") : "int16 dW";
}

void test_model_int16_close_to_fp32(void) {
  int B = 4; /* 280 tokens: two blocks of the integer dW, two K slices of the fp32 one */
  for (int arch = 0; arch < 2; arch++)
    for (int alpha = 0; alpha < 2; alpha++)
      for (int c = 0; c < 3; c++) {
        int dx = INT_PAIRS[c][0], dw = INT_PAIRS[c][1];
        fl_spec si = spec_of(arch, alpha, dx, dw),
                sf = spec_of(arch, alpha, FL_DX_FP32, FL_DW_FP32);
        fl_model *a = make_model(&si, B, NULL),
                 *b = a ? make_model(&sf, B, fl_model_params(a)) : NULL;
        if (!b) {
          fl_model_free(a);
          return;
        }
        int *tok = tokens(B, si.seq_len, si.vocab), threads = omp_get_max_threads();
        float la, lb;
        T_CHECK(fl_model_forward_backward(a, tok, B, &la) == FL_OK, "%s", fl_last_error());
        omp_set_num_threads(1); /* the fp32 dW as one serial GEMM */
        T_CHECK(fl_model_forward_backward(b, tok, B, &lb) == FL_OK, "%s", fl_last_error());
        omp_set_num_threads(threads);
        T_CHECK(la == lb, "the forward must not change: loss %.9g (int16) vs %.9g (fp32)", la, lb);
        /* an alpha's gradient is one sum that can cancel to near zero: relative to the largest */
        double alpha_scale = 0.0;
        for (int pass = 0; pass < 2; pass++)
          for (int i = 0; i < fl_model_num_tensors(a); i++) {
            const char *name;
            size_t off;
            int nd, shape[2], decay;
            fl_model_tensor(a, i, &name, &off, &nd, shape, &decay);
            size_t n = (size_t)shape[0] * (nd == 2 ? shape[1] : 1);
            const float *want = fl_model_grads(b) + off;
            if (strstr(name, ".alpha") && pass == 0) {
              alpha_scale = fabs(want[0]) > alpha_scale ? fabs(want[0]) : alpha_scale;
              continue;
            }
            if (pass == 0) continue;
            char what[128];
            snprintf(what, sizeof what, "%s%s %s vs fp32: %s", arch ? "ffn" : "transformer",
                     alpha ? " alpha" : "", pair_name(dx, dw), name);
            if (strstr(name, ".alpha")) {
              double w = want[0];
              t_close_ds(what, fl_model_grads(a) + off, &w, 1, TOL_DX16_VS_FP32, alpha_scale);
            } else {
              t_close(what, fl_model_grads(a) + off, want, n, TOL_DX16_VS_FP32);
            }
          }
        if (!alpha && dw == FL_DW_FP32) {
          /* the first product of the backward (the last layer's down projection) sees the same
         * dy and x in both: its dW has the serial fp32 GEMM's bits */
          size_t n, off = tensor_at(a, "model.layers.1.mlp.down_proj.weight", &n);
          char what[96];
          snprintf(what, sizeof what, "%s last down_proj dW: int16 path vs one GEMM",
                   arch ? "ffn" : "transformer");
          t_same(what, fl_model_grads(a) + off, fl_model_grads(b) + off, n * sizeof(float), 4);
        }
        if (dw == FL_DW_INT16) {
          /* ... and with the integer dW it must not have them: the product really is int16 */
          size_t n, off = tensor_at(a, "model.layers.1.mlp.down_proj.weight", &n), differ = 0;
          for (size_t i = 0; i < n; i++)
            differ += fl_model_grads(a)[off + i] != fl_model_grads(b)[off + i];
          T_CHECK(differ > n / 2, "%s%s last down_proj: int16 dW equals the fp32 one in %zu of %zu",
                  arch ? "ffn" : "transformer", alpha ? " alpha" : "", n - differ, n);
        }
        t_free(tok);
        fl_model_free(a);
        fl_model_free(b);
      }
}

void test_model_int16_same_bits_for_any_thread_count(void) {
  static const int counts[] = {1, 2, 3, 9};
  int B = 4, threads = omp_get_max_threads();
  for (int arch = 0; arch < 2; arch++)
    for (int alpha = 0; alpha < 2; alpha++)
      for (int p = 0; p < 3; p++) {
        int dx = INT_PAIRS[p][0], dw = INT_PAIRS[p][1];
        fl_spec s = spec_of(arch, alpha, dx, dw);
        fl_model *m = make_model(&s, B, NULL);
        if (!m) return;
        size_t n = fl_model_num_params(m);
        float *first = t_floats(n), l0 = 0.0f;
        int *tok = tokens(B, s.seq_len, s.vocab);
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
          omp_set_num_threads(counts[c]);
          float loss;
          fl_model_zero_grads(m);
          T_CHECK(fl_model_forward_backward(m, tok, B, &loss) == FL_OK, "%s", fl_last_error());
          if (c == 0) {
            memcpy(first, fl_model_grads(m), n * sizeof(float)), l0 = loss;
            continue;
          }
          T_CHECK(loss == l0, "loss %.9g with %d threads vs %.9g", loss, counts[c], l0);
          /* the linears (weights and alphas); the norms' and the embedding's gradients are sums
         * whose order follows the thread count in their own kernels */
          for (int i = 0; i < fl_model_num_tensors(m); i++) {
            const char *name;
            size_t off;
            int nd, shape[2], decay;
            fl_model_tensor(m, i, &name, &off, &nd, shape, &decay);
            if (!strstr(name, "_proj")) continue;
            char what[128];
            snprintf(what, sizeof what, "%s%s %s, %d threads vs 1: %s",
                     arch ? "ffn" : "transformer", alpha ? " alpha" : "", pair_name(dx, dw),
                     counts[c], name);
            t_same(what, fl_model_grads(m) + off, first + off,
                   (size_t)shape[0] * (nd == 2 ? shape[1] : 1) * sizeof(float), 4);
          }
        }
        omp_set_num_threads(threads);
        t_free(first), t_free(tok);
        fl_model_free(m);
      }
}

void test_model_refuses_an_unknown_backward_dx_or_dw(void) {
  fl_spec s = spec_of(FL_ARCH_FFN, 0, 2, FL_DW_INT16);
  fl_model *m = NULL;
  T_CHECK(fl_model_create(&m, &s, 1) == FL_EINVAL && !m && strstr(fl_last_error(), "backward_dx"),
          "backward_dx 2 accepted or unclear: %s", fl_last_error());
  s = spec_of(FL_ARCH_FFN, 0, FL_DX_INT16, -1);
  T_CHECK(fl_model_create(&m, &s, 1) == FL_EINVAL && !m && strstr(fl_last_error(), "backward_dw"),
          "backward_dw -1 accepted or unclear: %s", fl_last_error());
}

/* A short training run of a small ffn model on a learnable token stream (each token follows
 * from the one before by a fixed permutation 7 times in 8, else at random): int16 dX and dW
 * against fp32 ones from the same start on the same batches. Both must learn (the loss falls well below ln V) and
 * end within TOL_DX16_TRAIN of each other: the quantisation noise of dx and dW is far below the noise
 * of the batches, so the curves agree to a few thousandths. */
#define TOL_DX16_TRAIN 0.02

static void markov_batch(int *tok, int B, int T, int V, const int *perm) {
  for (int b = 0; b < B; b++) {
    int *r = tok + (size_t)b * (T + 1);
    r[0] = (int)(t_next() % V);
    for (int t = 1; t <= T; t++) r[t] = t_next() % 8 ? perm[r[t - 1]] : (int)(t_next() % V);
  }
}

/* Mean loss of the last 20 of steps AdamW steps; first: the first step's loss. */
static double train_run(fl_model *m, const int *batches, int B, int steps, float *first) {
  size_t n = fl_model_num_params(m);
  float *mom = t_floats(2 * n), loss = 0.0f;
  const fl_spec *s = fl_model_spec(m);
  double tail = 0.0;
  for (int step = 0; step < steps; step++) {
    fl_model_zero_grads(m);
    fl_model_forward_backward(m, batches + (size_t)step * B * (s->seq_len + 1), B, &loss);
    if (step == 0) *first = loss;
    if (step >= steps - 20) tail += loss / 20.0;
    fl_adamw(fl_model_params(m), fl_model_grads(m), mom, mom + n, n, 3e-3f, 0.9f, 0.95f, 1e-8f,
             0.0f, step + 1);
  }
  t_free(mom);
  return tail;
}

void test_model_int16_trains_like_fp32(void) {
  int B = 4, steps = 250;
  fl_spec si = {.arch = FL_ARCH_FFN,
                .vocab = 32,
                .d = 32,
                .n_layers = 2,
                .ffn = 64,
                .seq_len = 32,
                .ternary = 1,
                .backward_dx = FL_DX_INT16,
                .backward_dw = FL_DW_INT16,
                .norm_eps = 1e-5};
  fl_spec sf = si;
  sf.backward_dx = FL_DX_FP32, sf.backward_dw = FL_DW_FP32;
  int perm[32];
  for (int i = 0; i < 32; i++) perm[i] = (i * 7 + 3) % 32;
  int *batches = t_bytes(sizeof(int) * (size_t)steps * B * (si.seq_len + 1));
  markov_batch(batches, steps * B, si.seq_len, si.vocab, perm);
  fl_model *a = make_model(&si, B, NULL), *b = a ? make_model(&sf, B, fl_model_params(a)) : NULL;
  if (b) {
    float fa, fb;
    double la = train_run(a, batches, B, steps, &fa), lb = train_run(b, batches, B, steps, &fb);
    if (t_verbose)
      printf("    %d steps: first loss %.4f; last 20 mean int16 %.4f fp32 %.4f\n", steps, fa, la,
             lb);
    T_CHECK(la < 0.6 * log(si.vocab) && lb < 0.6 * log(si.vocab),
            "did not learn: loss %.4f (int16) %.4f (fp32) from %.4f", la, lb, fa);
    T_CHECK(fabs(la - lb) <= TOL_DX16_TRAIN, "int16 dX and dW trained to %.4f, fp32 to %.4f", la,
            lb);
  }
  t_free(batches);
  fl_model_free(a);
  fl_model_free(b);
}
