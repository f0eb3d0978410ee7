/* AVX2 + FMA layers: RoPE, causal attention (blocked, online softmax), SwiGLU, fused softmax
 * cross-entropy. Twins of src/ref/layers_ref.c (same signatures and semantics). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "avx2.h"
#include "flashlm.h"
#include "internal.h"

/* ================= RoPE ======================================================================
 * 8 floats = 4 interleaved pairs (a, b); cs holds (cos, sin) pairs. With c = (c0 c0 c1 c1 ..),
 * s = (s0 s0 ..) and x' = (b0 a0 b1 a1 ..): addsub(x c, x' s) = (a c - b s, b c + a s). */
void fl_rope_avx2(float *x, int ld, const float *cs, int B, int T, int H, int hd, int inverse) {
  float dir = inverse ? -1.0f : 1.0f;
  const __m256 vdir = _mm256_set1_ps(dir);
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    const float *c = cs + (size_t)(bt % T) * hd;
    for (int h = 0; h < H; h++) {
      float *xh = x + (size_t)bt * ld + h * hd;
      int i = 0;
      for (; i + 8 <= hd; i += 8) {
        __m256 v = _mm256_loadu_ps(xh + i), t = _mm256_loadu_ps(c + i);
        __m256 co = _mm256_moveldup_ps(t), si = _mm256_mul_ps(_mm256_movehdup_ps(t), vdir);
        __m256 sw = _mm256_permute_ps(v, 0xB1);
        _mm256_storeu_ps(xh + i, _mm256_addsub_ps(_mm256_mul_ps(v, co), _mm256_mul_ps(sw, si)));
      }
      for (; i < hd; i += 2) {
        float co = c[i], si = dir * c[i + 1], a = xh[i], b = xh[i + 1];
        xh[i] = a * co - b * si;
        xh[i + 1] = a * si + b * co;
      }
    }
  }
}

/* ================= small matrix products for attention blocks ==================================
 * C (m,n) (+)= A (m,k) B (k,n), all row-major with row strides; 6x16 register tiles (12
 * accumulators), masked loads and stores for a column tail. Blocks are at most 64 x 64, in L1. */
static inline __attribute__((always_inline)) void tile(float *C, int ldc, const float *A, int lda,
                                                       const float *B, int ldb, int k, int rows,
                                                       int full, __m256i m0, __m256i m1, int acc) {
  __m256 c[6][2];
  for (int r = 0; r < rows; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int p = 0; p < k; p++) {
    const float *b = B + (size_t)p * ldb;
    __m256 b0 = full ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0);
    __m256 b1 = full ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, m1);
    for (int r = 0; r < rows; r++) {
      __m256 a = _mm256_broadcast_ss(A + (size_t)r * lda + p);
      c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
    }
  }
  for (int r = 0; r < rows; r++) {
    float *o = C + (size_t)r * ldc;
    if (full) {
      if (acc) c[r][0] = _mm256_add_ps(c[r][0], _mm256_loadu_ps(o));
      if (acc) c[r][1] = _mm256_add_ps(c[r][1], _mm256_loadu_ps(o + 8));
      _mm256_storeu_ps(o, c[r][0]);
      _mm256_storeu_ps(o + 8, c[r][1]);
    } else {
      if (acc) c[r][0] = _mm256_add_ps(c[r][0], _mm256_maskload_ps(o, m0));
      if (acc) c[r][1] = _mm256_add_ps(c[r][1], _mm256_maskload_ps(o + 8, m1));
      _mm256_maskstore_ps(o, m0, c[r][0]);
      _mm256_maskstore_ps(o + 8, m1, c[r][1]);
    }
  }
}

static void mm(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int m, int n,
               int k, int acc) {
  for (int j = 0; j < n; j += 16) {
    int w = n - j;
    __m256i m0 = fl_tail_mask(w < 8 ? w : 8), m1 = fl_tail_mask(w < 8 ? 0 : w - 8 < 8 ? w - 8 : 8);
    int i = 0;
    if (w >= 16) {
      for (; i + 6 <= m; i += 6)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 6, 1, m0, m1,
             acc);
      if (i + 4 <= m)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 4, 1, m0, m1,
             acc),
            i += 4;
      if (i + 2 <= m)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 2, 1, m0, m1,
             acc),
            i += 2;
      if (i < m)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 1, 1, m0, m1,
             acc);
    } else {
      for (; i + 6 <= m; i += 6)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 6, 0, m0, m1,
             acc);
      if (i + 4 <= m)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 4, 0, m0, m1,
             acc),
            i += 4;
      if (i + 2 <= m)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 2, 0, m0, m1,
             acc),
            i += 2;
      if (i < m)
        tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda, lda, B + j, ldb, k, 1, 0, m0, m1,
             acc);
    }
  }
}

/* dst (cols, rows) with row stride ldd = transpose of src (rows, cols) with row stride lds.
 * Full 8x8 tiles are transposed in registers (the scalar walk was a sixth of a T=1024 backward);
 * the edges element by element. Data movement only: the results do not depend on it. */
static void transpose(float *dst, int ldd, const float *src, int lds, int rows, int cols) {
  int r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  for (int r = 0; r < r8; r += 8)
    for (int c = 0; c < c8; c += 8) {
      __m256 x[8];
      for (int i = 0; i < 8; i++) x[i] = _mm256_loadu_ps(src + (size_t)(r + i) * lds + c);
      fl_transpose8(x);
      float *d = dst + (size_t)c * ldd + r;
      for (int j = 0; j < 8; j++) _mm256_storeu_ps(d + j * (size_t)ldd, x[j]);
    }
  for (int r = 0; r < rows; r++)
    for (int c = r < r8 ? c8 : 0; c < cols; c++)
      dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}

/* ================= causal attention ==========================================================
 * Blocks of BQ query rows x BK keys, aligned at multiples of 64 so that only diagonal blocks
 * need the causal mask. Forward: S = Q K^T (K transposed into scratch), per-row online softmax
 * (rescale of the output rows when a block raises the max), O += P V.
 * Each thread allocates its scratch blocks; a thread without them skips its tasks and the call
 * returns FL_ENOMEM (the error text is set on the calling thread, after the parallel region). */
enum { BQ = FL_ATT_KB, BK = FL_ATT_KB };

static int scratch_error(const char *what, size_t bytes) {
  return fl_error(FL_ENOMEM, "attention %s: cannot allocate %zu bytes of scratch per thread", what,
                  bytes);
}

int fl_attention_forward_avx2(float *out, float *lse, const float *q, const float *k,
                              const float *v, int ld, int B, int T, int H, int hd) {
  int C = H * hd, failed = 0;
  float scale = 1.0f / sqrtf((float)hd);
  int nqb = (T + BQ - 1) / BQ;
  size_t bytes = sizeof(float) * (BQ * BK + (size_t)hd * BK);
#pragma omp parallel
  {
    float *S = aligned_alloc(64, bytes);
    float *Kt = S ? S + BQ * BK : NULL, m[BQ], l[BQ];
    if (!S) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1) collapse(3)
    for (int b = 0; b < B; b++)
      for (int h = 0; h < H; h++)
        for (int qb = 0; qb < nqb; qb++) {
          if (!S) continue;
          int i0 = qb * BQ, i1 = i0 + BQ < T ? i0 + BQ : T, br = i1 - i0;
          const float *Q = q + ((size_t)b * T + i0) * ld + h * hd;
          float *O = out + ((size_t)b * T + i0) * C + h * hd;
          for (int r = 0; r < br; r++) {
            m[r] = -INFINITY, l[r] = 0.0f;
            memset(O + (size_t)r * C, 0, sizeof(float) * hd);
          }
          for (int j0 = 0; j0 < i1; j0 += BK) {
            int j1 = j0 + BK < i1 ? j0 + BK : i1, bc = j1 - j0;
            const float *Kb = k + ((size_t)b * T + j0) * ld + h * hd;
            const float *Vb = v + ((size_t)b * T + j0) * ld + h * hd;
            transpose(Kt, BK, Kb, ld, bc, hd);
            mm(S, BK, Q, ld, Kt, BK, br, bc, hd, 0);
            for (int r = 0; r < br; r++) {
              float *s = S + (size_t)r * BK;
              int cnt = i0 + r + 1 - j0 < bc ? i0 + r + 1 - j0 : bc; /* causal: keys <= i */
              __m256 vs = _mm256_set1_ps(scale), mx = _mm256_set1_ps(-INFINITY);
              for (int j = 0; j < cnt; j += 8) {
                __m256i mk = fl_tail_mask(cnt - j);
                __m256 x = _mm256_mul_ps(_mm256_loadu_ps(s + j), vs);
                x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, _mm256_castsi256_ps(mk));
                _mm256_storeu_ps(s + j, x);
                mx = _mm256_max_ps(mx, x);
              }
              float mb = fl_hmax256(mx), mnew = mb > m[r] ? mb : m[r];
              if (mnew > m[r]) {
                float corr = expf(m[r] - mnew); /* 0 on the first block */
                l[r] *= corr;
                float *o = O + (size_t)r * C;
                for (int d = 0; d < hd; d++) o[d] *= corr;
                m[r] = mnew;
              }
              __m256 vm = _mm256_set1_ps(mnew), sum = _mm256_setzero_ps();
              for (int j = 0; j < bc; j += 8) { /* exp(-inf - m) = 0 past the diagonal */
                __m256i mk = fl_tail_mask(cnt - j);
                __m256 p = fl_exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
                p = _mm256_and_ps(p, _mm256_castsi256_ps(mk));
                _mm256_storeu_ps(s + j, p);
                sum = _mm256_add_ps(sum, p);
              }
              l[r] += fl_hsum256(sum);
            }
            mm(O, C, S, BK, Vb, ld, br, hd, bc, 1);
          }
          for (int r = 0; r < br; r++) {
            float inv = 1.0f / l[r], *o = O + (size_t)r * C;
            for (int d = 0; d < hd; d++) o[d] *= inv;
            lse[((size_t)b * H + h) * T + i0 + r] = m[r] + logf(l[r]);
          }
        }
    free(S);
  }
  return failed ? scratch_error("forward", bytes) : FL_OK;
}

/* Backward, one (b, h) per task (so dk, dv, dq have no races), key blocks outer, query blocks
 * inner: S^T = K Q^T, P^T = exp(S^T scale - lse), dV += P^T dO, dP^T = V dO^T,
 * dS^T = P^T (dP^T - D) scale, dK += dS^T Q, dQ += dS K with D_i = dO_i . O_i. */
int fl_attention_backward_avx2(float *dq, float *dk, float *dv, const float *dout, const float *q,
                               const float *k, const float *v, const float *out, const float *lse,
                               int ld, int B, int T, int H, int hd) {
  int C = H * hd, failed = 0;
  float scale = 1.0f / sqrtf((float)hd);
  size_t blk = (size_t)BQ * BK, col = (size_t)hd * BQ;
  size_t bytes = sizeof(float) * (3 * blk + 2 * col + T);
#pragma omp parallel
  {
    float *P = aligned_alloc(64, bytes), *dP = NULL, *dS = NULL, *Qt = NULL, *dOt = NULL, *D = NULL;
    if (P) {
      dP = P + blk, dS = dP + blk, Qt = dS + blk, dOt = Qt + col, D = dOt + col;
    } else {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int b = 0; b < B; b++)
      for (int h = 0; h < H; h++) {
        if (!P) continue;
        size_t base = (size_t)b * T;
        for (int i = 0; i < T; i++) {
          const float *o = out + (base + i) * C + h * hd, *g = dout + (base + i) * C + h * hd;
          float s = 0.0f;
          for (int d = 0; d < hd; d++) s += o[d] * g[d];
          D[i] = s;
          memset(dq + (base + i) * ld + h * hd, 0, sizeof(float) * hd);
          memset(dk + (base + i) * ld + h * hd, 0, sizeof(float) * hd);
          memset(dv + (base + i) * ld + h * hd, 0, sizeof(float) * hd);
        }
        const float *L = lse + ((size_t)b * H + h) * T;
        for (int j0 = 0; j0 < T; j0 += BK) {
          int bc = T - j0 < BK ? T - j0 : BK;
          const float *Kb = k + (base + j0) * ld + h * hd, *Vb = v + (base + j0) * ld + h * hd;
          float *dKb = dk + (base + j0) * ld + h * hd, *dVb = dv + (base + j0) * ld + h * hd;
          for (int i0 = j0; i0 < T; i0 += BQ) {
            int br = T - i0 < BQ ? T - i0 : BQ;
            const float *Qb = q + (base + i0) * ld + h * hd;
            const float *dOb = dout + (base + i0) * C + h * hd;
            float *dQb = dq + (base + i0) * ld + h * hd;
            transpose(Qt, BQ, Qb, ld, br, hd);
            transpose(dOt, BQ, dOb, C, br, hd);
            mm(P, BQ, Kb, ld, Qt, BQ, bc, br, hd, 0);   /* S^T (bc, br) */
            mm(dP, BQ, Vb, ld, dOt, BQ, bc, br, hd, 0); /* dP^T (bc, br) */
            __m256 vs = _mm256_set1_ps(scale);
            for (int c = 0; c < bc; c++) {
              float *pr = P + (size_t)c * BQ, *dpr = dP + (size_t)c * BQ;
              int first = j0 + c - i0 > 0 ? j0 + c - i0 : 0; /* queries i >= key j */
              for (int r = 0; r < br; r += 8) {
                __m256i in = fl_tail_mask(br - r),
                        keep = _mm256_andnot_si256(fl_tail_mask(first - r), in);
                __m256 li = _mm256_maskload_ps(L + i0 + r, in),
                       di = _mm256_maskload_ps(D + i0 + r, in);
                __m256 p = fl_exp256(_mm256_fmsub_ps(_mm256_loadu_ps(pr + r), vs, li));
                p = _mm256_and_ps(p, _mm256_castsi256_ps(keep));
                __m256 ds = _mm256_mul_ps(
                    _mm256_mul_ps(p, _mm256_sub_ps(_mm256_loadu_ps(dpr + r), di)), vs);
                _mm256_storeu_ps(pr + r, p);
                _mm256_storeu_ps(dpr + r, ds);
              }
            }
            mm(dVb, ld, P, BQ, dOb, C, bc, hd, br, 1);  /* dV += P^T dO */
            mm(dKb, ld, dP, BQ, Qb, ld, bc, hd, br, 1); /* dK += dS^T Q */
            transpose(dS, BK, dP, BQ, bc, br);
            mm(dQb, ld, dS, BK, Kb, ld, br, hd, bc, 1); /* dQ += dS K */
          }
        }
      }
    free(P);
  }
  return failed ? scratch_error("backward", bytes) : FL_OK;
}

/* ================= SwiGLU ==================================================================== */
static inline __m256 sigmoid(__m256 g) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, fl_exp256(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

void fl_swiglu_forward_avx2(float *h, const float *g, const float *u, size_t n) {
  size_t n8 = n / 8 * 8;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n8; i += 8) {
    __m256 gi = _mm256_loadu_ps(g + i), sg = _mm256_mul_ps(gi, sigmoid(gi));
    _mm256_storeu_ps(h + i, u ? _mm256_mul_ps(sg, _mm256_loadu_ps(u + i)) : sg);
  }
  for (size_t i = n8; i < n; i++) {
    float sg = g[i] / (1.0f + expf(-g[i]));
    h[i] = u ? sg * u[i] : sg;
  }
}

void fl_swiglu_backward_avx2(float *dg, float *du, const float *dh, const float *g, const float *u,
                             size_t n) {
  size_t n8 = n / 8 * 8;
  const __m256 one = _mm256_set1_ps(1.0f);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n8; i += 8) {
    __m256 gi = _mm256_loadu_ps(g + i), sig = sigmoid(gi), d = _mm256_loadu_ps(dh + i);
    __m256 dsilu = _mm256_mul_ps(sig, _mm256_fmadd_ps(gi, _mm256_sub_ps(one, sig), one));
    if (u) {
      _mm256_storeu_ps(du + i, _mm256_mul_ps(d, _mm256_mul_ps(gi, sig)));
      d = _mm256_mul_ps(d, _mm256_loadu_ps(u + i));
    }
    _mm256_storeu_ps(dg + i, _mm256_mul_ps(d, dsilu));
  }
  if (n8 < n)
    fl_swiglu_backward_ref(dg + n8, u ? du + n8 : NULL, dh + n8, g + n8, u ? u + n8 : NULL, n - n8);
}

/* ================= fused softmax cross-entropy ================================================ */
static double ce_row(float *row, int target, int V, float grad_scale) {
  int v8 = V / 8 * 8;
  __m256 mx8 = _mm256_set1_ps(-INFINITY);
  for (int v = 0; v < v8; v += 8) mx8 = _mm256_max_ps(mx8, _mm256_loadu_ps(row + v));
  float mx = fl_hmax256(mx8);
  for (int v = v8; v < V; v++) mx = fmaxf(mx, row[v]);
  __m256 vm = _mm256_set1_ps(mx), s8 = _mm256_setzero_ps();
  for (int v = 0; v < v8; v += 8)
    s8 = _mm256_add_ps(s8, fl_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + v), vm)));
  float sum = fl_hsum256(s8);
  for (int v = v8; v < V; v++) sum += expf(row[v] - mx);
  float lse = mx + logf(sum);
  double loss = (double)lse - row[target];
  if (grad_scale != 0.0f) {
    __m256 vl = _mm256_set1_ps(lse), gs = _mm256_set1_ps(grad_scale);
    for (int v = 0; v < v8; v += 8)
      _mm256_storeu_ps(row + v,
                       _mm256_mul_ps(fl_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + v), vl)), gs));
    for (int v = v8; v < V; v++) row[v] = expf(row[v] - lse) * grad_scale;
    row[target] -= grad_scale;
  }
  return loss;
}

double fl_crossentropy_avx2(float *logits, const int *targets, int T, int V, float grad_scale) {
  return fl_crossentropy_rows(ce_row, logits, targets, T, V, grad_scale);
}
