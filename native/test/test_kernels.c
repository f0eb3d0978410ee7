/* Kernel tests: GEMM, ternary packing and matmul, activation quantisation, RMSNorm, optimizers
 * and reductions; the reference against a double-precision definition and the SIMD table
 * against the reference, over the odd sizes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* fp32 sums of K products against a double-precision sum: relative to the output's scale. */
#define TOL_GEMM 2e-6
/* Elementwise float formulas (one or two roundings apart). */
#define TOL_ELEM 2e-6
/* Row reductions (RMSNorm) in a different order. */
#define TOL_ROW 5e-6
/* Finite differences in fp32 with a central step. */
#define TOL_FD 1e-2
/* Double accumulations of the same floats in a different order. */
#define TOL_DOUBLE_SUM 1e-12

/* ---------------------------------------------------------------- GEMM */
static void gemm_naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, const float *C0, int ldc, double *C) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double acc = 0.0;
      for (int k = 0; k < K; k++)
        acc += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
               (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
      C[(size_t)i * N + j] =
          alpha * acc + (beta == 0.0f ? 0.0 : beta * (double)C0[(size_t)i * ldc + j]);
    }
}

static void gemm_case(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad) {
  int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
  float *A = t_floats(na), *B = t_floats(nb), *C0 = t_floats(nc), *C = t_floats(nc);
  float *got = t_floats((size_t)M * N);
  double *want = t_bytes(sizeof(double) * M * N);
  t_fill(A, na, -1, 1);
  t_fill(B, nb, -1, 1);
  t_fill(C0, nc, -1, 1);
  if (beta == 0.0f) /* beta 0 must not read C: NaNs there must not leak */
    for (size_t i = 0; i < nc; i++) C0[i] = NAN;
  gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc, want);
  const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
  for (int t = 0; t < 2 && tables[t]; t++) {
    memcpy(C, C0, nc * sizeof(float));
    tables[t]->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    for (int i = 0; i < M; i++) memcpy(got + (size_t)i * N, C + (size_t)i * ldc, N * sizeof(float));
    char what[128];
    snprintf(what, sizeof what, "gemm %s ta%d tb%d M%d N%d K%d a%g b%g pad%d", tables[t]->name, ta,
             tb, M, N, K, alpha, beta, pad);
    t_close_d(what, got, want, (size_t)M * N, TOL_GEMM * (1 + sqrt(K)));
    for (int i = 0; i < M && pad; i++) /* padding columns of C untouched */
      for (int j = N; j < ldc; j++)
        T_CHECK(memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], 4) == 0,
                "%s wrote C[%d][%d] beyond N", what, i, j);
  }
  t_free(A), t_free(B), t_free(C0), t_free(C), t_free(got), t_free(want);
}

void test_gemm(void) {
  static const int big[][3] = {{1023, 7, 33},   {7, 1023, 31}, {33, 31, 1023}, {255, 33, 1023},
                               {1, 1023, 255},  {1023, 1, 3},  {97, 130, 260}, {192, 384, 256},
                               {33, 8209, 300}, {7, 9000, 31}, /* wide B */
                               {37, 45, 2100},  {5, 3, 1500},  /* K split */
                               {9, 11, 1024}}; /* K split, 4 slices: more threads than slices */
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      for (int s = 0; s < N_SIZES - 1; s++)
        gemm_case(ta, tb, SIZES[s], SIZES[s], SIZES[s], 1.0f, 0.0f, 0);
      for (size_t c = 0; c < sizeof big / sizeof big[0]; c++)
        gemm_case(ta, tb, big[c][0], big[c][1], big[c][2], 1.0f, 0.0f, 0);
      gemm_case(ta, tb, 33, 31, 7, 0.5f, 1.0f, 3);
      gemm_case(ta, tb, 31, 33, 255, -1.5f, -0.75f, 1);
      gemm_case(ta, tb, 7, 3, 0, 1.0f, 0.5f, 0); /* K = 0: C = beta C */
    }
}

/* ---------------------------------------------------------------- ternary */
void test_ternary_pack(void) {
  for (int s = 0; s < N_SIZES; s++) {
    int N = SIZES[(s + 3) % N_SIZES] % 300, K = SIZES[s], Kp = fl_ternary_kpad(K);
    size_t n = (size_t)N * K;
    float *W = t_floats(n), *weff = t_floats(n);
    int8_t *wq = t_bytes(n);
    uint8_t *w = t_bytes(fl_ternary_packed_bytes(N, K));
    for (size_t i = 0; i < n; i++) W[i] = 0.05f * t_normal();
    W[0] = 0.0f;
    float sc = fl_ternary_scale(W, n);
    double mean = 0.0;
    for (size_t i = 0; i < n; i++) mean += fabs((double)W[i]);
    mean /= n;
    int rb = fl_ternary_row_bytes(K);
    T_CHECK(Kp % 32 == 0 && Kp >= K && Kp < K + 32, "kpad(%d) = %d", K, Kp);
    T_CHECK(rb % 32 == 0 && rb * 4 >= K && rb * 4 < K + 128, "row_bytes(%d) = %d", K, rb);
    T_CHECK(fabs(sc - fmax(mean, 1e-5)) <= 1e-6 * mean, "scale %g, mean|W| %g", sc, mean);
    if (n > 8) { /* ties of rint, signed zeros and NaN: W_eff must match bit for bit */
      float special[8] = {-0.0f, 0.5f, -0.5f, 1.5f, -1.5f, NAN, -1e-9f, 2.5f};
      for (int i = 0; i < 8; i++) W[1 + i] = i == 0 || i == 5 ? special[i] : special[i] * sc;
    }
    fl_ternary_pack(w, weff, W, sc, N, K);
    fl_ternary_unpack(wq, w, N, K);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
      float r = fminf(fmaxf(rintf(W[i] / sc), -1.0f), 1.0f), e = r * sc;
      if (wq[i] != (int8_t)r || memcmp(&weff[i], &e, sizeof e) != 0) bad++;
    }
    T_CHECK(bad == 0, "pack N%d K%d: %zu weights differ from clamp(rint(W/s))", N, K, bad);
    for (int r = 0; r < N; r++)
      for (int k = K; k < rb * 4; k++)
        T_CHECK(fl_ternary_code(w + (size_t)r * rb, k) == 0, "padding weight (%d,%d) not 0", r, k);
    t_free(W), t_free(weff), t_free(wq), t_free(w);
  }
  float zeros[5] = {0};
  T_CHECK(fl_ternary_scale(zeros, 5) == FL_QUANT_EPS, "scale of zeros is not eps");
}

/* extreme: all weights +1 (> 0) or -1 (< 0) and every input qx (else random weights and
 * inputs): the sums at their largest magnitude. */
static void ternary_case(int T, int N, int K, int extreme, int qx, int pad) {
  int Kp = fl_ternary_kpad(K), ldy = N + pad;
  int8_t *q = t_bytes((size_t)T * Kp), *wq = t_bytes((size_t)N * K);
  uint8_t *w = t_bytes(fl_ternary_packed_bytes(N, K));
  float *W = t_floats((size_t)N * K), *xs = t_floats(T);
  float *y = t_floats((size_t)T * ldy), *want = t_floats((size_t)T * ldy);
  for (size_t i = 0; i < (size_t)N * K; i++)
    W[i] = extreme ? (extreme > 0 ? 1.0f : -1.0f) : t_normal();
  float ws = fl_ternary_scale(W, (size_t)N * K);
  fl_ternary_pack(w, NULL, W, ws, N, K);
  fl_ternary_unpack(wq, w, N, K);
  for (int t = 0; t < T; t++) {
    for (int k = 0; k < K; k++)
      q[(size_t)t * Kp + k] = extreme ? (int8_t)qx : (int8_t)((int)(t_next() % 255) - 127);
    xs[t] = t_uniform(1e-3f, 1.0f);
  }
  for (int t = 0; t < T; t++)
    for (int n = 0; n < N; n++) {
      int64_t acc = 0;
      for (int k = 0; k < K; k++) acc += (int64_t)q[(size_t)t * Kp + k] * wq[(size_t)n * K + k];
      want[(size_t)t * ldy + n] = (float)acc * (ws * xs[t]);
    }
  const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
  for (int i = 0; i < 2 && tables[i]; i++) {
    char what[96];
    snprintf(what, sizeof what, "ternary %s T%d N%d K%d%s %d", tables[i]->name, T, N, K,
             extreme ? " extreme" : "", extreme ? qx : 0);
    memcpy(y, want, sizeof(float) * T * ldy); /* padding columns keep their values */
    for (int t = 0; t < T; t++)
      for (int n = 0; n < N; n++) y[(size_t)t * ldy + n] = NAN;
    tables[i]->ternary_matmul(y, ldy, q, xs, w, ws, T, N, K);
    t_same(what, y, want, sizeof(float) * T * ldy, 4);
  }
  t_free(q), t_free(wq), t_free(w), t_free(W), t_free(xs), t_free(y), t_free(want);
}

void test_ternary_matmul(void) {
  for (int s = 0; s < N_SIZES; s++) {
    ternary_case(33, 31, SIZES[s], 0, 0, 0);       /* every K */
    ternary_case(SIZES[s] % 300, 7, 255, 0, 0, 1); /* every T */
    ternary_case(5, SIZES[s], 33, 0, 0, 0);        /* every N */
  }
  /* |sum| at its largest, for inputs -127 and +127 (a kernel may offset them to unsigned):
   * int16 partial sums must not wrap, past 128 inputs (64 pairs) too, where they are widened */
  for (int qx = -127; qx <= 127; qx += 254) {
    ternary_case(19, 17, 1023, 1, qx, 0);
    ternary_case(19, 17, 1023, -1, qx, 0);
    ternary_case(9, 5, 4100, 1, qx, 0);
    ternary_case(9, 11, 2081, -1, qx, 0);
  }
  ternary_case(64, 96, 512, 0, 0, 0);
  ternary_case(40, 600, 1500, 0, 0, 3); /* weights past 256 KB unpacked: outputs in chunks */
}

/* ---------------------------------------------------------------- activation quantisation */
void test_quant_act(void) {
  for (int s = 0; s < N_SIZES; s++) {
    int T = 9, K = SIZES[s], Kp = fl_ternary_kpad(K);
    float *x = t_floats((size_t)T * K), *xs[2], *xe[2];
    int8_t *q[2];
    for (int t = 0; t < T; t++) {
      float mag = t == 0 ? 0.0f : t == 1 ? 1e-7f : t == 2 ? 1e4f : 1.0f;
      for (int k = 0; k < K; k++) x[(size_t)t * K + k] = mag * t_uniform(-1, 1);
    }
    for (int k = 0; k < K && T > 3; k++) /* exact halves: 127 * (k+0.5)/127 rounds to even */
      x[3 * (size_t)K + k] = k == 0 ? 127.0f : (float)(k % 127) + 0.5f - (k % 2 ? 127.0f : 0.0f);
    const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
    for (int i = 0; i < 2; i++) {
      q[i] = t_bytes((size_t)T * Kp);
      xs[i] = t_floats(T);
      xe[i] = t_floats((size_t)T * K);
      memset(q[i], 0x7f, (size_t)T * Kp); /* padding must be written */
    }
    for (int i = 0; i < 2 && tables[i]; i++) {
      tables[i]->quant_act(q[i], xs[i], x, T, K);
      tables[i]->dequant_act(xe[i], q[i], xs[i], T, K);
    }
    size_t bad = 0;
    for (int t = 0; t < T; t++) {
      float amax = 0.0f;
      for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[(size_t)t * K + k]));
      float gamma = fmaxf(amax, FL_QUANT_EPS), inv = 127.0f / gamma;
      if (xs[0][t] != gamma / 127.0f) bad++;
      for (int k = 0; k < Kp; k++) {
        float want = k < K ? fminf(fmaxf(rintf(x[(size_t)t * K + k] * inv), -127), 127) : 0;
        if (q[0][(size_t)t * Kp + k] != (int8_t)want) bad++;
        if (k < K && xe[0][(size_t)t * K + k] != want * xs[0][t]) bad++;
      }
    }
    T_CHECK(bad == 0, "quant_act scalar K%d: %zu values differ from the definition", K, bad);
    T_CHECK(K < 2 || q[0][3 * (size_t)Kp + 1] == (int8_t)rintf(x[3 * (size_t)K + 1]),
            "half rounding");
    if (tables[1]) {
      char what[64];
      snprintf(what, sizeof what, "quant_act %s K%d q", tables[1]->name, K);
      t_same(what, q[1], q[0], (size_t)T * Kp, 1);
      t_same("quant_act scale", xs[1], xs[0], sizeof(float) * T, 4);
      t_same("dequant_act", xe[1], xe[0], sizeof(float) * T * K, 4);
    }
    for (int i = 0; i < 2; i++) t_free(q[i]), t_free(xs[i]), t_free(xe[i]);
    t_free(x);
  }
}

/* ---------------------------------------------------------------- RMSNorm */
void test_rmsnorm(void) {
  const float eps = 1e-5f;
  for (int s = 0; s < N_SIZES; s++) {
    int T = 7, C = SIZES[s];
    size_t n = (size_t)T * C;
    float *x = t_floats(n), *w = t_floats(C), *dy = t_floats(n), *y = t_floats(n);
    float *r = t_floats(T), *dx = t_floats(n), *dw = t_floats(C);
    double *yd = t_bytes(n * 8), *dxd = t_bytes(n * 8), *dwd = t_bytes(C * 8.0);
    t_fill(x, n, -2, 2), t_fill(w, C, 0.5f, 1.5f), t_fill(dy, n, -1, 1);
    for (int c = 0; c < C; c++) dwd[c] = 0.25; /* dw accumulates onto what is there */
    for (int t = 0; t < T; t++) {
      const float *xt = x + (size_t)t * C;
      double ss = 0, dot = 0;
      for (int c = 0; c < C; c++) ss += (double)xt[c] * xt[c];
      double rs = 1.0 / sqrt(ss / C + eps);
      for (int c = 0; c < C; c++) {
        yd[(size_t)t * C + c] = xt[c] * rs * w[c];
        dot += (double)dy[(size_t)t * C + c] * w[c] * xt[c];
        dwd[c] += (double)dy[(size_t)t * C + c] * xt[c] * rs;
      }
      for (int c = 0; c < C; c++)
        dxd[(size_t)t * C + c] = rs * w[c] * dy[(size_t)t * C + c] -
                                 xt[c] * rs * rs * rs / C * dot + 0.5; /* accumulate onto 0.5 */
    }
    const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
    for (int i = 0; i < 2 && tables[i]; i++) {
      char what[64];
      tables[i]->rmsnorm_forward(y, r, x, w, T, C, eps);
      snprintf(what, sizeof what, "rmsnorm fwd %s C%d", tables[i]->name, C);
      t_close_d(what, y, yd, n, TOL_ROW);
      for (size_t j = 0; j < n; j++) dx[j] = 0.5f;
      for (int c = 0; c < C; c++) dw[c] = 0.25f;
      tables[i]->rmsnorm_backward(dx, dw, dy, x, w, r, T, C, 1);
      snprintf(what, sizeof what, "rmsnorm bwd dx %s C%d", tables[i]->name, C);
      t_close_d(what, dx, dxd, n, TOL_ROW * 4);
      snprintf(what, sizeof what, "rmsnorm bwd dw %s C%d", tables[i]->name, C);
      t_close_d(what, dw, dwd, C, TOL_ROW * 4);
      for (size_t j = 0; j < n; j++) dx[j] = NAN; /* accumulate = 0 overwrites */
      tables[i]->rmsnorm_backward(dx, dw, dy, x, w, r, T, C, 0);
      for (size_t j = 0; j < n; j++) dxd[j] -= 0.5;
      snprintf(what, sizeof what, "rmsnorm bwd dx overwrite %s C%d", tables[i]->name, C);
      t_close_ds(what, dx, dxd, n, TOL_ROW * 4, 1.0); /* C = 1 cancels: |r w dy| ~ 1 */
      for (size_t j = 0; j < n; j++) dxd[j] += 0.5;
    }
    t_free(x), t_free(w), t_free(dy), t_free(y), t_free(r), t_free(dx), t_free(dw);
    t_free(yd), t_free(dxd), t_free(dwd);
  }
}

struct rms_ctx {
  float *x, *w, *y, *r, *proj;
  int T, C;
};

static double rms_loss(void *p) {
  struct rms_ctx *c = p;
  fl_kernels_ref()->rmsnorm_forward(c->y, c->r, c->x, c->w, c->T, c->C, 1e-5f);
  double l = 0;
  for (int i = 0; i < c->T * c->C; i++) l += (double)c->y[i] * c->proj[i];
  return l;
}

void test_rmsnorm_fd(void) {
  struct rms_ctx c = {.T = 3, .C = 33};
  size_t n = (size_t)c.T * c.C;
  c.x = t_floats(n), c.w = t_floats(c.C), c.y = t_floats(n), c.r = t_floats(c.T);
  c.proj = t_floats(n);
  float *dx = t_floats(n), *dw = t_floats(c.C);
  t_fill(c.x, n, -2, 2), t_fill(c.w, c.C, 0.5f, 1.5f), t_fill(c.proj, n, -1, 1);
  rms_loss(&c);
  fl_kernels_ref()->rmsnorm_backward(dx, dw, c.proj, c.x, c.w, c.r, c.T, c.C, 0);
  t_fd("rmsnorm dx vs finite differences", c.x, n, dx, rms_loss, &c, 1e-2f, TOL_FD, 99);
  t_fd("rmsnorm dw vs finite differences", c.w, c.C, dw, rms_loss, &c, 1e-2f, TOL_FD, 33);
  t_free(c.x), t_free(c.w), t_free(c.y), t_free(c.r), t_free(c.proj), t_free(dx), t_free(dw);
}

/* ---------------------------------------------------------------- optimizers, reductions */
void test_optimizers(void) {
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, mu = 0.9f;
  for (int s = 0; s < N_SIZES; s++) {
    size_t n = (size_t)SIZES[s] * 3 + s;
    float *p0 = t_floats(n), *g = t_floats(n), *p[2], *m[2], *v[2];
    double *pd = t_bytes(n * 8), *md = t_bytes(n * 8), *vd = t_bytes(n * 8);
    t_fill(p0, n, -1, 1);
    for (int i = 0; i < 2; i++) {
      p[i] = t_floats(n), m[i] = t_floats(n), v[i] = t_floats(n);
      memcpy(p[i], p0, n * 4);
    }
    for (size_t j = 0; j < n; j++) pd[j] = p0[j];
    const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
    for (int step = 1; step <= 3; step++) {
      t_fill(g, n, -1, 1);
      for (int i = 0; i < 2 && tables[i]; i++)
        tables[i]->adamw(p[i], g, m[i], v[i], n, lr, b1, b2, eps, wd, step);
      double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
      for (size_t j = 0; j < n; j++) {
        md[j] = b1 * md[j] + (1 - b1) * (double)g[j];
        vd[j] = b2 * vd[j] + (1 - b2) * (double)g[j] * g[j];
        pd[j] = pd[j] * (1 - (double)lr * wd) - lr / bc1 * md[j] / (sqrt(vd[j]) / sqrt(bc2) + eps);
      }
    }
    char what[64];
    for (int i = 0; i < 2 && tables[i]; i++) {
      snprintf(what, sizeof what, "adamw %s n%zu", tables[i]->name, n);
      t_close_d(what, p[i], pd, n, TOL_ELEM * 4); /* m and v are checked through p */
    }
    /* SGD momentum from zero momentum */
    for (int i = 0; i < 2; i++) memcpy(p[i], p0, n * 4), memset(m[i], 0, n * 4);
    for (size_t j = 0; j < n; j++) pd[j] = p0[j], md[j] = 0;
    for (int step = 1; step <= 3; step++) {
      t_fill(g, n, -1, 1);
      for (int i = 0; i < 2 && tables[i]; i++)
        tables[i]->sgd_momentum(p[i], g, m[i], n, lr, mu, wd);
      for (size_t j = 0; j < n; j++) {
        md[j] = mu * md[j] + (g[j] + (double)wd * pd[j]);
        pd[j] -= lr * md[j];
      }
    }
    for (int i = 0; i < 2 && tables[i]; i++) {
      snprintf(what, sizeof what, "sgd momentum %s n%zu", tables[i]->name, n);
      t_close_d(what, p[i], pd, n, TOL_ELEM);
    }
    for (int i = 0; i < 2; i++) t_free(p[i]), t_free(m[i]), t_free(v[i]);
    t_free(p0), t_free(g), t_free(pd), t_free(md), t_free(vd);
  }
}

void test_reductions(void) {
  size_t sizes[] = {1, 3, 7, 31, 33, 255, 1023, 65537, 300001};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    float *x = t_floats(n), *y[2];
    t_fill(x, n, -3, 3);
    double want = 0;
    for (size_t i = 0; i < n; i++) want += (double)x[i] * x[i];
    const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
    for (int i = 0; i < 2; i++) y[i] = t_floats(n);
    for (int i = 0; i < 2 && tables[i]; i++) {
      double got = tables[i]->sum_squares(x, n);
      T_CHECK(fabs(got - want) <= TOL_DOUBLE_SUM * want, "sum_squares %s n%zu: %.17g vs %.17g",
              tables[i]->name, n, got, want);
      T_CHECK(got == tables[i]->sum_squares(x, n), "sum_squares %s not repeatable",
              tables[i]->name);
      memcpy(y[i], x, n * 4);
      tables[i]->scale(y[i], n, -0.37f);
    }
    for (size_t i = 0; i < n; i++) x[i] *= -0.37f;
    t_same("scale scalar", y[0], x, n * 4, 4);
    if (tables[1]) t_same("scale simd", y[1], x, n * 4, 4);
    t_free(x), t_free(y[0]), t_free(y[1]);
  }
}
