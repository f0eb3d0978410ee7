/* The integer dX and dW (flashlm.h, "integer dX", "integer dW") with AVX2: the int16
 * quantisations (per token; per output over a block of tokens) and the product with vpmaddwd
 * (int16 pairs -> int32) + vpaddd, twins of src/ref/dx16_ref.c bit for bit.
 * The table's entry runs the AVX-512 VNNI product (dx16_avx512.c) where the CPU has it.
 * Compiled with -ffp-contract=off (Makefile): the beta-1 store rounds the product before the
 * add, as the reference does. */
#include <string.h>

#include "avx2.h"
#include "flashlm.h"
#include "internal.h"

int fl_dx16_vnni_usable(void) {
  static int usable = -1; /* racing first callers compute the same answer */
  if (usable < 0) {
    __builtin_cpu_init();
    usable = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return usable;
}

void fl_dx16_quant_avx2(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                        int K) {
  int Kq = fl_dx16_kpad(K), K8 = K / 8 * 8;
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float *d = dy + (size_t)t * ldy;
    int16_t *qt = q + (size_t)t * Kq;
    __m256i mv = _mm256_setzero_si256();
    for (int k = 0; k < K8; k += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(d + k), _mm256_loadu_ps(cs + k));
      mv = _mm256_max_epu32(mv, _mm256_and_si256(_mm256_castps_si256(v), absmask));
    }
    uint32_t lanes[8], mb = 0;
    _mm256_storeu_si256((__m256i *)lanes, mv);
    for (int i = 0; i < 8; i++) mb = lanes[i] > mb ? lanes[i] : mb;
    mb = fl_dx16_absmax_bits(d, cs, K8, K, mb);
    if (fl_dx16_degenerate_row(qt, Kq, a + t, mb)) continue;
    float m;
    memcpy(&m, &mb, 4);
    double inv = 32767.0 / m;
    float finv = (float)inv;
    if (mb >= FL_DX16_FLOAT_MIN) { /* q = rint(v * finv) in float, 16 at a time */
      const __m256 vf = _mm256_set1_ps(finv);
      int k = 0;
      for (; k + 16 <= K; k += 16) {
        __m256 v0 = _mm256_mul_ps(_mm256_loadu_ps(d + k), _mm256_loadu_ps(cs + k));
        __m256 v1 = _mm256_mul_ps(_mm256_loadu_ps(d + k + 8), _mm256_loadu_ps(cs + k + 8));
        __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vf));
        __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vf));
        /* packs interleaves the 128-bit lanes: put them back in order */
        __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xd8);
        _mm256_storeu_si256((__m256i *)(qt + k), p);
      }
      for (; k < K; k++) qt[k] = (int16_t)_mm_cvtss_si32(_mm_set_ss(d[k] * cs[k] * finv));
      for (k = K; k < Kq; k++) qt[k] = 0;
      a[t] = m;
      continue;
    }
    __m256d vi = _mm256_set1_pd(inv);
    for (int k = 0; k < K8; k += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(d + k), _mm256_loadu_ps(cs + k));
      __m128i lo =
          _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vi));
      __m128i hi =
          _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vi));
      _mm_storeu_si128((__m128i *)(qt + k), _mm_packs_epi32(lo, hi));
    }
    for (int k = K8; k < K; k++)
      qt[k] = (int16_t)_mm_cvtsd_si32(_mm_set_sd((double)(d[k] * cs[k]) * inv));
    for (int k = K; k < Kq; k++) qt[k] = 0;
    a[t] = m;
  }
}

/* Tokens per chunk (the unit of the parallel loop): each column panel (ceil(K/2) x 32 bytes)
 * is used by the chunk's tiles while it is in L1. */
enum { DXR = 4, DX_CHUNK = 24 };

/* dx rows [0, m) x 16 columns (n valid) of one panel from DXR rows of q: rows past m re-read
 * row m-1 and are discarded. */
static void tile_avx2(float *dx, int ldx, const int16_t *q, int Kq, const float *a, const int8_t *w,
                      int P, int m, int n, int add) {
  const int16_t *r[DXR];
  for (int i = 0; i < DXR; i++) r[i] = q + (size_t)(i < m ? i : m - 1) * Kq;
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
  __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < P; p++) {
    __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 32 * p)));
    __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 32 * p + 16)));
    __m256i x;
    int32_t pair;
#define MADD_ROW(i)                                              \
  memcpy(&pair, r[i] + 2 * p, 4);                                \
  x = _mm256_set1_epi32(pair);                                   \
  c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(x, w0)); \
  c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(x, w1));
    MADD_ROW(0) MADD_ROW(1) MADD_ROW(2) MADD_ROW(3)
#undef MADD_ROW
  }
  __m256i c[DXR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  for (int i = 0; i < m; i++) {
    __m256 s = _mm256_set1_ps(a[i]), u = _mm256_set1_ps(FL_DX16_STEP);
    __m256 y0 = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(c[i][0]), u), s);
    __m256 y1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(c[i][1]), u), s);
    float *o = dx + (size_t)i * ldx;
    if (n == 16) {
      if (add)
        y0 = _mm256_add_ps(_mm256_loadu_ps(o), y0), y1 = _mm256_add_ps(_mm256_loadu_ps(o + 8), y1);
      _mm256_storeu_ps(o, y0);
      _mm256_storeu_ps(o + 8, y1);
    } else {
      float tmp[16];
      _mm256_storeu_ps(tmp, y0);
      _mm256_storeu_ps(tmp + 8, y1);
      for (int j = 0; j < n; j++) o[j] = add ? o[j] + tmp[j] : tmp[j];
    }
  }
}

void fl_dx16_matmul_avx2(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta) {
  int Kq = fl_dx16_kpad(K), P = Kq / 2, nb = (N + 15) / 16, add = beta != 0.0f;
  int chunks = (T + DX_CHUNK - 1) / DX_CHUNK;
#pragma omp parallel for schedule(static)
  for (int ch = 0; ch < chunks; ch++) {
    int t0 = ch * DX_CHUNK, t1 = T - t0 < DX_CHUNK ? T : t0 + DX_CHUNK;
    for (int jb = 0; jb < nb; jb++) {
      const int8_t *w = panel + (size_t)jb * P * 32;
      int n = N - 16 * jb < 16 ? N - 16 * jb : 16;
      for (int t = t0; t < t1; t += DXR)
        tile_avx2(dx + (size_t)t * ldx + 16 * jb, ldx, q + (size_t)t * Kq, Kq, a + t, w, P,
                  t1 - t < DXR ? t1 - t : DXR, n, add);
    }
  }
}

/* The table's entry: the VNNI product where the CPU has it (same bits). */
void fl_dx16_matmul_best(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta) {
  if (fl_dx16_vnni_usable())
    fl_dx16_matmul_vnni(dx, ldx, q, a, panel, T, N, K, beta);
  else
    fl_dx16_matmul_avx2(dx, ldx, q, a, panel, T, N, K, beta);
}

/* The q of tokens t and t+1 (the second 0 when n < 2) of 8 columns, joined into 32-bit pairs
 * (the first in the low half): d points at token t's first column, cs at its scale. */
static inline __m256i dw16_pair(const float *d, int ldy, const float *cs, int n, __m256 vf,
                                __m256i low) {
  __m256i q0 = _mm256_cvtps_epi32(
      _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(d), _mm256_set1_ps(cs[0])), vf));
  __m256i q1 = _mm256_setzero_si256();
  if (n > 1)
    q1 = _mm256_cvtps_epi32(
        _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(d + ldy), _mm256_set1_ps(cs[1])), vf));
  return _mm256_or_si256(_mm256_and_si256(q0, low), _mm256_slli_epi32(q1, 16));
}

/* The integer dW's quantisation (fl_dw16_quant_ref's twin): 8 columns of dy at a time, their
 * absmaxes over the tokens, then per pair of tokens the two q of each column joined into one
 * 32-bit pair (the layout of a q row); 8 such pairs are transposed into 16 tokens of each of
 * the 8 rows (a token count short of 16 is stored pair by pair). Columns with a zero,
 * non-finite or tiny (below 2^-96, quantised in double) absmax, and the last K % 8, take the
 * reference's path. */
void fl_dw16_quant_avx2(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                        int K) {
  int Tq = fl_dx16_kpad(T), nb = K / 8;
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff), low = _mm256_set1_epi32(0xffff);
#pragma omp parallel for schedule(static)
  for (int b = 0; b < nb; b++) {
    int k0 = 8 * b;
    __m256i mv = _mm256_setzero_si256();
    for (int t = 0; t < T; t++) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(dy + (size_t)t * ldy + k0), _mm256_set1_ps(cs[t]));
      mv = _mm256_max_epu32(mv, _mm256_and_si256(_mm256_castps_si256(v), absmask));
    }
    uint32_t mb[8];
    _mm256_storeu_si256((__m256i *)mb, mv);
    int plain = 1;
    for (int j = 0; j < 8; j++) plain &= mb[j] >= FL_DX16_FLOAT_MIN && mb[j] < FL_DX16_NONFINITE;
    if (!plain) {
      fl_dw16_quant_ref(q + (size_t)k0 * Tq, a + k0, dy + k0, ldy, cs, T, 8);
      continue;
    }
    float finv[8];
    for (int j = 0; j < 8; j++) {
      memcpy(a + k0 + j, mb + j, 4);
      finv[j] = (float)(32767.0 / a[k0 + j]);
    }
    const __m256 vf = _mm256_loadu_ps(finv);
    int32_t *rows = (int32_t *)(q + (size_t)k0 * Tq), pairs[8];
    const size_t ld = (size_t)Tq / 2; /* int32 pairs per row of q */
    int t = 0;
    for (; t + 16 <= T; t += 16) { /* 8 pairs of tokens: an 8 x 8 transpose, 8 row stores */
      /* the pairs' bits, moved as floats */
      __m256 p[8];
      for (int i = 0; i < 8; i++)
        p[i] = _mm256_castsi256_ps(
            dw16_pair(dy + (size_t)(t + 2 * i) * ldy + k0, ldy, cs + t + 2 * i, 2, vf, low));
      fl_transpose8(p);
      for (int j = 0; j < 8; j++) _mm256_storeu_ps((float *)(rows + j * ld + t / 2), p[j]);
    }
    for (; t < T; t += 2) {
      _mm256_storeu_si256((__m256i *)pairs,
                          dw16_pair(dy + (size_t)t * ldy + k0, ldy, cs + t, T - t, vf, low));
      for (int j = 0; j < 8; j++) rows[j * ld + t / 2] = pairs[j];
    }
  }
  if (K % 8) fl_dw16_quant_ref(q + (size_t)nb * 8 * Tq, a + nb * 8, dy + nb * 8, ldy, cs, T, K % 8);
}
