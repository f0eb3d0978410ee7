/* AVX2 + FMA one-row attention of the KV-cache decoder (src/model/decode.c): the last row of
 * fl_attention_forward_avx2 (layers_avx2.c), computed from a cache whose keys are stored
 * transposed, so that 8 keys' scores fill one vector. Every value is formed as that kernel forms
 * it, so the result is the same bit for bit:
 *  - score j: an FMA chain over the channels from 0 (its register tile's arithmetic), times the
 *    scale; keys in blocks of FL_ATT_KB from 0;
 *  - per block: the max, the rescale by expf(m_old - m_new) when the max rises, the exponentials
 *    by fl_exp256, their sum in 8 lanes then fl_hsum256;
 *  - the output: per block, an FMA chain over the block's keys from 0, added to the output.
 * Keys past the diagonal, which the block kernel visits with weight 0, add exact zeros there, so
 * stopping at the last key changes nothing. */
#include <math.h>
#include <string.h>

#include "avx2.h"
#include "flashlm.h"
#include "internal.h"

void fl_attention_row_avx2(float *out, const float *q, const float *kt, int ldk, const float *v,
                           int ldv, int n, int hd) {
  float scale = 1.0f / sqrtf((float)hd), m = -INFINITY, l = 0.0f;
  float s[FL_ATT_KB] __attribute__((aligned(32)));
  const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
  memset(out, 0, sizeof(float) * hd);
  for (int j0 = 0; j0 < n; j0 += FL_ATT_KB) {
    int cnt = n - j0 < FL_ATT_KB ? n - j0 : FL_ATT_KB;
    __m256 mx = ninf;
    for (int j = 0; j < cnt; j += 8) {
      __m256i mk = fl_tail_mask(cnt - j);
      __m256 c = _mm256_setzero_ps();
      for (int p = 0; p < hd; p++)
        c = _mm256_fmadd_ps(_mm256_broadcast_ss(q + p),
                            _mm256_maskload_ps(kt + (size_t)p * ldk + j0 + j, mk), c);
      __m256 x = _mm256_blendv_ps(ninf, _mm256_mul_ps(c, vs), _mm256_castsi256_ps(mk));
      _mm256_store_ps(s + j, x);
      mx = _mm256_max_ps(mx, x);
    }
    float mb = fl_hmax256(mx), mnew = mb > m ? mb : m;
    if (mnew > m) {
      float corr = expf(m - mnew); /* 0 on the first block */
      l *= corr;
      for (int d = 0; d < hd; d++) out[d] *= corr;
      m = mnew;
    }
    __m256 vm = _mm256_set1_ps(mnew), sum = _mm256_setzero_ps();
    for (int j = 0; j < cnt; j += 8) {
      __m256i mk = fl_tail_mask(cnt - j);
      __m256 p = fl_exp256(_mm256_sub_ps(_mm256_load_ps(s + j), vm));
      p = _mm256_and_ps(p, _mm256_castsi256_ps(mk));
      _mm256_store_ps(s + j, p);
      sum = _mm256_add_ps(sum, p);
    }
    l += fl_hsum256(sum);
    for (int d0 = 0; d0 < hd; d0 += 8) {
      __m256i mk = fl_tail_mask(hd - d0);
      __m256 c = _mm256_setzero_ps();
      for (int j = 0; j < cnt; j++)
        c = _mm256_fmadd_ps(_mm256_broadcast_ss(s + j),
                            _mm256_maskload_ps(v + (size_t)(j0 + j) * ldv + d0, mk), c);
      c = _mm256_add_ps(c, _mm256_maskload_ps(out + d0, mk));
      _mm256_maskstore_ps(out + d0, mk, c);
    }
  }
  float inv = 1.0f / l;
  for (int d = 0; d < hd; d++) out[d] *= inv;
}

/* The head for one token without packing: fl_gemm_avx2 packs op(B) = rows^T into panels per
 * call, which for one row of A costs more than the product (the whole embedding copied every
 * token). Here 8 rows are read in place, 8 columns at a time, and transposed in registers so
 * that lane i holds row i; each output is then formed as the gemm's 6x16 tile forms it: per
 * FL_GEMM_KC slice an FMA chain over k from 0, the first slice's sum times alpha, each later
 * one added with fma(alpha, sum, out). Rows past the last multiple of 8 take the same chain in
 * scalar fmaf. */
void fl_gemv_rows_avx2(float *out, const float *x, const float *rows, int n, int K, float alpha) {
  const __m256 va = _mm256_set1_ps(alpha);
  int v0 = 0;
  for (; v0 + 8 <= n; v0 += 8) {
    const float *r0 = rows + (size_t)v0 * K;
    __m256 c = _mm256_setzero_ps();
    for (int pc = 0; pc < K; pc += FL_GEMM_KC) {
      int kc = K - pc < FL_GEMM_KC ? K - pc : FL_GEMM_KC, k = 0;
      __m256 acc = _mm256_setzero_ps();
      for (; k + 8 <= kc; k += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(r0 + (size_t)i * K + pc + k);
        fl_transpose8(r); /* r[j] lane i = rows[v0 + i][pc + k + j] */
        for (int j = 0; j < 8; j++)
          acc = _mm256_fmadd_ps(_mm256_broadcast_ss(x + pc + k + j), r[j], acc);
      }
      for (; k < kc; k++) {
        const float *p = r0 + pc + k;
        __m256 col =
            _mm256_setr_ps(p[0], p[(size_t)K], p[2 * (size_t)K], p[3 * (size_t)K], p[4 * (size_t)K],
                           p[5 * (size_t)K], p[6 * (size_t)K], p[7 * (size_t)K]);
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(x + pc + k), col, acc);
      }
      c = pc == 0 ? _mm256_mul_ps(va, acc) : _mm256_fmadd_ps(va, acc, c);
    }
    _mm256_storeu_ps(out + v0, c);
  }
  for (; v0 < n; v0++) {
    const float *r = rows + (size_t)v0 * K;
    float c = 0.0f;
    for (int pc = 0; pc < K; pc += FL_GEMM_KC) {
      int kc = K - pc < FL_GEMM_KC ? K - pc : FL_GEMM_KC;
      float acc = 0.0f;
      for (int k = 0; k < kc; k++) acc = fmaf(x[pc + k], r[pc + k], acc);
      c = pc == 0 ? alpha * acc : fmaf(alpha, acc, c);
    }
    out[v0] = c;
  }
}
