/* AVX2 + FMA kernels (src/x86 alone is compiled with -march=x86-64-v3): ternary x
 * int8, activation quantisation, RMSNorm, optimizers, reductions, and the AVX2 table. Twins of
 * src/ref; the GEMM is in gemm_avx2.c, the layers (RoPE, attention, SwiGLU, cross-entropy) in
 * layers_avx2.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "avx2.h"
#include "flashlm.h"
#include "internal.h"

/* ================= ternary x int8 =========================================================
 * Codes c = w+1 in {0,1,2} are unsigned, so maddubs(c, q) sums c*q without sign tricks and
 * sum(w*q) = sum(c*q) - sum(q). Four maddubs (each |.| <= 2*2*127) add safely in int16 before
 * one madd widens to int32. A weight block (32 bytes = 128 weights) is unpacked once and used
 * for 4 token rows; of the last block only the runs below Kp are used. */
static inline __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
  __m256i s = _mm256_hadd_epi32(ab, cd); /* per 128-bit lane: a b c d partial sums */
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

static inline int32_t hsum1(__m256i a) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(s);
}

/* p += sum over `runs` runs of 32 of codes w[r] times x (int8), in int16 lanes. */
static inline __attribute__((always_inline)) __m256i tdot(__m256i p, const __m256i w[4],
                                                          const int8_t *x, int runs) {
  for (int r = 0; r < runs; r++)
    p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[r], _mm256_loadu_si256((const __m256i *)(x + 32 * r))));
  return p;
}

/* The 4 runs of 32 codes of one 32-byte block. */
static inline __attribute__((always_inline)) void unpack(__m256i w[4], const uint8_t *blk) {
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256i v = _mm256_loadu_si256((const __m256i *)blk);
  w[0] = _mm256_and_si256(v, m3);
  w[1] = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
  w[2] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
  w[3] = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
}

/* R (4 or 1) token rows from q0 (row stride Kp) against the weight row wr: the full blocks,
 * then the tail block's runs below Kp. A maddubs lane is at most 2*2*127 = 508 in magnitude, so
 * int16 lanes hold the sum of 64 runs (16 blocks) before they are widened into acc. */
static inline __attribute__((always_inline)) void trows(__m256i acc[4], const int8_t *q0, int Kp,
                                                        const uint8_t *wr, int nfull, int tail,
                                                        int R) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i w[4], p[4];
  for (int r = 0; r < R; r++) acc[r] = p[r] = _mm256_setzero_si256();
  for (int b = 0; b < nfull; b++) {
    unpack(w, wr + b * 32);
    for (int r = 0; r < R; r++) p[r] = tdot(p[r], w, q0 + (size_t)r * Kp + b * 128, 4);
    if ((b & 15) == 15)
      for (int r = 0; r < R; r++)
        acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(p[r], ones)), p[r] = _mm256_setzero_si256();
  }
  if (tail) {
    unpack(w, wr + nfull * 32);
    for (int r = 0; r < R; r++) {
      const int8_t *x = q0 + (size_t)r * Kp + nfull * 128;
      p[r] = tail == 1 ? tdot(p[r], w, x, 1) : tail == 2 ? tdot(p[r], w, x, 2) : tdot(p[r], w, x, 3);
    }
  }
  for (int r = 0; r < R; r++) acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(p[r], ones));
}

/* 8 token rows, for Kp <= 2048 (64 runs: the int16 lanes never need widening before the end):
 * one unpacked weight block serves 8 rows. acc[r] gets the int32 lanes of row r. */
static inline __attribute__((always_inline)) void trows8(__m256i acc[8], const int8_t *q0, int Kp,
                                                         const uint8_t *wr, int nfull, int tail) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i w[4], p[8];
  for (int r = 0; r < 8; r++) p[r] = _mm256_setzero_si256();
  for (int b = 0; b < nfull; b++) {
    unpack(w, wr + b * 32);
    for (int r = 0; r < 8; r++) p[r] = tdot(p[r], w, q0 + (size_t)r * Kp + b * 128, 4);
  }
  if (tail) {
    unpack(w, wr + nfull * 32);
    for (int r = 0; r < 8; r++) {
      const int8_t *x = q0 + (size_t)r * Kp + nfull * 128;
      p[r] = tail == 1 ? tdot(p[r], w, x, 1) : tail == 2 ? tdot(p[r], w, x, 2) : tdot(p[r], w, x, 3);
    }
  }
  for (int r = 0; r < 8; r++) acc[r] = _mm256_madd_epi16(p[r], ones);
}

/* f[j] holds 4 token rows of output j (< nn): rows of y (stride ldy) get them transposed. */
static inline __attribute__((always_inline)) void store_tile(float *y, int ldy, __m128 f[8], int nn) {
  if (nn == 8) {
    _MM_TRANSPOSE4_PS(f[0], f[1], f[2], f[3]);
    _MM_TRANSPOSE4_PS(f[4], f[5], f[6], f[7]);
    for (int u = 0; u < 4; u++) {
      _mm_storeu_ps(y + (size_t)u * ldy, f[u]);
      _mm_storeu_ps(y + (size_t)u * ldy + 4, f[4 + u]);
    }
    return;
  }
  for (int j = 0; j < nn; j++) {
    float v[4];
    _mm_storeu_ps(v, f[j]);
    for (int u = 0; u < 4; u++) y[(size_t)u * ldy + j] = v[u];
  }
}

/* Token blocks of 16 in parallel; per block, outputs in groups of 8 and tokens in groups of 8
 * (Kp <= 2048) or 4: the token sums of 8 outputs are finished as vectors (minus sum(q), times
 * the scales) and transposed so that each token row gets 8 contiguous outputs. */
static void ternary_matmul_avx2(float *y, int ldy, const int8_t *q, const float *xscale,
                                const uint8_t *w, float wscale, int T, int N, int K) {
  const int Kp = fl_ternary_kpad(K), rb = fl_ternary_row_bytes(K), TB = 16;
  const int nfull = Kp / 128, tail = (Kp % 128) / 32;
  const __m256i ones = _mm256_set1_epi16(1);
#pragma omp parallel for schedule(static)
  for (int t0 = 0; t0 < T; t0 += TB) {
    int tn = T - t0 < TB ? T - t0 : TB;
    int32_t xsum[16];
    float sc[16];
    for (int t = 0; t < tn; t++) { /* sum(q) of each row, for the -1 offset of the codes */
      const int8_t *qt = q + (size_t)(t0 + t) * Kp;
      __m256i s = _mm256_setzero_si256();
      for (int k = 0; k < Kp; k += 32)
        s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1),
                                _mm256_loadu_si256((const __m256i *)(qt + k))), ones));
      xsum[t] = hsum1(s);
      sc[t] = wscale * xscale[t0 + t];
    }
    for (int n0 = 0; n0 < N; n0 += 8) {
      int nn = N - n0 < 8 ? N - n0 : 8, t = 0;
      __m256i acc[4];
      for (; Kp <= 2048 && t + 8 <= tn; t += 8) {
        __m128i xs0 = _mm_loadu_si128((const __m128i *)(xsum + t));
        __m128i xs1 = _mm_loadu_si128((const __m128i *)(xsum + t + 4));
        __m128 sv0 = _mm_loadu_ps(sc + t), sv1 = _mm_loadu_ps(sc + t + 4), f[8], g[8];
        __m256i a8[8];
        for (int j = 0; j < nn; j++) {
          trows8(a8, q + (size_t)(t0 + t) * Kp, Kp, w + (size_t)(n0 + j) * rb, nfull, tail);
          f[j] = _mm_mul_ps(_mm_cvtepi32_ps(_mm_sub_epi32(hsum4(a8[0], a8[1], a8[2], a8[3]), xs0)), sv0);
          g[j] = _mm_mul_ps(_mm_cvtepi32_ps(_mm_sub_epi32(hsum4(a8[4], a8[5], a8[6], a8[7]), xs1)), sv1);
        }
        store_tile(y + (size_t)(t0 + t) * ldy + n0, ldy, f, nn);
        store_tile(y + (size_t)(t0 + t + 4) * ldy + n0, ldy, g, nn);
      }
      for (; t + 4 <= tn; t += 4) {
        __m128i xs = _mm_loadu_si128((const __m128i *)(xsum + t));
        __m128 sv = _mm_loadu_ps(sc + t), f[8];
        for (int j = 0; j < nn; j++) {
          trows(acc, q + (size_t)(t0 + t) * Kp, Kp, w + (size_t)(n0 + j) * rb, nfull, tail, 4);
          f[j] = _mm_mul_ps(_mm_cvtepi32_ps(_mm_sub_epi32(hsum4(acc[0], acc[1], acc[2], acc[3]), xs)), sv);
        }
        store_tile(y + (size_t)(t0 + t) * ldy + n0, ldy, f, nn);
      }
      for (; t < tn; t++)
        for (int j = 0; j < nn; j++) {
          trows(acc, q + (size_t)(t0 + t) * Kp, Kp, w + (size_t)(n0 + j) * rb, nfull, tail, 1);
          y[(size_t)(t0 + t) * ldy + n0 + j] = (float)(hsum1(acc[0]) - xsum[t]) * sc[t];
        }
    }
  }
}

/* ================= activation quantisation =================================================== */
static float absmax_avx2(const float *x, int K) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= K; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
  float amax = fl_hmax256(m);
  for (; k < K; k++) amax = fmaxf(amax, fabsf(x[k]));
  return amax;
}

static inline __m256i round_clamp(const float *x, __m256 inv) {
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), inv),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
}

static void quant_act_avx2(int8_t *q, float *xscale, const float *x, int T, int K) {
  int Kp = fl_ternary_kpad(K);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float *xt = x + (size_t)t * K;
    int8_t *qt = q + (size_t)t * Kp;
    float gamma = fmaxf(absmax_avx2(xt, K), FL_QUANT_EPS), invs = 127.0f / gamma;
    __m256 inv = _mm256_set1_ps(invs);
    int k = 0;
    for (; k + 32 <= K; k += 32) {
      __m256i ab = _mm256_packs_epi32(round_clamp(xt + k, inv), round_clamp(xt + k + 8, inv));
      __m256i cd = _mm256_packs_epi32(round_clamp(xt + k + 16, inv), round_clamp(xt + k + 24, inv));
      __m256i r = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), perm);
      _mm256_storeu_si256((__m256i *)(qt + k), r);
    }
    for (; k < K; k++) qt[k] = (int8_t)fminf(fmaxf(rintf(xt[k] * invs), -127.0f), 127.0f);
    memset(qt + K, 0, Kp - K);
    xscale[t] = gamma / 127.0f;
  }
}

static void dequant_act_avx2(float *xeff, const int8_t *q, const float *xscale, int T, int K) {
  int Kp = fl_ternary_kpad(K);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const int8_t *qt = q + (size_t)t * Kp;
    float *et = xeff + (size_t)t * K, s = xscale[t];
    __m256 vs = _mm256_set1_ps(s);
    int k = 0;
    for (; k + 8 <= K; k += 8) {
      __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qt + k)));
      _mm256_storeu_ps(et + k, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vs));
    }
    for (; k < K; k++) et[k] = (float)qt[k] * s;
  }
}

/* ================= RMSNorm =================================================================== */
static inline double hsum_pd(__m256d a) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static double sumsq_row(const float *x, size_t n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    a0 = _mm256_fmadd_pd(lo, lo, a0);
    a1 = _mm256_fmadd_pd(hi, hi, a1);
  }
  double s = hsum_pd(_mm256_add_pd(a0, a1));
  for (; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

static void rmsnorm_forward_avx2(float *y, float *rstd, const float *x, const float *w, int T,
                                 int C, float eps) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float *xt = x + (size_t)t * C;
    float *yt = y + (size_t)t * C;
    float r = (float)(1.0 / sqrt(sumsq_row(xt, C) / C + eps));
    rstd[t] = r;
    __m256 vr = _mm256_set1_ps(r);
    int c = 0;
    for (; c + 8 <= C; c += 8)
      _mm256_storeu_ps(yt + c, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xt + c), vr),
                                             _mm256_loadu_ps(w + c)));
    for (; c < C; c++) yt[c] = xt[c] * r * w[c];
  }
}

static void rmsnorm_backward_avx2(float *dx, float *dw, const float *dy, const float *x,
                                  const float *w, const float *rstd, int T, int C,
                                  int accumulate) {
  enum { CB = 64 };
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int t = 0; t < T; t++) {
      const float *dyt = dy + (size_t)t * C, *xt = x + (size_t)t * C;
      float *dxt = dx + (size_t)t * C;
      float r = rstd[t];
      __m256 acc = _mm256_setzero_ps();
      int c = 0;
      for (; c + 8 <= C; c += 8)
        acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(dyt + c), _mm256_loadu_ps(w + c)),
                              _mm256_loadu_ps(xt + c), acc);
      float s = fl_hsum256(acc);
      for (; c < C; c++) s += dyt[c] * w[c] * xt[c];
      float kk = r * r * r * s / (float)C;
      __m256 vr = _mm256_set1_ps(r), vk = _mm256_set1_ps(-kk);
      for (c = 0; c + 8 <= C; c += 8) {
        __m256 v = _mm256_fmadd_ps(vk, _mm256_loadu_ps(xt + c),
                                   _mm256_mul_ps(_mm256_mul_ps(vr, _mm256_loadu_ps(w + c)),
                                                 _mm256_loadu_ps(dyt + c)));
        if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(dxt + c));
        _mm256_storeu_ps(dxt + c, v);
      }
      for (; c < C; c++) {
        float v = r * w[c] * dyt[c] - kk * xt[c];
        dxt[c] = accumulate ? dxt[c] + v : v;
      }
    }
    /* dw: column blocks, tokens in order within each (deterministic) */
#pragma omp for schedule(static)
    for (int c0 = 0; c0 < C; c0 += CB) {
      int c1 = c0 + CB < C ? c0 + CB : C;
      float acc[CB] __attribute__((aligned(32))) = {0};
      for (int t = 0; t < T; t++) {
        const float *dyt = dy + (size_t)t * C, *xt = x + (size_t)t * C;
        __m256 vr = _mm256_set1_ps(rstd[t]);
        int c = c0;
        for (; c + 8 <= c1; c += 8) {
          __m256 a = _mm256_load_ps(acc + c - c0);
          a = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(dyt + c), _mm256_loadu_ps(xt + c)), vr, a);
          _mm256_store_ps(acc + c - c0, a);
        }
        for (; c < c1; c++) acc[c - c0] += dyt[c] * xt[c] * rstd[t];
      }
      for (int c = c0; c < c1; c++) dw[c] += acc[c - c0];
    }
  }
}

/* ================= optimizers, reductions ==================================================== */
static void adamw_avx2(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                       float b2, float eps, float wd, int step) {
  float bc1 = (float)(1.0 - pow(b1, step)), bc2 = (float)(1.0 - pow(b2, step));
  float step_size = lr / bc1, bc2_sqrt = sqrtf(bc2), decay = 1.0f - lr * wd;
  const __m256 vb1 = _mm256_set1_ps(b1), vb1c = _mm256_set1_ps(1.0f - b1);
  const __m256 vb2 = _mm256_set1_ps(b2), vb2c = _mm256_set1_ps(1.0f - b2);
  const __m256 vbs = _mm256_set1_ps(bc2_sqrt), veps = _mm256_set1_ps(eps);
  const __m256 vdec = _mm256_set1_ps(decay), vss = _mm256_set1_ps(step_size);
  size_t n8 = n / 8 * 8;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n8; i += 8) {
    __m256 gi = _mm256_loadu_ps(g + i);
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vb1c, gi));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)),
                              _mm256_mul_ps(_mm256_mul_ps(vb2c, gi), gi));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), vbs), veps);
    __m256 pi = _mm256_mul_ps(_mm256_loadu_ps(p + i), vdec);
    _mm256_storeu_ps(p + i, _mm256_sub_ps(pi, _mm256_div_ps(_mm256_mul_ps(vss, mi), denom)));
  }
  if (n8 < n) fl_kernels_ref()->adamw(p + n8, g + n8, m + n8, v + n8, n - n8, lr, b1, b2, eps, wd, step);
}

static void sgd_momentum_avx2(float *p, const float *g, float *buf, size_t n, float lr, float mu,
                              float wd) {
  const __m256 vwd = _mm256_set1_ps(wd), vmu = _mm256_set1_ps(mu), vlr = _mm256_set1_ps(lr);
  size_t n8 = n / 8 * 8;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n8; i += 8) {
    __m256 pi = _mm256_loadu_ps(p + i);
    __m256 gi = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(vwd, pi));
    __m256 b = _mm256_add_ps(_mm256_mul_ps(vmu, _mm256_loadu_ps(buf + i)), gi);
    _mm256_storeu_ps(buf + i, b);
    _mm256_storeu_ps(p + i, _mm256_sub_ps(pi, _mm256_mul_ps(vlr, b)));
  }
  if (n8 < n) fl_kernels_ref()->sgd_momentum(p + n8, g + n8, buf + n8, n - n8, lr, mu, wd);
}

typedef struct {
  const float *x;
  size_t n;
} sumsq_blocks;

/* Blocks [b0, b1) of FL_SUM_BLOCK elements, each summed by sumsq_row. */
static double sumsq_block_range(const void *ctx, size_t b0, size_t b1) {
  const sumsq_blocks *c = ctx;
  double s = 0.0;
  for (size_t b = b0; b < b1; b++) {
    size_t i0 = b * FL_SUM_BLOCK, len = c->n - i0 < FL_SUM_BLOCK ? c->n - i0 : FL_SUM_BLOCK;
    s += sumsq_row(c->x + i0, len);
  }
  return s;
}

static double sum_squares_avx2(const float *x, size_t n) {
  sumsq_blocks c = {x, n};
  return fl_parallel_sum(sumsq_block_range, &c, (n + FL_SUM_BLOCK - 1) / FL_SUM_BLOCK);
}

static void scale_avx2(float *x, size_t n, float factor) {
  const __m256 f = _mm256_set1_ps(factor);
  size_t n8 = n / 8 * 8;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n8; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), f));
  for (size_t i = n8; i < n; i++) x[i] *= factor;
}

static const fl_kernels AVX2 = {
    .name = "avx2",
    .gemm = fl_gemm_avx2,
    .ternary_matmul = ternary_matmul_avx2,
    .quant_act = quant_act_avx2,
    .dequant_act = dequant_act_avx2,
    .rmsnorm_forward = rmsnorm_forward_avx2,
    .rmsnorm_backward = rmsnorm_backward_avx2,
    .rope = fl_rope_avx2,
    .attention_forward = fl_attention_forward_avx2,
    .attention_backward = fl_attention_backward_avx2,
    .swiglu_forward = fl_swiglu_forward_avx2,
    .swiglu_backward = fl_swiglu_backward_avx2,
    .crossentropy = fl_crossentropy_avx2,
    .adamw = adamw_avx2,
    .sgd_momentum = sgd_momentum_avx2,
    .sum_squares = sum_squares_avx2,
    .scale = scale_avx2,
};

const fl_kernels *fl_kernels_avx2(void) { return &AVX2; }
