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
 * An outer product over pairs of inputs, so no dot product needs a horizontal sum (at K = 192 a
 * dot product is only six 32-byte runs, and finishing it cost as much as computing it). The
 * weights are first unpacked into vectors of 16 outputs: for output vector v and input pair p,
 * 32 bytes hold the weights w in {-1,0,1} of outputs 16v..16v+15 for inputs 2p and 2p+1 (bytes
 * 2j and 2j+1 for output j). The token's inputs are offset to unsigned, x+128 in [1, 255], and
 * two of them broadcast; maddubs of that with a weight vector gives, per
 * output, (x0+128) w0 + (x1+128) w1 in an int16 lane, so the sum is sum(w x) + 128 sum(w), and
 * 128 sum(w) of each output is subtracted at the end. A lane adds at most 2*255 = 510 per pair,
 * so int16 lanes hold 64 pairs (128 inputs) before they are widened into int32. Tiles of 3
 * tokens x 3 output vectors (9 accumulators; tiles of 4 x 3 with the weights as memory operands
 * and of 6 x 2 measured 10-30% slower here). The integer sums are exact, so the result is the
 * reference's bit for bit. */
enum { TPAIRS = 64, TTOK = 3, TVEC = 3, TBLK = 18 };
/* bytes of unpacked weights per chunk of outputs (see ternary_matmul_avx2) */
#define TCHUNK ((size_t)256 << 10)

/* Scratch of the calling thread, kept between calls like the GEMM's packing space (grows,
 * never shrinks): the unpacked weights, their corrections, each thread's offset inputs. */
static _Thread_local uint8_t *tern_space;
static _Thread_local size_t tern_bytes;

static uint8_t *tern_scratch(size_t bytes) {
  if (bytes > tern_bytes) {
    free(tern_space);
    tern_space = aligned_alloc(64, (bytes + 63) / 64 * 64);
    tern_bytes = tern_space ? bytes : 0;
  }
  return tern_space;
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

/* Output vector v (outputs 16v.. < N) of the packed rows w into u (Kp/2 pairs of 32 bytes) and
 * corr[j] = 128 * sum(w) of its output j. Outputs past N get weight 0; they are never stored. */
static void unpack_vector(uint8_t *u, int32_t *corr, const uint8_t *w, int rb, int N, int Kp,
                          int v) {
  int8_t rows[16][1024] __attribute__((aligned(32))); /* 16 KB of stack */
  const __m256i one = _mm256_set1_epi8(1);
  int np = Kp / 2;
  for (int j = 0; j < 16; j++) corr[j] = 0;
  for (int p0 = 0; p0 < np; p0 += 512) { /* 1024 inputs of every row at a time */
    int pn = np - p0 < 512 ? np - p0 : 512;
    for (int j = 0; j < 16; j++) {
      int n = 16 * v + j;
      int8_t *dst = rows[j];
      if (n >= N) {
        memset(dst, 0, 2 * (size_t)pn);
        continue;
      }
      const uint8_t *wr = w + (size_t)n * rb + (size_t)p0 / 2;
      for (int k = 0; k < 2 * pn; k += 128, wr += 32) {
        __m256i c[4];
        unpack(c, wr);
        for (int r = 0; r < 4 && k + 32 * r < 2 * pn; r++)
          _mm256_store_si256((__m256i *)(dst + k + 32 * r), _mm256_sub_epi8(c[r], one));
      }
      int32_t s = 0;
      for (int k = 0; k < 2 * pn; k++) s += dst[k];
      corr[j] += 128 * s;
    }
    int8_t *out = (int8_t *)u + (size_t)p0 * 32;
    for (int p = 0; p < pn; p++)
      for (int j = 0; j < 16; j++) memcpy(out + (size_t)p * 32 + 2 * j, rows[j] + 2 * p, 2);
  }
}

/* The full tile's inner loop over n pairs: a[t][v] += maddubs(the pair of offset inputs of
 * token t broadcast, weight vector v). In assembly because the compiler keeps the accumulators
 * in memory across the loop (register pressure): here 9 accumulators, the 3 weight vectors
 * (each loaded once per pair for the 3 tokens), the broadcast and maddubs' result take 14
 * registers, and a pair takes 6 loads for 9 multiplies. */
static inline __attribute__((always_inline)) void pairs_3x3(__m256i a[TTOK][TVEC],
                                                            const uint8_t *wp, size_t vs,
                                                            const uint8_t *xp, int Kp, int n) {
  const uint8_t *wend = wp + (size_t)n * 32;
  size_t ld = (size_t)Kp;
#define MAC(acc, w)      "vpmaddubsw " w ", %%ymm12, %%ymm13\n vpaddw %%ymm13, " acc ", " acc "\n"
#define MAC3(a0, a1, a2) MAC(a0, "%%ymm9") MAC(a1, "%%ymm10") MAC(a2, "%%ymm11")
  __asm__ volatile(
      "vmovdqu 0(%[a]), %%ymm0\n vmovdqu 32(%[a]), %%ymm1\n vmovdqu 64(%[a]), %%ymm2\n"
      "vmovdqu 96(%[a]), %%ymm3\n vmovdqu 128(%[a]), %%ymm4\n vmovdqu 160(%[a]), %%ymm5\n"
      "vmovdqu 192(%[a]), %%ymm6\n vmovdqu 224(%[a]), %%ymm7\n vmovdqu 256(%[a]), %%ymm8\n"
      "1:\n"
      "vmovdqa (%[w]), %%ymm9\n vmovdqa (%[w],%[vs]), %%ymm10\n vmovdqa (%[w],%[vs],2), %%ymm11\n"
      "vpbroadcastw (%[x]), %%ymm12\n" MAC3("%%ymm0", "%%ymm1", "%%ymm2")
      "vpbroadcastw (%[x],%[ld]), %%ymm12\n" MAC3("%%ymm3", "%%ymm4", "%%ymm5")
      "vpbroadcastw (%[x],%[ld],2), %%ymm12\n" MAC3("%%ymm6", "%%ymm7", "%%ymm8")
      "add $32, %[w]\n add $2, %[x]\n cmp %[w], %[wend]\n jne 1b\n"
      "vmovdqu %%ymm0, 0(%[a])\n vmovdqu %%ymm1, 32(%[a])\n vmovdqu %%ymm2, 64(%[a])\n"
      "vmovdqu %%ymm3, 96(%[a])\n vmovdqu %%ymm4, 128(%[a])\n vmovdqu %%ymm5, 160(%[a])\n"
      "vmovdqu %%ymm6, 192(%[a])\n vmovdqu %%ymm7, 224(%[a])\n vmovdqu %%ymm8, 256(%[a])\n"
      : [w] "+r"(wp), [x] "+r"(xp)
      : [a] "r"(&a[0][0]), [vs] "r"(vs), [ld] "r"(ld), [wend] "r"(wend)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "cc", "memory");
#undef MAC3
#undef MAC
}

/* TT (<= 3) tokens x NV (<= 3) output vectors over all Kp inputs: xu holds the tokens' offset
 * inputs (stride Kp), u the first vector's pairs (the others follow every vs bytes), corr its
 * corrections. Output vector v of token t goes to y + t*ldy + 16v, its first nlast outputs only
 * if v is the last. */
static inline __attribute__((always_inline)) void ternary_tile(float *y, int ldy, const uint8_t *xu,
                                                               int Kp, const uint8_t *u, size_t vs,
                                                               const int32_t *corr, const float *sc,
                                                               int TT, int NV, int nlast) {
  int np = Kp / 2;
  __m256i lo[TTOK][TVEC], hi[TTOK][TVEC];
  for (int t = 0; t < TT; t++)
    for (int v = 0; v < NV; v++) lo[t][v] = hi[t][v] = _mm256_setzero_si256();
  for (int p0 = 0; p0 < np; p0 += TPAIRS) {
    int p1 = np - p0 < TPAIRS ? np : p0 + TPAIRS;
    __m256i a[TTOK][TVEC];
    for (int t = 0; t < TT; t++)
      for (int v = 0; v < NV; v++) a[t][v] = _mm256_setzero_si256();
    if (TT == TTOK && NV == TVEC) {
      pairs_3x3(a, u + (size_t)p0 * 32, vs, xu + 2 * (size_t)p0, Kp, p1 - p0);
      goto widen;
    }
    for (int p = p0; p < p1; p++) {
      const uint8_t *wp = u + (size_t)p * 32;
      for (int t = 0; t < TT; t++) {
        int16_t pair;
        memcpy(&pair, xu + (size_t)t * Kp + 2 * p, 2);
        __m256i b = _mm256_set1_epi16(pair);
        for (int v = 0; v < NV; v++)
          a[t][v] = _mm256_add_epi16(
              a[t][v], _mm256_maddubs_epi16(b, _mm256_load_si256((const __m256i *)(wp + v * vs))));
      }
    }
  widen:
    for (int t = 0; t < TT; t++)
      for (int v = 0; v < NV; v++) {
        lo[t][v] =
            _mm256_add_epi32(lo[t][v], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a[t][v])));
        hi[t][v] =
            _mm256_add_epi32(hi[t][v], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(a[t][v], 1)));
      }
  }
  for (int t = 0; t < TT; t++) {
    __m256 s = _mm256_set1_ps(sc[t]);
    float *yt = y + (size_t)t * ldy;
    for (int v = 0; v < NV; v++) {
      const int32_t *cv = corr + 16 * v;
      __m256i c0 = _mm256_loadu_si256((const __m256i *)cv),
              c1 = _mm256_loadu_si256((const __m256i *)(cv + 8));
      __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(lo[t][v], c0)), s);
      __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(hi[t][v], c1)), s);
      int n = v == NV - 1 ? nlast : 16;
      if (n == 16) {
        _mm256_storeu_ps(yt + 16 * v, f0);
        _mm256_storeu_ps(yt + 16 * v + 8, f1);
      } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, f0);
        _mm256_storeu_ps(tmp + 8, f1);
        memcpy(yt + 16 * v, tmp, sizeof(float) * n);
      }
    }
  }
}

/* The tile with TT and NV as constants (so its arrays live in registers). */
static void ternary_tile_any(float *y, int ldy, const uint8_t *xu, int Kp, const uint8_t *u,
                             size_t vs, const int32_t *corr, const float *sc, int TT, int NV,
                             int nlast) {
#define TILE(tt, nv) ternary_tile(y, ldy, xu, Kp, u, vs, corr, sc, tt, nv, nlast)
  switch (TT * 4 + NV) {
  case 3 * 4 + 3: TILE(3, 3); break;
  case 3 * 4 + 2: TILE(3, 2); break;
  case 3 * 4 + 1: TILE(3, 1); break;
  case 2 * 4 + 3: TILE(2, 3); break;
  case 2 * 4 + 2: TILE(2, 2); break;
  case 2 * 4 + 1: TILE(2, 1); break;
  case 1 * 4 + 3: TILE(1, 3); break;
  case 1 * 4 + 2: TILE(1, 2); break;
  default: TILE(1, 1); break;
  }
#undef TILE
}

/* The weights are unpacked once per call (O(N K), against O(T N K) for the products), then
 * token blocks of 18 run in parallel: per block, its inputs offset into the thread's buffer,
 * then for each group of 3 output vectors (48 outputs, Kp*48 bytes of weights: 18 KB at
 * K = 384, kept in L1 while the block's 3-token tiles pass over it). */
static void ternary_matmul_avx2(float *y, int ldy, const int8_t *q, const float *xscale,
                                const uint8_t *w, float wscale, int T, int N, int K) {
  const int Kp = fl_ternary_kpad(K), rb = fl_ternary_row_bytes(K), nv = (N + 15) / 16;
  const int nt = omp_get_max_threads();
  const size_t vs = (size_t)Kp * 16; /* bytes of one output vector's pairs */
  const size_t wbytes = vs * nv, cbytes = (size_t)nv * 16 * sizeof(int32_t);
  const size_t xbytes = ((size_t)TBLK * Kp + 63) / 64 * 64;
  uint8_t *space = tern_scratch(wbytes + cbytes + (size_t)nt * xbytes);
  if (!space) { /* a kernel cannot fail: the reference needs no memory and gives the same bits */
    fl_kernels_ref()->ternary_matmul(y, ldy, q, xscale, w, wscale, T, N, K);
    return;
  }
  uint8_t *u = space;
  int32_t *corr = (int32_t *)(space + wbytes);
  const __m256i off = _mm256_set1_epi8((char)0x80);
  /* on the calling thread (8 us for 384 x 192 here): one barrier less for the team, which
   * matters when the cores are shared and a waiting thread may lose its time slice */
  for (int v = 0; v < nv; v++) unpack_vector(u + v * vs, corr + 16 * v, w, rb, N, Kp, v);
  /* outputs in chunks whose unpacked weights (at most TCHUNK bytes) stay in L2 while every token
   * block passes over them; tasks run chunk by chunk (one chunk at the v6.1 and v7-ts shapes) */
  const int cv = vs * TVEC >= TCHUNK ? TVEC : (int)(TCHUNK / vs) / TVEC * TVEC;
  const int nchunks = (nv + cv - 1) / cv, nblocks = (T + TBLK - 1) / TBLK;
#pragma omp parallel num_threads(nt)
  {
    uint8_t *xu = space + wbytes + cbytes + (size_t)omp_get_thread_num() * xbytes;
#pragma omp for schedule(static)
    for (long task = 0; task < (long)nchunks * nblocks; task++) {
      int c0 = (int)(task / nblocks) * cv, c1 = c0 + cv < nv ? c0 + cv : nv;
      int t0 = (int)(task % nblocks) * TBLK, tn = T - t0 < TBLK ? T - t0 : TBLK;
      float sc[TBLK];
      for (int t = 0; t < tn; t++) {
        const int8_t *qt = q + (size_t)(t0 + t) * Kp;
        for (int k = 0; k < Kp; k += 32)
          _mm256_store_si256((__m256i *)(xu + (size_t)t * Kp + k),
                             _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(qt + k)), off));
        sc[t] = wscale * xscale[t0 + t];
      }
      for (int v0 = c0; v0 < c1; v0 += TVEC) {
        int vn = c1 - v0 < TVEC ? c1 - v0 : TVEC, nlast = N - 16 * (v0 + vn - 1);
        nlast = nlast > 16 ? 16 : nlast;
        for (int t = 0; t < tn; t += TTOK)
          ternary_tile_any(y + (size_t)(t0 + t) * ldy + 16 * v0, ldy, xu + (size_t)t * Kp, Kp,
                           u + v0 * vs, vs, corr + 16 * v0, sc + t, tn - t < TTOK ? tn - t : TTOK,
                           vn, nlast);
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

/* dx of token t (overwritten or accumulated) and, if part, part += dy*x*rstd (its share of dw). */
static inline __attribute__((always_inline)) void rmsnorm_backward_row(float *dxt, float *part,
                                                                       const float *dyt,
                                                                       const float *xt,
                                                                       const float *w, float r,
                                                                       int C, int accumulate) {
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
    __m256 dy8 = _mm256_loadu_ps(dyt + c), x8 = _mm256_loadu_ps(xt + c);
    __m256 v =
        _mm256_fmadd_ps(vk, x8, _mm256_mul_ps(_mm256_mul_ps(vr, _mm256_loadu_ps(w + c)), dy8));
    if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(dxt + c));
    _mm256_storeu_ps(dxt + c, v);
    if (part)
      _mm256_storeu_ps(part + c,
                       _mm256_fmadd_ps(_mm256_mul_ps(dy8, x8), vr, _mm256_loadu_ps(part + c)));
  }
  for (; c < C; c++) {
    float v = r * w[c] * dyt[c] - kk * xt[c];
    dxt[c] = accumulate ? dxt[c] + v : v;
    if (part) part[c] += dyt[c] * xt[c] * r;
  }
}

/* Thread-private shares of dw, kept between calls (grows, never shrinks). */
static _Thread_local float *rms_space;
static _Thread_local size_t rms_floats;

/* Tokens [*t0, *t1) of thread u of team (contiguous shares, the first T % team one longer). */
static inline void share(int *t0, int *t1, int T, int u, int team) {
  int base = T / team, extra = T % team;
  *t0 = u * base + (u < extra ? u : extra);
  *t1 = *t0 + base + (u < extra);
}

/* One pass over dy and x: each thread's contiguous share of the tokens adds into its own copy
 * of dw (the tokens in order), and the copies are added to dw in thread order (deterministic for
 * a thread count; with one thread the sums are those of a single pass over the tokens). Without
 * memory for the copies, a second pass over dy and x forms the same sums column block by column
 * block (the same bits, slower). */
static void rmsnorm_backward_avx2(float *dx, float *dw, const float *dy, const float *x,
                                  const float *w, const float *rstd, int T, int C, int accumulate) {
  enum { CB = 64 };
  int nt = omp_get_max_threads();
  size_t per = ((size_t)C + 15) / 16 * 16, need = (size_t)nt * per;
  if (need > rms_floats) {
    free(rms_space);
    rms_space = aligned_alloc(64, need * sizeof(float));
    rms_floats = rms_space ? need : 0;
  }
  float *parts = rms_space;
  int team_size = 1;
#pragma omp parallel num_threads(nt)
  {
    int team = omp_get_num_threads(), u = omp_get_thread_num(), t0, t1;
    share(&t0, &t1, T, u, team);
    float *part = parts ? parts + (size_t)u * per : NULL;
    if (part) memset(part, 0, sizeof(float) * C);
    for (int t = t0; t < t1; t++)
      rmsnorm_backward_row(dx + (size_t)t * C, part, dy + (size_t)t * C, x + (size_t)t * C, w,
                           rstd[t], C, accumulate);
    if (parts && u == 0) team_size = team;
    if (!parts) {
#pragma omp barrier
#pragma omp for schedule(static)
      for (int c0 = 0; c0 < C; c0 += CB) {
        int c1 = c0 + CB < C ? c0 + CB : C;
        float sum[CB], acc[CB] __attribute__((aligned(32)));
        for (int v = 0; v < team; v++) {
          int s0, s1;
          share(&s0, &s1, T, v, team);
          memset(acc, 0, sizeof acc);
          for (int t = s0; t < s1; t++) {
            const float *dyt = dy + (size_t)t * C, *xt = x + (size_t)t * C;
            __m256 vr = _mm256_set1_ps(rstd[t]);
            int c = c0;
            for (; c + 8 <= c1; c += 8) {
              __m256 a = _mm256_load_ps(acc + c - c0);
              a = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(dyt + c), _mm256_loadu_ps(xt + c)),
                                  vr, a);
              _mm256_store_ps(acc + c - c0, a);
            }
            for (; c < c1; c++) acc[c - c0] += dyt[c] * xt[c] * rstd[t];
          }
          for (int c = c0; c < c1; c++)
            sum[c - c0] = v == 0 ? acc[c - c0] : sum[c - c0] + acc[c - c0];
        }
        for (int c = c0; c < c1; c++) dw[c] += sum[c - c0];
      }
    }
  }
  /* the copies, added in thread order on the calling thread (C adds per thread: no barrier) */
  for (int c = 0; parts && c < C; c++) {
    float s = parts[c];
    for (int v = 1; v < team_size; v++) s += parts[(size_t)v * per + c];
    dw[c] += s;
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
  if (n8 < n)
    fl_kernels_ref()->adamw(p + n8, g + n8, m + n8, v + n8, n - n8, lr, b1, b2, eps, wd, step);
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
  for (size_t i = 0; i < n8; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), f));
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
    .dx16_quant = fl_dx16_quant_avx2,
    .dx16_matmul = fl_dx16_matmul_best,
    .dw16_quant = fl_dw16_quant_avx2,
};

const fl_kernels *fl_kernels_avx2(void) { return &AVX2; }
