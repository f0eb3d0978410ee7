/* The integer dX and dW of ternary linears (flashlm.h, "integer dX", "integer dW"): the panels,
 * the int16 quantisations of dy (per token for dX, per output over a block of tokens for dW) and
 * the exact integer product, in plain C. The SIMD twins must give these bits exactly (the sums
 * are integers; the quantisation is the same IEEE operations). */
#include <math.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

int fl_dx16_kpad(int K) { return (K + 1) / 2 * 2; }

size_t fl_dx16_panel_bytes(int K, int N) {
  return (size_t)32 * ((N + 15) / 16) * (size_t)(fl_dx16_kpad(K) / 2);
}

void fl_dx16_panel(int8_t *panel, const float *weff, int K, int N) {
  int P = fl_dx16_kpad(K) / 2, nb = (N + 15) / 16;
#pragma omp parallel for schedule(static)
  for (int jb = 0; jb < nb; jb++)
    for (int p = 0; p < P; p++) {
      int8_t *dst = panel + ((size_t)jb * P + p) * 32;
      for (int c = 0; c < 16; c++)
        for (int e = 0; e < 2; e++) {
          int k = 2 * p + e, j = 16 * jb + c;
          float w = k < K && j < N ? weff[(size_t)k * N + j] : 0.0f;
          dst[2 * c + e] = (int8_t)((w > 0.0f) - (w < 0.0f));
        }
    }
}

void fl_dw16_panel(int8_t *panel, const int8_t *x, int ldx, int T, int N) {
  int P = fl_dx16_kpad(T) / 2, nb = (N + 15) / 16;
#pragma omp parallel for schedule(static)
  for (int jb = 0; jb < nb; jb++)
    for (int p = 0; p < P; p++) {
      int8_t *dst = panel + ((size_t)jb * P + p) * 32;
      int n = N - 16 * jb < 16 ? N - 16 * jb : 16;
      const int8_t *r0 = x + (size_t)(2 * p) * ldx + 16 * jb, *r1 = r0 + ldx;
      if (n == 16 && 2 * p + 1 < T) { /* the common case, in a form compilers vectorise */
        for (int c = 0; c < 16; c++) dst[2 * c] = r0[c], dst[2 * c + 1] = r1[c];
        continue;
      }
      for (int c = 0; c < 16; c++) {
        dst[2 * c] = c < n ? r0[c] : 0;
        dst[2 * c + 1] = c < n && 2 * p + 1 < T ? r1[c] : 0;
      }
    }
}

/* rint for |x| < 2^51 without a library call (baseline x86-64 has no rounding instruction):
 * adding 1.5 * 2^52 leaves no fraction bits, so the add rounds half to even. */
static inline int32_t round_even(double x) { return (int32_t)((x + 0x1.8p52) - 0x1.8p52); }

/* The same in float for |x| < 2^22. */
static inline int32_t round_even_f(float x) { return (int32_t)((x + 0x1.8p23f) - 0x1.8p23f); }

/* The rule of flashlm.h for n values v_i = d[i * stride] * cs[i] whose largest |v| has the bits
 * mb: q (nq values, zeros past n) and the scale *a; the integer dX quantises a token's row, the
 * integer dW a column of dy over a block of tokens. */
static void quant_values(int16_t *q, int nq, float *a, const float *d, size_t stride,
                         const float *cs, int n, uint32_t mb) {
  if (fl_dx16_degenerate_row(q, nq, a, mb)) return;
  float m;
  memcpy(&m, &mb, 4);
  double inv = 32767.0 / m;
  float finv = (float)inv;
  if (mb >= FL_DX16_FLOAT_MIN)
    for (int i = 0; i < n; i++) q[i] = (int16_t)round_even_f(d[i * stride] * cs[i] * finv);
  else
    for (int i = 0; i < n; i++) q[i] = (int16_t)round_even((double)(d[i * stride] * cs[i]) * inv);
  for (int i = n; i < nq; i++) q[i] = 0;
  *a = m;
}

void fl_dx16_quant_ref(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                       int K) {
  int Kq = fl_dx16_kpad(K);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float *d = dy + (size_t)t * ldy;
    quant_values(q + (size_t)t * Kq, Kq, a + t, d, 1, cs, K, fl_dx16_absmax_bits(d, cs, 0, K, 0));
  }
}

void fl_dx16_matmul_ref(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                        int T, int N, int K, float beta) {
  int Kq = fl_dx16_kpad(K), P = Kq / 2;
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const int16_t *qt = q + (size_t)t * Kq;
    for (int j = 0; j < N; j++) {
      const int8_t *w = panel + (size_t)(j / 16) * P * 32 + 2 * (j % 16);
      int32_t acc = 0;
      for (int p = 0; p < P; p++) acc += qt[2 * p] * w[32 * p] + qt[2 * p + 1] * w[32 * p + 1];
      float y = (float)acc * FL_DX16_STEP * a[t], *o = dx + (size_t)t * ldx + j;
      *o = beta == 0.0f ? y : *o + y;
    }
  }
}

/* Row k of q: the column dy[:,k] * cs[:] quantised as fl_dx16_quant_ref quantises a token's row
 * (quant_values). The absmaxes of a block of 64 columns come from one pass along dy's rows;
 * blocks in parallel. */
void fl_dw16_quant_ref(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                       int K) {
  int Tq = fl_dx16_kpad(T), nb = (K + 63) / 64;
#pragma omp parallel for schedule(static)
  for (int b = 0; b < nb; b++) {
    int k0 = 64 * b, k1 = K - k0 < 64 ? K : k0 + 64;
    uint32_t mb[64] = {0};
    for (int t = 0; t < T; t++)
      for (int k = k0; k < k1; k++)
        mb[k - k0] = fl_dx16_absmax_bits(dy + (size_t)t * ldy + k, cs + t, 0, 1, mb[k - k0]);
    for (int k = k0; k < k1; k++)
      quant_values(q + (size_t)k * Tq, Tq, a + k, dy + k, (size_t)ldy, cs, T, mb[k - k0]);
  }
}
