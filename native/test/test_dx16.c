/* The integer dX of ternary linears (flashlm.h, "integer dX"): every ISA's quantisation and
 * product against the reference bit for bit (memcmp: the sums are integers), the reference
 * against a plain sum over the signs of W_eff, and the quantisation's edge cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

typedef void (*dx16_matmul_fn)(float *dx, int ldx, const int16_t *q, const float *a,
                               const int8_t *panel, int T, int N, int K, float beta);

/* The products to check: the SIMD table's entry and, on x86, each ISA's own. */
static int matmul_impls(dx16_matmul_fn *fn, const char **name) {
  int n = 0;
  const fl_kernels *simd = t_simd();
  if (simd) fn[n] = simd->dx16_matmul, name[n++] = simd->name;
#if defined(FLASHLM_HAVE_AVX2)
  if (simd) fn[n] = fl_dx16_matmul_avx2, name[n++] = "avx2 vpmaddwd";
  if (simd && fl_dx16_vnni_usable()) fn[n] = fl_dx16_matmul_vnni, name[n++] = "avx512 vnni";
#endif
  return n;
}

/* W_eff (K, N) with zeros, its panel, q (T, Kq) over the whole int16 range but -32768, and
 * scales; every implementation against the reference for beta 0 and 1 with ldx > N; the
 * reference against the plain sum. */
static void matmul_case(int T, int N, int K) {
  int Kq = fl_dx16_kpad(K), ldx = N + 3;
  float *weff = t_floats((size_t)K * N), *a = t_floats(T);
  for (size_t i = 0; i < (size_t)K * N; i++) {
    float u = t_uniform(-1.0f, 1.0f);
    weff[i] = u > 0.33f ? 0.25f : u < -0.33f ? -0.25f : 0.0f;
  }
  int8_t *panel = t_bytes(fl_dx16_panel_bytes(K, N));
  fl_dx16_panel(panel, weff, K, N);
  int16_t *q = t_bytes(sizeof(int16_t) * (size_t)T * Kq);
  for (int t = 0; t < T; t++) {
    for (int k = 0; k < Kq; k++) {
      int v = (int)(t_next() % 65535) - 32767;
      q[(size_t)t * Kq + k] = (int16_t)(k >= K ? 0 : t % 3 == 1 ? (v < 0 ? -32767 : 32767) : v);
    }
    a[t] = t_uniform(1e-6f, 2.0f);
  }
  size_t n = (size_t)T * ldx;
  float *init = t_floats(n), *want = t_floats(n), *got = t_floats(n);
  t_fill(init, n, -1.0f, 1.0f);
  /* the reference against the plain sum over the signs of W_eff */
  memcpy(want, init, n * sizeof(float));
  fl_dx16_matmul_ref(want, ldx, q, a, panel, T, N, K, 0.0f);
  int bad = 0;
  for (int t = 0; t < T && !bad; t++)
    for (int j = 0; j < N && !bad; j++) {
      long s = 0;
      for (int k = 0; k < K; k++) {
        float w = weff[(size_t)k * N + j];
        s += (long)q[(size_t)t * Kq + k] * ((w > 0) - (w < 0));
      }
      float y = (float)s * FL_DX16_STEP * a[t];
      if (memcmp(&y, &want[(size_t)t * ldx + j], 4)) {
        bad = 1;
        T_CHECK(0, "dx16 ref T %d N %d K %d: [%d,%d] %.9g, plain sum gives %.9g", T, N, K, t, j,
                want[(size_t)t * ldx + j], y);
      }
    }
  for (int j = N; j < ldx; j++) T_CHECK(want[j] == init[j], "dx16 ref wrote past N (column %d)", j);
  dx16_matmul_fn fn[3];
  const char *name[3];
  int impls = matmul_impls(fn, name);
  for (int beta = 0; beta < 2; beta++) {
    memcpy(want, init, n * sizeof(float));
    fl_dx16_matmul_ref(want, ldx, q, a, panel, T, N, K, (float)beta);
    for (int i = 0; i < impls; i++) {
      memcpy(got, init, n * sizeof(float));
      fn[i](got, ldx, q, a, panel, T, N, K, (float)beta);
      char what[96];
      snprintf(what, sizeof what, "dx16 %s vs ref T %d N %d K %d beta %d", name[i], T, N, K, beta);
      t_same(what, got, want, n * sizeof(float), 4);
    }
  }
  t_free(weff), t_free(a), t_free(panel), t_free(q), t_free(init), t_free(want), t_free(got);
}

void test_dx16_matmul(void) {
  static const int Ts[] = {1, 5, 7, 31};
  static const int Ns[] = {1, 5, 16, 17, 64, 100};
  static const int Ks[] = {1, 2, 3, 64, 385};
  for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++)
    for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
      for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) matmul_case(Ts[a], Ns[b], Ks[c]);
  matmul_case(97, 384, 576); /* the v7 QKV backward's shape, more than one chunk of tokens */
}

/* The quantisation of dy * cs: SIMD against reference bit for bit, and what each row means. */
static void quant_case(int T, int K, int ldy) {
  int Kq = fl_dx16_kpad(K);
  float *dy = t_floats((size_t)T * ldy), *cs = t_floats(K), *aw = t_floats(T), *ag = t_floats(T);
  int16_t *qw = t_bytes(sizeof(int16_t) * (size_t)T * Kq),
          *qg = t_bytes(sizeof(int16_t) * (size_t)T * Kq);
  t_fill(cs, K, 0.01f, 2.0f);
  for (int t = 0; t < T; t++) {
    float *d = dy + (size_t)t * ldy, mag = 1.0f;
    switch (t % 8) {
    case 1: mag = 0.0f; break;   /* a zero row */
    case 2: mag = 1e30f; break;  /* huge (finite after the scale) */
    case 3: mag = 1e-41f; break; /* denormal */
    case 4: mag = 1e-20f; break;
    case 5: mag = 1e5f; break;
    default: break;
    }
    for (int k = 0; k < K; k++) d[k] = mag * t_normal();
    if (t % 8 == 6) d[K / 2] = INFINITY;
    if (t % 8 == 7) d[K - 1] = NAN;
  }
  fl_dx16_quant_ref(qw, aw, dy, ldy, cs, T, K);
  for (int t = 0; t < T; t++) {
    const float *d = dy + (size_t)t * ldy;
    const int16_t *qt = qw + (size_t)t * Kq;
    int maxq = 0, nonfinite = 0, zero = 1;
    for (int k = 0; k < Kq; k++) maxq = abs(qt[k]) > maxq ? abs(qt[k]) : maxq;
    for (int k = 0; k < K; k++) nonfinite |= !isfinite(d[k] * cs[k]), zero &= d[k] * cs[k] == 0;
    for (int k = K; k < Kq; k++) T_CHECK(qt[k] == 0, "dx16 quant row %d: padding %d", t, qt[k]);
    if (nonfinite) {
      T_CHECK(isnan(aw[t]) && maxq == 0, "dx16 quant row %d (inf/NaN): a %g max|q| %d", t, aw[t],
              maxq);
    } else if (zero) {
      T_CHECK(aw[t] == 0.0f && maxq == 0, "dx16 quant zero row %d: a %g max|q| %d", t, aw[t], maxq);
    } else {
      T_CHECK(maxq == 32767, "dx16 quant row %d: max|q| %d, want 32767", t, maxq);
      /* each value within half a step (plus the rounding of the dequantised value) of the
       * quantised one; the step of a row with a denormal absmax is the float's own spacing */
      double step = (double)aw[t] / 32767.0, err = 0.0;
      for (int k = 0; k < K; k++) {
        double deq = (float)((float)qt[k] * FL_DX16_STEP) * aw[t];
        double e = fabs((float)deq - (double)(d[k] * cs[k]));
        err = e > err ? e : err;
      }
      T_CHECK(err <= 0.51 * step + 1.5e-45, "dx16 quant row %d: error %g step %g", t, err, step);
    }
  }
  const fl_kernels *simd = t_simd();
  if (simd) {
    simd->dx16_quant(qg, ag, dy, ldy, cs, T, K);
    char what[96];
    snprintf(what, sizeof what, "dx16 quant %s vs ref T %d K %d q", simd->name, T, K);
    t_same(what, qg, qw, sizeof(int16_t) * (size_t)T * Kq, 2);
    snprintf(what, sizeof what, "dx16 quant %s vs ref T %d K %d scales", simd->name, T, K);
    for (int t = 0; t < T; t++) /* NaN scales compare as NaN, whatever their payload */
      if (isnan(aw[t])) ag[t] = isnan(ag[t]) ? aw[t] : ag[t];
    t_same(what, ag, aw, sizeof(float) * T, 4);
  }
  t_free(dy), t_free(cs), t_free(aw), t_free(ag), t_free(qw), t_free(qg);
}

void test_dx16_quant(void) {
  for (int i = 0; i < N_SIZES; i++) {
    quant_case(9, SIZES[i], SIZES[i] + 5);
    quant_case(SIZES[i] < 64 ? SIZES[i] : 17, SIZES[i], SIZES[i]);
  }
  quant_case(16, 576, 576 * 3);
}
