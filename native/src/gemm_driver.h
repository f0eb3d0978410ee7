/* The fp32 GEMM driver shared by the SIMD files (included, not compiled alone): C (M,N) =
 * alpha op(A) op(B) + beta C, row-major (see flashlm.h). The including file defines the
 * register tile kernel_6x16 (6 rows x 16 columns), pack_b_panel and FL_GEMM_ENTRY, the name of
 * the entry point; this file has the blocking, packing of A^T and the parallel loops.
 *
 * op(B) is packed per KC slice of K into 16-wide column panels (kc x 16 contiguous, 16 KB: stays
 * in L1 while 16 row tiles use it). op(A) = A is read in place (six sequential row streams;
 * packing it measured slower), op(A) = A^T is packed into 6-wide row panels. Which loop runs in parallel depends on the shape:
 *  - rows: many rows (the forward x W^T and dx = dy W, M = tokens): B panels packed once per
 *    slice by all threads, then (MC rows x JG columns) blocks in parallel;
 *  - wide: a B slice too big for the cache (the head, N = vocab): each thread owns column
 *    groups, packs each group into its own buffer and runs row blocks against it, both in L2;
 *  - K split: K much larger than M and N (dW = dy^T x over tokens, the head's dx over the
 *    vocabulary): each thread runs the serial algorithm on its share of K into a private
 *    partial C, then the partials are added in thread order (deterministic for a thread count);
 *  - serial: one thread.
 * Every C element sums its products in the same k order within a slice, so results do not
 * depend on the path except through the K split's partial sums. */
#ifndef FLASHLM_GEMM_DRIVER_H
#define FLASHLM_GEMM_DRIVER_H

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

/* The tile (MR x NR) is the includer's kernel_6x16; KC, MC, JG block for L1/L2. */
enum { MR = 6, NR = 16, KC = FL_GEMM_KC, MC = 96, JG = 256 };
/* floats of one packed B slice above which the wide path runs (8 MB: beyond a core's cache) */
enum { WIDE_B = 1 << 21 };
/* the wide path's column group (its packed slice, KC x WJG, 128 KB), run against row blocks of
 * MC rows (MC x KC of A, 96 KB): both stay in a 512 KB L2 while the group's 8 panels take turns
 * in L1. Measured at the head's shape (512 x 32000 x 512): groups of 256 against all rows ran at
 * 0.74-0.97x OpenBLAS, 128 against blocks of 96 at 1.01-1.10x. */
enum { WJG = 128 };
/* the K split runs for K >= KSPLIT_K and K >= KSPLIT_RATIO * max(M, N) */
enum { KSPLIT_K = 1024, KSPLIT_RATIO = 2 };

static void pack_b_panel(float *dst, int tb, const float *B, int ldb, int pc, int kc, int j, int w);
static void kernel_6x16(int kc, const float *a, size_t rs, size_t ks, const float *b, float *C,
                        int ldc, float alpha, int m, int n, int load_c);

/* Ap[p][k][6] = A^T(i0+6p+ii, pc+k) = A[(pc+k)*lda + i0+6p+ii], zero-padded past mc. */
static void pack_at(float *Ap, const float *A, int lda, int i0, int mc, int pc, int kc) {
  for (int p = 0; p < (mc + MR - 1) / MR; p++) {
    float *dst = Ap + (size_t)p * kc * MR;
    int i = i0 + p * MR, h = mc - p * MR < MR ? mc - p * MR : MR;
    if (h == MR) /* a fixed-size copy: the compiler moves the 6 floats in two or three moves */
      for (int k = 0; k < kc; k++)
        memcpy(dst + k * MR, A + (size_t)(pc + k) * lda + i, sizeof(float) * MR);
    else
      for (int k = 0; k < kc; k++) {
        const float *src = A + (size_t)(pc + k) * lda + i;
        for (int ii = 0; ii < MR; ii++) dst[k * MR + ii] = ii < h ? src[ii] : 0.0f;
      }
  }
}

/* Rows [i0, i0+mc) x columns [j0, j1) of one KC slice (at pc) against packed panels Bp whose
 * first panel is column j0; C is added to (load_c) or overwritten (the first slice of a product
 * with beta 0: no separate zeroing pass). For op(A) = A^T the rows are first packed into Ap. */
static void run_block(int ta, int kc, int pc, const float *A, int lda, float *Ap, int i0, int mc,
                      const float *Bp, int j0, int j1, float *C, int ldc, float alpha, int load_c) {
  if (ta) pack_at(Ap, A, lda, i0, mc, pc, kc);
  for (int j = j0; j < j1; j += NR) {
    const float *bp = Bp + (size_t)((j - j0) / NR) * kc * NR;
    int n = j1 - j < NR ? j1 - j : NR;
    for (int i = 0; i < mc; i += MR) {
      int m = mc - i < MR ? mc - i : MR;
      float *c = C + (size_t)(i0 + i) * ldc + j;
      if (ta)
        kernel_6x16(kc, Ap + (size_t)i * kc, 1, MR, bp, c, ldc, alpha, m, n, load_c);
      else
        kernel_6x16(kc, A + (size_t)(i0 + i) * lda + pc, lda, 1, bp, c, ldc, alpha, m, n, load_c);
    }
  }
}

/* The whole product for k in [k0, k1) on the calling thread, with its own buffers; ow: C is
 * overwritten by the first slice. */
static void gemm_serial(int ta, int tb, int M, int N, int k0, int k1, float alpha, const float *A,
                        int lda, const float *B, int ldb, float *C, int ldc, float *Bp, float *Ap,
                        int ow) {
  for (int pc = k0; pc < k1; pc += KC) {
    int kc = k1 - pc < KC ? k1 - pc : KC;
    for (int j = 0; j < N; j += NR)
      pack_b_panel(Bp + (size_t)(j / NR) * kc * NR, tb, B, ldb, pc, kc, j, N - j < NR ? N - j : NR);
    for (int i0 = 0; i0 < M; i0 += MC)
      run_block(ta, kc, pc, A, lda, Ap, i0, M - i0 < MC ? M - i0 : MC, Bp, 0, N, C, ldc, alpha,
                !(ow && pc == k0));
  }
}

/* Packing space of the calling thread, kept between calls (a GEMM runs thousands of times per
 * step; fresh large allocations would page-fault every time). Grows, never shrinks. */
static _Thread_local float *pack_space;
static _Thread_local size_t pack_floats;

static float *packing(size_t floats) {
  if (floats > pack_floats) {
    free(pack_space);
    pack_space = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    pack_floats = pack_space ? floats : 0;
  }
  return pack_space;
}

static void scale_c(float *C, int ldc, int M, int N, float beta) {
  if (beta == 1.0f) return;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < M; i++) {
    float *c = C + (size_t)i * ldc;
    if (beta == 0.0f)
      memset(c, 0, sizeof(float) * N);
    else
      for (int j = 0; j < N; j++) c[j] *= beta;
  }
}

static size_t panel_floats(int N) { return (size_t)(N + NR - 1) / NR * NR * KC; }

static void gemm_rows(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float *C, int ldc, float *space, int nt, int ow) {
  size_t bp = panel_floats(N);
  int nib = (M + MC - 1) / MC, njg = (N + JG - 1) / JG;
#pragma omp parallel num_threads(nt)
  {
    float *Ap = space + bp + (size_t)omp_get_thread_num() * MC * KC;
    for (int pc = 0; pc < K; pc += KC) {
      int kc = K - pc < KC ? K - pc : KC;
#pragma omp for schedule(static)
      for (int j = 0; j < N; j += NR)
        pack_b_panel(space + (size_t)(j / NR) * kc * NR, tb, B, ldb, pc, kc, j,
                     N - j < NR ? N - j : NR);
#pragma omp for schedule(static)
      for (int task = 0; task < nib * njg; task++) {
        int ib = task / njg, jg = task % njg, i0 = ib * MC, j0 = jg * JG;
        run_block(ta, kc, pc, A, lda, Ap, i0, M - i0 < MC ? M - i0 : MC,
                  space + (size_t)(j0 / NR) * kc * NR, j0, N - j0 < JG ? N : j0 + JG, C, ldc, alpha,
                  !(ow && pc == 0));
      }
    }
  }
}

static void gemm_wide(int tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float *C, int ldc, float *space, int nt, int ow) {
  int njg = (N + WJG - 1) / WJG;
#pragma omp parallel num_threads(nt)
  {
    float *Bg = space + (size_t)omp_get_thread_num() * KC * WJG;
#pragma omp for schedule(dynamic, 1)
    for (int jg = 0; jg < njg; jg++) {
      int j0 = jg * WJG, j1 = N - j0 < WJG ? N : j0 + WJG;
      for (int pc = 0; pc < K; pc += KC) {
        int kc = K - pc < KC ? K - pc : KC;
        for (int j = j0; j < j1; j += NR)
          pack_b_panel(Bg + (size_t)((j - j0) / NR) * kc * NR, tb, B, ldb, pc, kc, j,
                       N - j < NR ? N - j : NR);
        for (int i0 = 0; i0 < M; i0 += MC)
          run_block(0, kc, pc, A, lda, NULL, i0, M - i0 < MC ? M - i0 : MC, Bg, j0, j1, C, ldc,
                    alpha, !(ow && pc == 0));
      }
    }
  }
}

/* Thread t takes K range [K*t/nt, K*(t+1)/nt) rounded to KC; thread 0 adds into C, the others
 * into zeroed partials (M, N) that are then added to C in thread order. */
static void gemm_ksplit(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float *C, int ldc, float *space, int nt, int ow) {
  size_t per = panel_floats(N) + (size_t)MC * KC, part = (size_t)M * N;
  float *parts = space + (size_t)nt * per;
  int slices = (K + KC - 1) / KC;
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    int k0 = (int)((long)slices * t / nt) * KC, k1 = (int)((long)slices * (t + 1) / nt) * KC;
    k1 = k1 < K ? k1 : K;
    float *Bp = space + (size_t)t * per, *Ap = Bp + panel_floats(N);
    float *Ct = t == 0 ? C : parts + (size_t)(t - 1) * part;
    int ldt = t == 0 ? ldc : N;
    if (k0 < k1)
      gemm_serial(ta, tb, M, N, k0, k1, alpha, A, lda, B, ldb, Ct, ldt, Bp, Ap, t > 0 || ow);
    else if (t > 0)
      memset(Ct, 0, part * sizeof(float));
    else if (ow)
      scale_c(C, ldc, M, N, 0.0f); /* more threads than slices: thread 0 had none */
#pragma omp barrier
#pragma omp for schedule(static)
    for (int i = 0; i < M; i++) {
      float *c = C + (size_t)i * ldc;
      for (int u = 0; u < nt - 1; u++) {
        const float *p = parts + (size_t)u * part + (size_t)i * N;
        for (int j = 0; j < N; j++) c[j] += p[j];
      }
    }
  }
}

void FL_GEMM_ENTRY(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(C, ldc, M, N, beta);
    return;
  }
  /* inside a parallel region only if nesting is on (the model's GEMM pairs): a team of its own */
  int nt = omp_get_active_level() < omp_get_max_active_levels() ? omp_get_max_threads() : 1;
  int big = M > N ? M : N;
  size_t bp = panel_floats(N), per = bp + (size_t)MC * KC, part = (size_t)M * N;
  int wide = !ta && bp > WIDE_B;
  int ksplit =
      !wide && nt > 1 && K >= KSPLIT_K && K >= KSPLIT_RATIO * big && part <= ((size_t)1 << 24);
  size_t need = wide      ? (size_t)nt * KC * WJG
                : nt == 1 ? per
                : ksplit  ? nt * per + (nt - 1) * part
                          : bp + (size_t)nt * MC * KC;
  float *space = packing(need);
  if (!space) { /* a kernel cannot fail: the reference needs no memory */
    fl_kernels_ref()->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int ow = beta == 0.0f; /* the first slice overwrites C */
  if (!ow) scale_c(C, ldc, M, N, beta);
  if (wide)
    gemm_wide(tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, space, nt, ow);
  else if (nt == 1)
    gemm_serial(ta, tb, M, N, 0, K, alpha, A, lda, B, ldb, C, ldc, space, space + bp, ow);
  else if (ksplit)
    gemm_ksplit(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, space, nt, ow);
  else
    gemm_rows(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, space, nt, ow);
}

#endif
