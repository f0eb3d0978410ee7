/* fp32 GEMM, AVX2 + FMA: the 6x16 register tile (12 ymm accumulators; per k, 2 loads of B and
 * 6 broadcasts of A feed 12 FMAs) and B packing through 8x8 register transposes, under the
 * shared driver (src/gemm_driver.h: blocking, threads, paths). */
#include <immintrin.h>

#include "avx2.h"

#define FL_GEMM_ENTRY fl_gemm_avx2
#include "gemm_driver.h"

/* One panel: dst[k][jj] = op(B)(pc+k, j+jj) for jj < w, 0 past w; k < kc. For op(B) = B^T
 * (rows of B are columns of op(B)) full 8x8 blocks are transposed in registers. */
static void pack_b_panel(float *dst, int tb, const float *B, int ldb, int pc, int kc, int j,
                         int w) {
  int k = 0;
  if (!tb) {
    for (; k < kc; k++) {
      const float *src = B + (size_t)(pc + k) * ldb + j;
      if (w == NR) {
        _mm256_store_ps(dst + k * NR, _mm256_loadu_ps(src));
        _mm256_store_ps(dst + k * NR + 8, _mm256_loadu_ps(src + 8));
      } else {
        for (int jj = 0; jj < NR; jj++) dst[k * NR + jj] = jj < w ? src[jj] : 0.0f;
      }
    }
    return;
  }
  if (w == NR) {
    for (; k + 8 <= kc; k += 8)
      for (int h = 0; h < 2; h++) {
        __m256 r[8];
        for (int i = 0; i < 8; i++)
          r[i] = _mm256_loadu_ps(B + (size_t)(j + 8 * h + i) * ldb + pc + k);
        fl_transpose8(r);
        for (int i = 0; i < 8; i++) _mm256_store_ps(dst + (k + i) * NR + 8 * h, r[i]);
      }
  }
  for (int jj = 0; jj < NR; jj++) {
    const float *src = B + (size_t)(j + jj) * ldb + pc;
    for (int kk = k; kk < kc; kk++) dst[kk * NR + jj] = jj < w ? src[kk] : 0.0f;
  }
}

/* C (m<=6, n<=16) += alpha * a (m,kc) * Bp (kc,16): element (r, k) of a is at a[r*rs + k*ks]
 * (A in place: rs = lda, ks = 1; a packed A^T panel: rs = 1, ks = 6). Rows past m re-read row
 * m-1 and are discarded. */
static void kernel_6x16(int kc, const float *a, size_t rs, size_t ks, const float *b, float *C,
                        int ldc, float alpha, int m, int n, int load_c) {
  const float *a0 = a, *a1 = a + (m > 1 ? 1 : 0) * rs, *a2 = a + (m > 2 ? 2 : m - 1) * rs;
  const float *a3 = a + (m > 3 ? 3 : m - 1) * rs, *a4 = a + (m > 4 ? 4 : m - 1) * rs;
  const float *a5 = a + (m > 5 ? 5 : m - 1) * rs;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  size_t kk = 0;
  /* unrolled by 4: measured 67-73 -> 80-93 GFLOP/s for the tile alone in L1 (one core) */
  _Pragma("GCC unroll 4") for (int k = 0; k < kc; k++, kk += ks, b += NR) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), x;
    x = _mm256_broadcast_ss(a0 + kk);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a1 + kk);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a2 + kk);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a3 + kk);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a4 + kk);
    c40 = _mm256_fmadd_ps(x, b0, c40);
    c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a5 + kk);
    c50 = _mm256_fmadd_ps(x, b0, c50);
    c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  __m256 va = _mm256_set1_ps(alpha);
  if (m == MR && n == NR && load_c) {
    for (int i = 0; i < MR; i++) {
      float *c = C + (size_t)i * ldc;
      _mm256_storeu_ps(c, _mm256_fmadd_ps(va, acc[i][0], _mm256_loadu_ps(c)));
      _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(va, acc[i][1], _mm256_loadu_ps(c + 8)));
    }
  } else if (m == MR && n == NR) {
    for (int i = 0; i < MR; i++) {
      float *c = C + (size_t)i * ldc;
      _mm256_storeu_ps(c, _mm256_mul_ps(va, acc[i][0]));
      _mm256_storeu_ps(c + 8, _mm256_mul_ps(va, acc[i][1]));
    }
  } else {
    float tmp[MR][NR] __attribute__((aligned(32)));
    for (int i = 0; i < MR; i++) {
      _mm256_store_ps(tmp[i], acc[i][0]);
      _mm256_store_ps(tmp[i] + 8, acc[i][1]);
    }
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        C[(size_t)i * ldc + j] =
            load_c ? fmaf(alpha, tmp[i][j], C[(size_t)i * ldc + j]) : alpha * tmp[i][j];
  }
}
