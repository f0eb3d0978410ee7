/* Where a training step of the native model spends its time, kernel by kernel and layer kind by
 * layer kind, for guiding the kernel work (not a test, not shipped). Run through
 * tests/bench/profile-model.sh CONF BATCH [STEPS], which builds libflashlm's static archive and
 * this file against it.
 *
 * It gives the model (fl_model_use_kernels) a copy of the dispatched kernel table whose every
 * entry times the real kernel and files the time under a label named from the call's shape
 * (e.g. "gemm dW ffn down": dW += dY^T X of the (d, f) down projection). What the model does
 * outside the table (weight quantisation and packing, embedding, residual adds, the loop itself)
 * is the step time minus the table's time. A step is what the trainer does: zero the gradients,
 * forward + backward, global-norm clip, AdamW over the whole buffer.
 *
 *   profile_model ARCH VOCAB D LAYERS HEADS FFN SEQ TERNARY BATCH STEPS [DX]
 * ARCH 0 transformer, 1 ffn; TERNARY 1 BitLinear, 0 fp32 linears; DX the BitLinears' dx, 0 int16
 * (the default), 1 fp32; DW their dW, the same. Threads: OMP_NUM_THREADS. With two or more threads the products of one
 * backward run at once on different threads and each call's wall time is filed, so the table's
 * sum can exceed the step ("outside the table" then comes out negative). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"

/* Not in the public header: model.c's hook for swapping the kernel table (tests use it too). */
void fl_model_use_kernels(fl_model *m, const fl_kernels *k);

static const fl_kernels *real;
static int D, F, V, NTOK; /* d_model, ffn_dim, vocab, tokens per batch */
static int m_transformer;

/* ---- buckets: label -> calls, seconds, flops ---- */
#define MAX_BUCKETS 64
static struct bucket {
  char label[64];
  const char *group;
  long calls;
  double seconds, flops;
} buckets[MAX_BUCKETS];
static int n_buckets;

static void file(const char *group, const char *label, double seconds, double flops) {
#pragma omp critical(profile_file) /* the backward's products run on several threads at once */
  {
  int i = 0;
  while (i < n_buckets && strcmp(buckets[i].label, label) != 0) i++;
  if (i == n_buckets) {
    if (n_buckets == MAX_BUCKETS) i = MAX_BUCKETS - 1; /* never: the labels are few */
    else n_buckets++;
    snprintf(buckets[i].label, sizeof buckets[i].label, "%s", label);
    buckets[i].group = group;
  }
  buckets[i].calls++;
  buckets[i].seconds += seconds;
  buckets[i].flops += flops;
  }
}

/* The linear a weight shape [out, in] belongs to, and its layer kind. */
static const char *weight_name(int out, int in, const char **group) {
  *group = "attention";
  if (out == D && in == D) return "attn q/k/v/o";
  if (out == 3 * D && in == D) return "attn qkv";
  *group = "ffn";
  if (out == F && in == D) return "ffn gate/up";
  if (out == D && in == F) return "ffn down";
  *group = "head";
  if (out == V && in == D) return "head";
  *group = "other";
  return "?";
}

#define TIMED(call) \
  double t0 = omp_get_wtime(); \
  call; \
  double dt = omp_get_wtime() - t0

static void w_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
  TIMED(real->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
  const char *group, *w;
  const char *role;
  if (!ta && tb) role = "fwd x W^T", w = weight_name(N, K, &group);       /* y = x W^T */
  else if (!ta && !tb) role = "bwd dX=dY W", w = weight_name(K, N, &group); /* dx = dy W */
  else role = "bwd dW+=dY^T X", w = weight_name(M, N, &group);            /* dW += dy^T x */
  char label[64];
  snprintf(label, sizeof label, "gemm %s %s", role, w);
  file(group, label, dt, 2.0 * M * N * K);
}

static void w_ternary(float *y, int ldy, const int8_t *q, const float *xs, const uint8_t *w,
                      float ws, int T, int N, int K) {
  TIMED(real->ternary_matmul(y, ldy, q, xs, w, ws, T, N, K));
  const char *group, *name = weight_name(N, K, &group);
  char label[64];
  snprintf(label, sizeof label, "ternary fwd x W^T %s", name);
  file(group, label, dt, 2.0 * T * N * K);
}

static void w_dx16_quant(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                         int K) {
  TIMED(real->dx16_quant(q, a, dy, ldy, cs, T, K));
  file("quantisation", "dx16_quant (bwd)", dt, 0);
}

/* Set by the integer dW's quantisation: the product that follows on this thread is a block of
 * dW (rows x inputs over a block of tokens), not dX. */
static _Thread_local int dw_next;

static void w_dw16_quant(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                         int K) {
  TIMED(real->dw16_quant(q, a, dy, ldy, cs, T, K));
  file("quantisation", "dw16_quant (bwd)", dt, 0);
  dw_next = 1;
}

static void w_dx16_matmul(float *dx, int ldx, const int16_t *q, const float *a,
                          const int8_t *panel, int T, int N, int K, float beta) {
  TIMED(real->dx16_matmul(dx, ldx, q, a, panel, T, N, K, beta));
  char label[64];
  if (dw_next) { /* T rows of dW over K tokens: named by the input width N */
    dw_next = 0;
    snprintf(label, sizeof label, "int16 bwd dW+=dY^T X in %s", N == F ? "ffn" : "d");
    file(m_transformer && N == D ? "attention+ffn" : "ffn", label, dt, 2.0 * T * N * K);
    return;
  }
  const char *group, *name = weight_name(K, N, &group);
  snprintf(label, sizeof label, "int16 bwd dX=dY W %s", name);
  file(group, label, dt, 2.0 * T * N * K);
}

static void w_quant(int8_t *q, float *xs, const float *x, int T, int K) {
  TIMED(real->quant_act(q, xs, x, T, K));
  file("quantisation", "quant_act (fwd)", dt, 0);
}

static void w_dequant(float *xe, const int8_t *q, const float *xs, int T, int K) {
  TIMED(real->dequant_act(xe, q, xs, T, K));
  file("quantisation", "dequant_act (bwd)", dt, 0);
}

static void w_rms_f(float *y, float *r, const float *x, const float *w, int T, int C, float e) {
  TIMED(real->rmsnorm_forward(y, r, x, w, T, C, e));
  file("norms", "rmsnorm fwd", dt, 0);
}

static void w_rms_b(float *dx, float *dw, const float *dy, const float *x, const float *w,
                    const float *r, int T, int C, int acc) {
  TIMED(real->rmsnorm_backward(dx, dw, dy, x, w, r, T, C, acc));
  file("norms", "rmsnorm bwd", dt, 0);
}

static void w_rope(float *x, int ld, const float *cs, int B, int T, int H, int hd, int inv) {
  TIMED(real->rope(x, ld, cs, B, T, H, hd, inv));
  file("attention", inv ? "rope bwd" : "rope fwd", dt, 0);
}

static void w_att_f(float *out, float *lse, const float *q, const float *k, const float *v, int ld,
                    int B, int T, int H, int hd) {
  TIMED(real->attention_forward(out, lse, q, k, v, ld, B, T, H, hd));
  file("attention", "attention fwd", dt, 2.0 * B * H * (double)T * (T + 1) / 2 * hd * 2);
}

static void w_att_b(float *dq, float *dk, float *dv, const float *dout, const float *q,
                    const float *k, const float *v, const float *out, const float *lse, int ld,
                    int B, int T, int H, int hd) {
  TIMED(real->attention_backward(dq, dk, dv, dout, q, k, v, out, lse, ld, B, T, H, hd));
  file("attention", "attention bwd", dt, 2.0 * B * H * (double)T * (T + 1) / 2 * hd * 4);
}

static void w_swi_f(float *h, const float *g, const float *u, size_t n) {
  TIMED(real->swiglu_forward(h, g, u, n));
  file("ffn", "swiglu/silu fwd", dt, 0);
}

static void w_swi_b(float *dg, float *du, const float *dh, const float *g, const float *u,
                    size_t n) {
  TIMED(real->swiglu_backward(dg, du, dh, g, u, n));
  file("ffn", "swiglu/silu bwd", dt, 0);
}

static double w_ce(float *logits, const int *targets, int T, int Vv, float gs) {
  TIMED(double r = real->crossentropy(logits, targets, T, Vv, gs));
  file("head", "crossentropy fused", dt, 0);
  return r;
}

static double now(void) { return omp_get_wtime(); }

static double group_seconds(const char *g) {
  double s = 0;
  for (int i = 0; i < n_buckets; i++)
    if (strcmp(buckets[i].group, g) == 0) s += buckets[i].seconds;
  return s;
}

static int by_time(const void *a, const void *b) {
  double x = ((const struct bucket *)a)->seconds, y = ((const struct bucket *)b)->seconds;
  return x < y ? 1 : x > y ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 11 || argc > 13) {
    fprintf(stderr, "usage: profile_model ARCH VOCAB D LAYERS HEADS FFN SEQ TERNARY BATCH STEPS "
                    "[DX [DW]]\n");
    return 2;
  }
  fl_spec s = {.arch = atoi(argv[1]), .vocab = atoi(argv[2]), .d = atoi(argv[3]),
               .n_layers = atoi(argv[4]), .n_heads = atoi(argv[5]), .ffn = atoi(argv[6]),
               .seq_len = atoi(argv[7]), .ternary = atoi(argv[8]), .rope_theta = 10000.0,
               .norm_eps = 1e-5, .backward_dx = argc > 11 ? atoi(argv[11]) : FL_DX_INT16,
               .backward_dw = argc > 12 ? atoi(argv[12]) : FL_DW_INT16};
  int B = atoi(argv[9]), steps = atoi(argv[10]), T = s.seq_len;
  D = s.d, F = s.ffn, V = s.vocab, NTOK = B * T, m_transformer = s.arch == FL_ARCH_TRANSFORMER;
  fl_model *m;
  if (fl_model_create(&m, &s, B)) {
    fprintf(stderr, "profile_model: %s\n", fl_last_error());
    return 1;
  }
  real = fl_kernels_get();
  fl_kernels k = *real;
  k.gemm = w_gemm, k.ternary_matmul = w_ternary, k.quant_act = w_quant, k.dequant_act = w_dequant;
  k.rmsnorm_forward = w_rms_f, k.rmsnorm_backward = w_rms_b, k.rope = w_rope;
  k.attention_forward = w_att_f, k.attention_backward = w_att_b;
  k.swiglu_forward = w_swi_f, k.swiglu_backward = w_swi_b, k.crossentropy = w_ce;
  k.dx16_quant = w_dx16_quant, k.dx16_matmul = w_dx16_matmul, k.dw16_quant = w_dw16_quant;
  fl_model_use_kernels(m, &k);

  /* parameters: matrices N(0, 0.02) (Box-Muller over xorshift), norm weights 1 */
  size_t P = fl_model_num_params(m);
  float *p = fl_model_params(m), *g = fl_model_grads(m);
  uint64_t r = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < P; i++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    double u1 = ((r >> 11) + 1.0) / 9007199254740993.0;
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    double u2 = (r >> 11) / 9007199254740992.0;
    p[i] = (float)(0.02 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
  }
  for (int i = 0; i < fl_model_num_tensors(m); i++) {
    const char *name;
    size_t off;
    int nd, shape[2], decay;
    fl_model_tensor(m, i, &name, &off, &nd, shape, &decay);
    if (nd == 1)
      for (int j = 0; j < shape[0]; j++) p[off + j] = 1.0f;
  }
  float *mom = calloc(2 * P, sizeof(float));
  int *tok = malloc(sizeof(int) * B * (T + 1));
  double t_zero = 0, t_fb = 0, t_clip = 0, t_opt = 0;
  for (int step = 0; step <= steps; step++) {
    if (step == 1) { /* step 0 warms up: forget it */
      n_buckets = 0;
      memset(buckets, 0, sizeof buckets);
      t_zero = t_fb = t_clip = t_opt = 0;
    }
    for (int i = 0; i < B * (T + 1); i++) {
      r ^= r << 13, r ^= r >> 7, r ^= r << 17;
      tok[i] = (int)(r % (uint64_t)V);
    }
    float loss;
    double t0 = now();
    fl_model_zero_grads(m);
    double t1 = now();
    if (fl_model_forward_backward(m, tok, B, &loss)) {
      fprintf(stderr, "profile_model: %s\n", fl_last_error());
      return 1;
    }
    double t2 = now();
    double norm = sqrt(real->sum_squares(g, P));
    if (norm > 1.0) real->scale(g, P, (float)(1.0 / (norm + 1e-6)));
    double t3 = now();
    real->adamw(p, g, mom, mom + P, P, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step + 1);
    double t4 = now();
    t_zero += t1 - t0, t_fb += t2 - t1, t_clip += t3 - t2, t_opt += t4 - t3;
    if (step == 0) printf("warm-up step: loss %.4f, %.3f s\n", loss, t4 - t0);
  }
  double table = 0;
  for (int i = 0; i < n_buckets; i++) table += buckets[i].seconds;
  double step_s = (t_zero + t_fb + t_clip + t_opt) / steps;
  printf("%s %s d%d L%d H%d ffn%d vocab%d T%d B%d, kernels '%s', %d threads, %d steps: "
         "%.3f s/step, %.0f tokens/s\n",
         s.arch == FL_ARCH_TRANSFORMER ? "transformer" : "ffn", s.ternary ? "ternary" : "fp32",
         s.d, s.n_layers, s.n_heads, s.ffn, s.vocab, T, B, real->name, omp_get_max_threads(),
         steps, step_s, NTOK / step_s);
  qsort(buckets, n_buckets, sizeof buckets[0], by_time);
  printf("\n%-34s %-12s %9s %10s %7s %9s\n", "kernel (per step)", "layer kind", "calls", "ms",
         "%step", "GFLOP/s");
  for (int i = 0; i < n_buckets; i++) {
    struct bucket *b = &buckets[i];
    printf("%-34s %-12s %9.1f %10.1f %6.1f%%", b->label, b->group, (double)b->calls / steps,
           1e3 * b->seconds / steps, 100 * b->seconds / steps / step_s);
    if (b->flops > 0) printf(" %9.1f", b->flops / b->seconds / 1e9);
    printf("\n");
  }
  double outside = t_fb / steps - table / steps;
  printf("%-34s %-12s %9s %10.1f %6.1f%%\n", "outside the table (*)", "other", "",
         1e3 * outside, 100 * outside / step_s);
  printf("%-34s %-12s %9s %10.1f %6.1f%%\n", "zero grads", "optimizer", "", 1e3 * t_zero / steps,
         100 * t_zero / steps / step_s);
  printf("%-34s %-12s %9s %10.1f %6.1f%%\n", "clip (sum_squares + scale)", "optimizer", "",
         1e3 * t_clip / steps, 100 * t_clip / steps / step_s);
  printf("%-34s %-12s %9s %10.1f %6.1f%%\n", "adamw", "optimizer", "", 1e3 * t_opt / steps,
         100 * t_opt / steps / step_s);
  printf("(*) weight quantisation + packing, embedding fwd/bwd, residual adds, loop overhead\n");

  printf("\nby layer kind (ms per step, %% of step):");
  const char *groups[] = {"ffn", "attention", "head", "norms", "quantisation"};
  for (int i = 0; i < 5; i++) {
    double gs = group_seconds(groups[i]) / steps;
    if (gs > 0) printf("  %s %.1f (%.1f%%)", groups[i], 1e3 * gs, 100 * gs / step_s);
  }
  printf("  other %.1f (%.1f%%)  optimizer %.1f (%.1f%%)\n", 1e3 * outside, 100 * outside / step_s,
         1e3 * (t_zero + t_clip + t_opt) / steps, 100 * (t_zero + t_clip + t_opt) / steps / step_s);
  double fwd = 0, bwd = 0;
  for (int i = 0; i < n_buckets; i++) {
    const char *l = buckets[i].label;
    int back = strstr(l, "bwd") != NULL || strstr(l, "crossentropy") != NULL;
    *(back ? &bwd : &fwd) += buckets[i].seconds;
  }
  printf("forward kernels %.1f ms, backward kernels (incl. the fused cross-entropy) %.1f ms "
         "per step\n", 1e3 * fwd / steps, 1e3 * bwd / steps);
  fl_model_free(m);
  free(mom);
  free(tok);
  return 0;
}
