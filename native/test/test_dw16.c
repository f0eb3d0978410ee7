/* The integer dW of ternary linears (flashlm.h, "integer dW"): the per-output quantisation of a
 * block of dy against its definition (the integer dX's quantisation of dy's columns) and every
 * ISA's twin bit for bit, the panels of int8 inputs against their layout, and the integer
 * product over a full block at the int32 limit (q at +-32767, x at +-127) against a plain sum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* dy (T, K) with row stride ldy. special: columns of every magnitude the integer dX's test gives
 * rows (zero, huge, denormal, tiny, large, an infinity, a NaN), the rest N(0, 1), so every group
 * of 8 columns has one that SIMD code hands to the reference; otherwise normal columns of
 * magnitudes from 1e-20 to 1e30 only, which SIMD code quantises itself. */
static void fill_columns(float *dy, int T, int K, int ldy, int special) {
  static const float plain[8] = {1.0f, 1e30f, 0.1f, 1e-20f, 3.0f, 1e5f, 7.0f, 0.5f};
  for (int k = 0; k < K; k++) {
    float mag = plain[k % 8];
    if (special) switch (k % 8) {
      case 1: mag = 0.0f; break;
      case 3: mag = 1e-41f; break;
      default: break;
      }
    for (int t = 0; t < T; t++) dy[(size_t)t * ldy + k] = mag * t_normal();
    if (special && k % 8 == 6) dy[(size_t)(T / 2) * ldy + k] = INFINITY;
    if (special && k % 8 == 7) dy[(size_t)(T - 1) * ldy + k] = NAN;
  }
}

static void quant_case(int T, int K, int ldy, int special) {
  int Tq = fl_dx16_kpad(T);
  float *dy = t_floats((size_t)T * ldy), *cs = t_floats(T), *col = t_floats((size_t)K * T);
  float *aw = t_floats(K), *ag = t_floats(K), *ad = t_floats(K);
  int16_t *qw = t_bytes(sizeof(int16_t) * (size_t)K * Tq),
          *qg = t_bytes(sizeof(int16_t) * (size_t)K * Tq),
          *qd = t_bytes(sizeof(int16_t) * (size_t)K * Tq);
  fill_columns(dy, T, K, ldy, special);
  t_fill(cs, T, 0.01f, 2.0f);
  /* the definition: row k is the integer dX's quantisation of dy[:,k] * cs, as one row */
  for (int k = 0; k < K; k++)
    for (int t = 0; t < T; t++) col[(size_t)k * T + t] = dy[(size_t)t * ldy + k];
  for (int k = 0; k < K; k++)
    fl_dx16_quant_ref(qd + (size_t)k * Tq, ad + k, col + (size_t)k * T, T, cs, 1, T);
  fl_dw16_quant_ref(qw, aw, dy, ldy, cs, T, K);
  char what[96];
  snprintf(what, sizeof what, "dw16 quant ref vs dx16 quant of the columns T %d K %d q", T, K);
  t_same(what, qw, qd, sizeof(int16_t) * (size_t)K * Tq, 2);
  for (int k = 0; k < K; k++) /* NaN scales compare as NaN, whatever their payload */
    if (isnan(ad[k]) && isnan(aw[k])) aw[k] = ad[k];
  snprintf(what, sizeof what, "dw16 quant ref vs dx16 quant of the columns T %d K %d a", T, K);
  t_same(what, aw, ad, sizeof(float) * K, 4);
  const fl_kernels *simd = t_simd();
  if (simd) {
    simd->dw16_quant(qg, ag, dy, ldy, cs, T, K);
    snprintf(what, sizeof what, "dw16 quant %s vs ref T %d K %d q", simd->name, T, K);
    t_same(what, qg, qw, sizeof(int16_t) * (size_t)K * Tq, 2);
    for (int k = 0; k < K; k++)
      if (isnan(aw[k]) && isnan(ag[k])) ag[k] = aw[k];
    snprintf(what, sizeof what, "dw16 quant %s vs ref T %d K %d a", simd->name, T, K);
    t_same(what, ag, aw, sizeof(float) * K, 4);
  }
  t_free(dy), t_free(cs), t_free(col), t_free(aw), t_free(ag), t_free(ad);
  t_free(qw), t_free(qg), t_free(qd);
}

void test_dw16_quant(void) {
  static const int Ts[] = {1, 2, 7, 16, 17, 64, 255, FL_DW16_TOKENS};
  static const int Ks[] = {1, 7, 8, 9, 16, 31, 100};
  for (int special = 0; special < 2; special++) {
    for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++)
      for (size_t b = 0; b < sizeof Ks / sizeof *Ks; b++) {
        quant_case(Ts[a], Ks[b], Ks[b], special);
        quant_case(Ts[a], Ks[b], Ks[b] + 13, special);
      }
    quant_case(FL_DW16_TOKENS, 768, 768 * 3, special); /* a column block of the v7 QKV gradient */
  }
}

/* The panel of an int8 matrix (T rows, N columns, stride ldx) against its layout, then the
 * integer product of a full block at the int32 limit against a plain sum, every ISA bit for bit. */
static void product_case(int T, int N, int R) {
  int ldx = N + 5, Tq = fl_dx16_kpad(T), ldw = N + 3;
  int8_t *x = t_bytes((size_t)T * ldx), *panel = t_bytes(fl_dx16_panel_bytes(T, N));
  for (size_t i = 0; i < (size_t)T * ldx; i++) x[i] = (int8_t)((int)(t_next() % 255) - 127);
  for (int t = 0; t < T; t += 3) x[(size_t)t * ldx] = 127, x[(size_t)t * ldx + N - 1] = -127;
  memset(panel, 0x55, fl_dx16_panel_bytes(T, N)); /* every byte must be written */
  fl_dw16_panel(panel, x, ldx, T, N);
  int P = Tq / 2, bad = 0;
  for (int jb = 0; jb < (N + 15) / 16 && !bad; jb++)
    for (int p = 0; p < P && !bad; p++)
      for (int c = 0; c < 16 && !bad; c++)
        for (int e = 0; e < 2 && !bad; e++) {
          int t = 2 * p + e, j = 16 * jb + c;
          int8_t want = t < T && j < N ? x[(size_t)t * ldx + j] : 0;
          int8_t got = panel[((size_t)jb * P + p) * 32 + 2 * c + e];
          if (got != want) {
            bad = 1;
            T_CHECK(0, "dw16 panel T %d N %d: row %d column %d holds %d, want %d", T, N, t, j, got,
                    want);
          }
        }
  /* q rows at the extremes: the first all +32767 against x's +127 column reaches the limit */
  int16_t *q = t_bytes(sizeof(int16_t) * (size_t)R * Tq);
  float *a = t_floats(R);
  for (int r = 0; r < R; r++) {
    for (int t = 0; t < Tq; t++) {
      int v = (int)(t_next() % 65535) - 32767;
      q[(size_t)r * Tq + t] = (int16_t)(t >= T ? 0 : r == 0 ? 32767 : r == 1 ? -32767 : v);
    }
    a[r] = t_uniform(1e-3f, 4.0f);
  }
  size_t n = (size_t)R * ldw;
  float *init = t_floats(n), *want = t_floats(n), *got = t_floats(n);
  t_fill(init, n, -1.0f, 1.0f);
  memcpy(want, init, n * sizeof(float));
  fl_dx16_matmul_ref(want, ldw, q, a, panel, R, N, T, 1.0f);
  bad = 0;
  for (int r = 0; r < R && !bad; r++)
    for (int j = 0; j < N && !bad; j++) {
      long long s = 0;
      for (int t = 0; t < T; t++) s += (long long)q[(size_t)r * Tq + t] * x[(size_t)t * ldx + j];
      float y = init[(size_t)r * ldw + j] + (float)s * FL_DX16_STEP * a[r];
      if (memcmp(&y, &want[(size_t)r * ldw + j], 4)) {
        bad = 1;
        T_CHECK(0, "dw16 product T %d N %d: [%d,%d] %.9g, plain sum gives %.9g", T, N, r, j,
                want[(size_t)r * ldw + j], y);
      }
    }
  /* the SIMD table's entry and, on x86, each ISA's own product */
  typedef void (*product_fn)(float *, int, const int16_t *, const float *, const int8_t *, int, int,
                             int, float);
  product_fn fn[3];
  const char *name[3];
  int impls = 0;
  const fl_kernels *simd = t_simd();
  if (simd) fn[impls] = simd->dx16_matmul, name[impls++] = simd->name;
#if defined(FLASHLM_HAVE_AVX2)
  if (simd) fn[impls] = fl_dx16_matmul_avx2, name[impls++] = "avx2 vpmaddwd";
  if (simd && fl_dx16_vnni_usable()) fn[impls] = fl_dx16_matmul_vnni, name[impls++] = "avx512 vnni";
#endif
  for (int i = 0; i < impls; i++) {
    memcpy(got, init, n * sizeof(float));
    fn[i](got, ldw, q, a, panel, R, N, T, 1.0f);
    char what[96];
    snprintf(what, sizeof what, "dw16 product %s vs ref T %d N %d rows %d", name[i], T, N, R);
    t_same(what, got, want, n * sizeof(float), 4);
  }
  t_free(x), t_free(panel), t_free(q), t_free(a), t_free(init), t_free(want), t_free(got);
}

void test_dw16_panel_and_product(void) {
  product_case(FL_DW16_TOKENS, 192, 13);
  product_case(FL_DW16_TOKENS, 17, 6);
  product_case(255, 33, 7);
  product_case(1, 1, 1);
  product_case(37, 100, 25);
}
