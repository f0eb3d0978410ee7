/* Scalar reference kernels: the semantics every SIMD twin must reproduce (see flashlm.h).
 * Plain loops, OpenMP over independent rows only, so results do not depend on the thread count.
 * Compiled with the baseline flags of the architecture. Layers (RoPE, attention, SwiGLU,
 * cross-entropy) are in layers_ref.c; this file holds the table. */
#include <math.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

/* ---- fp32 GEMM: C (M,N) = alpha op(A) op(B) + beta C ---- */
static void gemm_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < N; j++) {
      float acc = 0.0f;
      for (int k = 0; k < K; k++) {
        float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        acc += a * b;
      }
      float *c = &C[(size_t)i * ldc + j];
      *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
    }
  }
}

/* ---- ternary (packed 2-bit) x int8: y (T,N), exact int32 sums ---- */
static void ternary_matmul_ref(float *y, int ldy, const int8_t *q, const float *xscale,
                               const uint8_t *w, float wscale, int T, int N, int K) {
  int Kp = fl_ternary_kpad(K), rb = fl_ternary_row_bytes(K);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const int8_t *qt = q + (size_t)t * Kp;
    for (int n = 0; n < N; n++) {
      const uint8_t *wr = w + (size_t)n * rb;
      int32_t acc = 0;
      for (int k = 0; k < Kp; k++) acc += fl_ternary_code(wr, k) * qt[k];
      y[(size_t)t * ldy + n] = (float)acc * (wscale * xscale[t]);
    }
  }
}

/* ---- activation quantisation: gamma = max(max|x|, eps); q = clamp(rint(x * 127/gamma)) ---- */
static void quant_act_ref(int8_t *q, float *xscale, const float *x, int T, int K) {
  int Kp = fl_ternary_kpad(K);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float *xt = x + (size_t)t * K;
    int8_t *qt = q + (size_t)t * Kp;
    float amax = 0.0f;
    for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(xt[k]));
    float gamma = fmaxf(amax, FL_QUANT_EPS);
    float inv = 127.0f / gamma;
    for (int k = 0; k < K; k++) qt[k] = (int8_t)fminf(fmaxf(rintf(xt[k] * inv), -127.0f), 127.0f);
    for (int k = K; k < Kp; k++) qt[k] = 0;
    xscale[t] = gamma / 127.0f;
  }
}

static void dequant_act_ref(float *xeff, const int8_t *q, const float *xscale, int T, int K) {
  int Kp = fl_ternary_kpad(K);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++)
    for (int k = 0; k < K; k++) xeff[(size_t)t * K + k] = (float)q[(size_t)t * Kp + k] * xscale[t];
}

/* ---- RMSNorm ---- */
static void rmsnorm_forward_ref(float *y, float *rstd, const float *x, const float *w, int T, int C,
                                float eps) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float *xt = x + (size_t)t * C;
    double ss = 0.0;
    for (int c = 0; c < C; c++) ss += (double)xt[c] * xt[c];
    float r = (float)(1.0 / sqrt(ss / C + eps));
    rstd[t] = r;
    for (int c = 0; c < C; c++) y[(size_t)t * C + c] = xt[c] * r * w[c];
  }
}

/* dx = r w dy - x r^3/C sum(dy w x); dw += sum_t dy x r. */
static void rmsnorm_backward_ref(float *dx, float *dw, const float *dy, const float *x,
                                 const float *w, const float *rstd, int T, int C, int accumulate) {
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int t = 0; t < T; t++) {
      const float *dyt = dy + (size_t)t * C, *xt = x + (size_t)t * C;
      float *dxt = dx + (size_t)t * C;
      float r = rstd[t], s = 0.0f;
      for (int c = 0; c < C; c++) s += dyt[c] * w[c] * xt[c];
      float k = r * r * r * s / (float)C;
      for (int c = 0; c < C; c++) {
        float v = r * w[c] * dyt[c] - k * xt[c];
        dxt[c] = accumulate ? dxt[c] + v : v;
      }
    }
    /* dw: each thread owns a column range and sums over t in order (no races, deterministic). */
#pragma omp for schedule(static)
    for (int c = 0; c < C; c++) {
      float s = 0.0f;
      for (int t = 0; t < T; t++) s += dy[(size_t)t * C + c] * x[(size_t)t * C + c] * rstd[t];
      dw[c] += s;
    }
  }
}

/* ---- optimizers and reductions ---- */
static void adamw_ref(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                      float b2, float eps, float wd, int step) {
  float bc1 = (float)(1.0 - pow(b1, step)), bc2 = (float)(1.0 - pow(b2, step));
  float step_size = lr / bc1, bc2_sqrt = sqrtf(bc2), decay = 1.0f - lr * wd;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float mi = b1 * m[i] + (1.0f - b1) * g[i];
    float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    float denom = sqrtf(vi) / bc2_sqrt + eps;
    p[i] = p[i] * decay - step_size * mi / denom;
  }
}

static void sgd_momentum_ref(float *p, const float *g, float *buf, size_t n, float lr, float mu,
                             float wd) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float b = mu * buf[i] + gi;
    buf[i] = b;
    p[i] -= lr * b;
  }
}

static double sumsq_range(const void *ctx, size_t i0, size_t i1) {
  const float *x = ctx;
  double s = 0.0;
  for (size_t i = i0; i < i1; i++) s += (double)x[i] * x[i];
  return s;
}

static double sum_squares_ref(const float *x, size_t n) {
  return fl_parallel_sum(sumsq_range, x, n);
}

static void scale_ref(float *x, size_t n, float factor) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) x[i] *= factor;
}

static const fl_kernels REF = {
    .name = "scalar",
    .gemm = gemm_ref,
    .ternary_matmul = ternary_matmul_ref,
    .quant_act = quant_act_ref,
    .dequant_act = dequant_act_ref,
    .rmsnorm_forward = rmsnorm_forward_ref,
    .rmsnorm_backward = rmsnorm_backward_ref,
    .rope = fl_rope_ref,
    .attention_forward = fl_attention_forward_ref,
    .attention_backward = fl_attention_backward_ref,
    .swiglu_forward = fl_swiglu_forward_ref,
    .swiglu_backward = fl_swiglu_backward_ref,
    .crossentropy = fl_crossentropy_ref,
    .adamw = adamw_ref,
    .sgd_momentum = sgd_momentum_ref,
    .sum_squares = sum_squares_ref,
    .scale = scale_ref,
    .dx16_quant = fl_dx16_quant_ref,
    .dx16_matmul = fl_dx16_matmul_ref,
    .dw16_quant = fl_dw16_quant_ref,
};

const fl_kernels *fl_kernels_ref(void) { return &REF; }

/* ---- weight quantisation and packing (scalar on every ISA: O(params) once per step) ---- */
int fl_ternary_kpad(int K) { return (K + 31) / 32 * 32; }

int fl_ternary_row_bytes(int K) { return (K + 127) / 128 * 32; }

size_t fl_ternary_packed_bytes(int N, int K) { return (size_t)N * fl_ternary_row_bytes(K); }

/* Four partial sums in a fixed order, so that the additions do not wait on each other (one
 * running sum was bound by the add's latency). */
static double abs_range(const void *ctx, size_t i0, size_t i1) {
  const float *W = ctx;
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  size_t i = i0;
  for (; i + 4 <= i1; i += 4)
    for (int j = 0; j < 4; j++) s[j] += fabs((double)W[i + j]);
  for (; i < i1; i++) s[0] += fabs((double)W[i]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

float fl_ternary_scale(const float *W, size_t n) {
  double total = fl_parallel_sum(abs_range, W, n);
  float mean = (float)(total / (double)(n ? n : 1));
  return fmaxf(mean, FL_QUANT_EPS);
}

/* r = clamp(rint(x), -1, 1) as a code c = r + 1, without rint and fmin/fmax (library calls
 * on the baseline ISA) and without branches, so that the loops vectorise: rint rounds half to
 * even, so x in [-0.5, 0.5] gives 0, above it 1 (2 and more clamp to 1), below it -1; NaN gives
 * -1 (fmaxf(NaN, -1) = -1). r * s for W_eff keeps the sign of rint's zero. */
static inline __attribute__((always_inline)) void ternary_run(uint8_t *restrict byte,
                                                              float *restrict weff,
                                                              const float *restrict W, float s,
                                                              int len, int shift) {
  for (int j = 0; j < len; j++) {
    float x = W[j] / s;
    int c = (x > 0.5f) + (x >= -0.5f);
    byte[j] |= (uint8_t)(c << shift);
    if (weff) { /* r = c - 1, its zero with x's sign bit (bit operations, so that it vectorises) */
      float r = (float)(c - 1);
      uint32_t rb, xb;
      memcpy(&rb, &r, 4), memcpy(&xb, &x, 4);
      rb |= xb & 0x80000000u & (uint32_t) - (c == 1);
      memcpy(&r, &rb, 4);
      weff[j] = r * s;
    }
  }
  for (int j = len; j < 32; j++) byte[j] |= (uint8_t)(1 << shift); /* zero weights past K */
}

void fl_ternary_pack(uint8_t *w, float *weff, const float *W, float s, int N, int K) {
  size_t rb = (size_t)fl_ternary_row_bytes(K);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float *Wr = W + (size_t)n * K;
    float *er = weff ? weff + (size_t)n * K : NULL;
    uint8_t *wr = w + (size_t)n * rb;
    memset(wr, 0, rb);
    for (int k0 = 0; k0 < (int)rb * 4; k0 += 32) {
      uint8_t *byte = wr + k0 / 128 * 32;
      int len = K - k0 < 32 ? (K - k0 > 0 ? K - k0 : 0) : 32, shift = 2 * (k0 % 128 / 32);
      if (len == 32 && er)
        ternary_run(byte, er + k0, Wr + k0, s, 32, shift);
      else if (len == 32)
        ternary_run(byte, NULL, Wr + k0, s, 32, shift);
      else
        ternary_run(byte, er ? er + k0 : NULL, Wr + k0, s, len, shift);
    }
  }
}

void fl_ternary_unpack(int8_t *wq, const uint8_t *w, int N, int K) {
  int rb = fl_ternary_row_bytes(K);
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++)
      wq[(size_t)n * K + k] = (int8_t)fl_ternary_code(w + (size_t)n * rb, k);
}
