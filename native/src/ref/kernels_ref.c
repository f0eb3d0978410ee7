/* Scalar reference kernels: the semantics every SIMD twin must reproduce (see flashlm.h). */
#include <math.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

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

static void ternary_matmul_ref(float *y, const int8_t *q, const float *xscale, const uint8_t *w,
                               float wscale, int T, int N, int K) {
  int Kp = fl_ternary_kpad(K);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const int8_t *qt = q + (size_t)t * Kp;
    for (int n = 0; n < N; n++) {
      const uint8_t *wr = w + (size_t)n * (Kp / 4);
      int32_t acc = 0;
      for (int k = 0; k < Kp; k++) {
        int code = (wr[(k / 128) * 32 + (k % 32)] >> (2 * ((k % 128) / 32))) & 3;
        acc += (code - 1) * qt[k];
      }
      y[(size_t)t * N + n] = (float)acc * (wscale * xscale[t]);
    }
  }
}

/* gamma = max(max|x|, eps); q = clamp(rint(x * 127/gamma)); scale = gamma/127. */
static float quant_row(int8_t *q, const float *x, int K, int Kp) {
  float amax = 0.0f;
  for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[k]));
  float gamma = fmaxf(amax, FL_QUANT_EPS);
  float inv = 127.0f / gamma;
  for (int k = 0; k < K; k++) {
    float r = rintf(x[k] * inv);
    q[k] = (int8_t)fminf(fmaxf(r, -127.0f), 127.0f);
  }
  for (int k = K; k < Kp; k++) q[k] = 0;
  return gamma / 127.0f;
}

static void quant_act_ref(int8_t *q, float *xscale, const float *x, int T, int K) {
  int Kp = fl_ternary_kpad(K);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) xscale[t] = quant_row(q + (size_t)t * Kp, x + (size_t)t * K, K, Kp);
}

static void fake_quant_act_ref(float *xeff, const float *x, int T, int K) {
#pragma omp parallel
  {
    int8_t row[4096];
    int8_t *buf = K <= 4096 ? row : NULL;
#pragma omp for schedule(static)
    for (int t = 0; t < T; t++) {
      const float *xt = x + (size_t)t * K;
      float *et = xeff + (size_t)t * K;
      if (buf) {
        float s = quant_row(buf, xt, K, K);
        for (int k = 0; k < K; k++) et[k] = (float)buf[k] * s;
      } else { /* large K: quantise one element at a time, same arithmetic */
        float amax = 0.0f;
        for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(xt[k]));
        float gamma = fmaxf(amax, FL_QUANT_EPS), inv = 127.0f / gamma, s = gamma / 127.0f;
        for (int k = 0; k < K; k++) et[k] = fminf(fmaxf(rintf(xt[k] * inv), -127.0f), 127.0f) * s;
      }
    }
  }
}

static void rmsnorm_forward_ref(float *y, float *rstd, const float *x, const float *w, int T,
                                int C, float eps) {
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

static double sum_squares_ref(const float *x, size_t n) {
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static)
  for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

static const fl_kernels REF = {"scalar",          gemm_ref,       ternary_matmul_ref,
                               quant_act_ref,     fake_quant_act_ref, rmsnorm_forward_ref,
                               adamw_ref,         sum_squares_ref};

const fl_kernels *fl_kernels_ref(void) { return &REF; }

/* ---- weight quantisation and packing ---- */
int fl_ternary_kpad(int K) { return (K + 127) / 128 * 128; }

size_t fl_ternary_packed_bytes(int N, int K) { return (size_t)N * (fl_ternary_kpad(K) / 4); }

float fl_ternary_scale(const float *W, size_t n) {
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static)
  for (size_t i = 0; i < n; i++) s += fabs((double)W[i]);
  float mean = (float)(s / (double)n);
  return fmaxf(mean, FL_QUANT_EPS);
}

void fl_ternary_pack(uint8_t *w, float *weff, const float *W, float s, int N, int K) {
  int Kp = fl_ternary_kpad(K);
  size_t rb = (size_t)Kp / 4;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    uint8_t *wr = w + (size_t)n * rb;
    memset(wr, 0x55, rb); /* code 1 (zero weight) in all four 2-bit slots */
    for (int k = 0; k < K; k++) {
      float r = fminf(fmaxf(rintf(W[(size_t)n * K + k] / s), -1.0f), 1.0f);
      int code = (int)r + 1, shift = 2 * ((k % 128) / 32);
      uint8_t *b = &wr[(k / 128) * 32 + (k % 32)];
      *b = (uint8_t)((*b & ~(3 << shift)) | (code << shift));
      if (weff) weff[(size_t)n * K + k] = r * s;
    }
  }
}

void fl_ternary_unpack(int8_t *wq, const uint8_t *w, int N, int K) {
  int Kp = fl_ternary_kpad(K);
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++) {
      const uint8_t *wr = w + (size_t)n * (Kp / 4);
      wq[(size_t)n * K + k] = (int8_t)(((wr[(k / 128) * 32 + (k % 32)] >> (2 * ((k % 128) / 32))) & 3) - 1);
    }
}
