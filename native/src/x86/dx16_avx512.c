/* The integer dX product with AVX-512 VNNI (vpdpwssd: 16 int32 lanes each += two int16
 * products), the twin of src/ref/dx16_ref.c bit for bit. Compiled with the AVX-512 flags
 * (Makefile) and run only where fl_dx16_vnni_usable() says the CPU has them, so the library
 * still loads and runs on AVX2-only CPUs. Tiles of 6 tokens x 4 panels of 16 columns: 24 zmm
 * accumulators, 4 sign-extended weight vectors and a broadcast pair of each token. */
#include <immintrin.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

enum { VR = 6, VNV = 4, VCHUNK = 24 };

/* Stores rows [0, m) of the accumulators c (VR x nv vectors) scaled by a[i] into dx. */
static inline __attribute__((always_inline)) void store_vnni(float *dx, int ldx, const float *a,
                                                             __m512i c[VR][VNV], int m, int nv,
                                                             int nlast, int add) {
  for (int i = 0; i < m; i++) {
    __m512 s = _mm512_set1_ps(a[i]), u = _mm512_set1_ps(FL_DX16_STEP);
    float *o = dx + (size_t)i * ldx;
    for (int v = 0; v < nv; v++) {
      __mmask16 k = v == nv - 1 ? (__mmask16)((1u << nlast) - 1) : (__mmask16)0xffff;
      __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c[i][v]), u), s);
      if (add) y = _mm512_add_ps(_mm512_maskz_loadu_ps(k, o + 16 * v), y);
      _mm512_mask_storeu_ps(o + 16 * v, k, y);
    }
  }
}

static inline int32_t pair_at(const int16_t *r, int p) {
  int32_t v;
  memcpy(&v, r + 2 * p, 4);
  return v;
}

/* The full tile: VR rows x 4 panels, accumulators in named registers (gcc keeps an array of
 * them on the stack). Rows past m re-read row m-1 and are discarded. */
static void tile_vnni4(float *dx, int ldx, const int16_t *q, int Kq, const float *a,
                       const int8_t *w, size_t bs, int P, int m, int nlast, int add) {
  const int16_t *r0 = q, *r1 = q + (size_t)(m > 1 ? 1 : m - 1) * Kq;
  const int16_t *r2 = q + (size_t)(m > 2 ? 2 : m - 1) * Kq,
                *r3 = q + (size_t)(m > 3 ? 3 : m - 1) * Kq;
  const int16_t *r4 = q + (size_t)(m > 4 ? 4 : m - 1) * Kq,
                *r5 = q + (size_t)(m > 5 ? 5 : m - 1) * Kq;
  const int8_t *w0 = w, *w1 = w + bs, *w2 = w + 2 * bs, *w3 = w + 3 * bs;
  __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  __m512i c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  __m512i c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  for (int p = 0; p < P; p++) {
    __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w0 + 32 * p)));
    __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w1 + 32 * p)));
    __m512i b2 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w2 + 32 * p)));
    __m512i b3 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w3 + 32 * p)));
    __m512i x;
#define VNNI_ROW(i)                              \
  x = _mm512_set1_epi32(pair_at(r##i, p));       \
  c##i##0 = _mm512_dpwssd_epi32(c##i##0, x, b0); \
  c##i##1 = _mm512_dpwssd_epi32(c##i##1, x, b1); \
  c##i##2 = _mm512_dpwssd_epi32(c##i##2, x, b2); \
  c##i##3 = _mm512_dpwssd_epi32(c##i##3, x, b3);
    VNNI_ROW(0) VNNI_ROW(1) VNNI_ROW(2) VNNI_ROW(3) VNNI_ROW(4) VNNI_ROW(5)
#undef VNNI_ROW
  }
  __m512i c[VR][VNV] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23},
                        {c30, c31, c32, c33}, {c40, c41, c42, c43}, {c50, c51, c52, c53}};
  store_vnni(dx, ldx, a, c, m, 4, nlast, add);
}

/* Fewer than 4 panels (the last columns when ceil(N/16) is not a multiple of 4). */
static void tile_vnni_part(float *dx, int ldx, const int16_t *q, int Kq, const float *a,
                           const int8_t *w, size_t bs, int P, int m, int nv, int nlast, int add) {
  __m512i c[VR][VNV];
  for (int i = 0; i < VR; i++)
    for (int v = 0; v < VNV; v++) c[i][v] = _mm512_setzero_si512();
  for (int i = 0; i < m; i++)
    for (int v = 0; v < nv; v++)
      for (int p = 0; p < P; p++)
        c[i][v] = _mm512_dpwssd_epi32(
            c[i][v], _mm512_set1_epi32(pair_at(q + (size_t)i * Kq, p)),
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + v * bs + 32 * p))));
  store_vnni(dx, ldx, a, c, m, nv, nlast, add);
}

void fl_dx16_matmul_vnni(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta) {
  int Kq = fl_dx16_kpad(K), P = Kq / 2, nb = (N + 15) / 16, add = beta != 0.0f;
  size_t bs = (size_t)P * 32;
  int chunks = (T + VCHUNK - 1) / VCHUNK;
#pragma omp parallel for schedule(static)
  for (int ch = 0; ch < chunks; ch++) {
    int t0 = ch * VCHUNK, t1 = T - t0 < VCHUNK ? T : t0 + VCHUNK;
    for (int jb = 0; jb < nb; jb += VNV) {
      int nv = nb - jb < VNV ? nb - jb : VNV, nlast = N - 16 * (jb + nv - 1);
      nlast = nlast < 16 ? nlast : 16;
      const int8_t *w = panel + jb * bs;
      for (int t = t0; t < t1; t += VR) {
        float *o = dx + (size_t)t * ldx + 16 * jb;
        const int16_t *qt = q + (size_t)t * Kq;
        int m = t1 - t < VR ? t1 - t : VR;
        if (nv == 4)
          tile_vnni4(o, ldx, qt, Kq, a + t, w, bs, P, m, nlast, add);
        else
          tile_vnni_part(o, ldx, qt, Kq, a + t, w, bs, P, m, nv, nlast, add);
      }
    }
  }
}
