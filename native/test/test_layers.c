/* Layer tests: RoPE, causal attention (against naive softmax attention in double), SwiGLU,
 * fused cross-entropy, embedding; finite differences for the backward passes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* Elementwise float formulas with a transcendental (expf, sin/cos tables) against double. */
#define TOL_TRANS 4e-6
/* Attention against the naive double-precision softmax attention, relative to the scale. */
#define TOL_ATT 2e-5
/* Finite differences in fp32 with a central step. */
#define TOL_FD 1e-2

/* ---------------------------------------------------------------- RoPE */
void test_rope(void) {
  static const int cases[][4] = {{1, 1, 1, 2},  {2, 3, 3, 8},    {1, 7, 2, 16},  {2, 31, 1, 64},
                                 {1, 33, 3, 6}, {1, 255, 2, 10}, {1, 1023, 1, 4}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int B = cases[c][0], T = cases[c][1], H = cases[c][2], hd = cases[c][3], C = H * hd;
    int ld = C + (c % 2 ? 5 : 0);
    size_t n = (size_t)B * T * ld;
    float *cs = t_floats((size_t)T * hd), *x = t_floats(n), *y = t_floats(n), *z = t_floats(n);
    double *want = t_bytes(n * 8);
    fl_rope_table(cs, T, hd, 10000.0);
    t_fill(x, n, -1, 1);
    for (int bt = 0; bt < B * T; bt++) {
      int pos = bt % T;
      for (int j = 0; j < ld; j++) want[(size_t)bt * ld + j] = x[(size_t)bt * ld + j];
      for (int h = 0; h < H; h++)
        for (int i = 0; i < hd / 2; i++) {
          double ang = pos * pow(10000.0, -2.0 * i / hd);
          size_t o = (size_t)bt * ld + h * hd + 2 * i;
          want[o] = x[o] * cos(ang) - x[o + 1] * sin(ang);
          want[o + 1] = x[o] * sin(ang) + x[o + 1] * cos(ang);
        }
    }
    const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
    for (int i = 0; i < 2 && tables[i]; i++) {
      char what[96];
      memcpy(y, x, n * 4);
      tables[i]->rope(y, ld, cs, B, T, H, hd, 0);
      snprintf(what, sizeof what, "rope %s B%d T%d H%d hd%d ld%d", tables[i]->name, B, T, H, hd,
               ld);
      t_close_d(what, y, want, n, TOL_TRANS * (1 + T / 64.0)); /* large angles round in float */
      memcpy(z, y, n * 4);
      tables[i]->rope(z, ld, cs, B, T, H, hd, 1);
      snprintf(what, sizeof what, "rope inverse(forward) %s T%d", tables[i]->name, T);
      t_close(what, z, x, n, TOL_TRANS);
      /* adjoint: <R x, w> == <x, R^T w>, the backward is the transpose */
      double lhs = 0, rhs = 0;
      t_fill(z, n, -1, 1);
      for (size_t j = 0; j < n; j++) lhs += (double)y[j] * z[j];
      tables[i]->rope(z, ld, cs, B, T, H, hd, 1);
      for (size_t j = 0; j < n; j++) rhs += (double)x[j] * z[j];
      T_CHECK(fabs(lhs - rhs) <= 1e-5 * (1 + fabs(lhs)), "rope %s adjoint %.9g vs %.9g",
              tables[i]->name, lhs, rhs);
    }
    t_free(cs), t_free(x), t_free(y), t_free(z), t_free(want);
  }
}

/* ---------------------------------------------------------------- attention */
/* Naive causal softmax attention in double: out (B,T,C), lse (B,H,T); if dout, the backward
 * into dq, dk, dv (row stride ld like q, k, v). */
static void attention_naive(double *out, double *lse, double *dq, double *dk, double *dv,
                            const float *dout, const float *q, const float *k, const float *v,
                            int ld, int B, int T, int H, int hd) {
  int C = H * hd;
  double scale = 1.0 / sqrt(hd), *p = t_bytes(sizeof(double) * T),
         *dp = t_bytes(sizeof(double) * T);
  if (dout)
    for (size_t i = 0; i < (size_t)B * T * ld; i++) dq[i] = dk[i] = dv[i] = 0;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < T; i++) {
        const float *qi = q + ((size_t)b * T + i) * ld + h * hd;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j <= i; j++) {
          const float *kj = k + ((size_t)b * T + j) * ld + h * hd;
          double s = 0;
          for (int d = 0; d < hd; d++) s += (double)qi[d] * kj[d];
          p[j] = s * scale;
          mx = fmax(mx, p[j]);
        }
        for (int j = 0; j <= i; j++) sum += (p[j] = exp(p[j] - mx));
        lse[((size_t)b * H + h) * T + i] = mx + log(sum);
        double *oi = out + ((size_t)b * T + i) * C + h * hd;
        for (int d = 0; d < hd; d++) oi[d] = 0;
        for (int j = 0; j <= i; j++) {
          p[j] /= sum;
          for (int d = 0; d < hd; d++) oi[d] += p[j] * v[((size_t)b * T + j) * ld + h * hd + d];
        }
        if (!dout) continue;
        const float *doi = dout + ((size_t)b * T + i) * C + h * hd;
        double dot = 0;
        for (int j = 0; j <= i; j++) {
          dp[j] = 0;
          for (int d = 0; d < hd; d++)
            dp[j] += (double)doi[d] * v[((size_t)b * T + j) * ld + h * hd + d];
          dot += p[j] * dp[j];
        }
        for (int j = 0; j <= i; j++) {
          double ds = p[j] * (dp[j] - dot) * scale;
          size_t rj = ((size_t)b * T + j) * ld + h * hd, ri = ((size_t)b * T + i) * ld + h * hd;
          for (int d = 0; d < hd; d++) {
            dq[ri + d] += ds * k[rj + d];
            dk[rj + d] += ds * q[ri + d];
            dv[rj + d] += p[j] * doi[d];
          }
        }
      }
  t_free(p), t_free(dp);
}

/* Copies the (B*T, C) columns of a row-stride-ld buffer into a dense one. */
static void dense(float *dst, const float *src, int rows, int C, int ld) {
  for (int r = 0; r < rows; r++) memcpy(dst + (size_t)r * C, src + (size_t)r * ld, C * 4);
}

static void dense_d(double *dst, const double *src, int rows, int C, int ld) {
  for (int r = 0; r < rows; r++) memcpy(dst + (size_t)r * C, src + (size_t)r * ld, C * 8);
}

static void attention_case(int B, int T, int H, int hd, int fused, float amp) {
  int C = H * hd, ld = fused ? 3 * C : C, rows = B * T;
  size_t nin = (size_t)rows * ld, nout = (size_t)rows * C, nl = (size_t)B * H * T;
  /* fused: q, k, v are column blocks of one (rows, 3C) buffer, like the model's QKV output */
  float *qkv = t_floats(3 * nin), *q = qkv, *k = fused ? qkv + C : qkv + nin;
  float *v = fused ? qkv + 2 * C : qkv + 2 * nin;
  float *out = t_floats(nout), *lse = t_floats(nl), *dout = t_floats(nout);
  float *dqkv = t_floats(3 * nin), *dq = dqkv, *dk = fused ? dqkv + C : dqkv + nin;
  float *dv = fused ? dqkv + 2 * C : dqkv + 2 * nin, *tmp = t_floats(nout);
  double *wout = t_bytes(nout * 8), *wlse = t_bytes(nl * 8), *wd[3], *wdd = t_bytes(nout * 8);
  for (int i = 0; i < 3; i++) wd[i] = t_bytes(3 * nin * 8);
  t_fill(qkv, 3 * nin, -amp, amp);
  t_fill(dout, nout, -1, 1);
  attention_naive(wout, wlse, wd[0], wd[1], wd[2], dout, q, k, v, ld, B, T, H, hd);
  const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
  for (int i = 0; i < 2 && tables[i]; i++) {
    char what[128];
    const char *nm = tables[i]->name;
    tables[i]->attention_forward(out, lse, q, k, v, ld, B, T, H, hd);
    snprintf(what, sizeof what, "attention fwd %s B%d T%d H%d hd%d%s", nm, B, T, H, hd,
             fused ? " fused" : "");
    t_close_d(what, out, wout, nout, TOL_ATT);
    snprintf(what, sizeof what, "attention lse %s T%d", nm, T);
    t_close_d(what, lse, wlse, nl, TOL_ATT);
    tables[i]->attention_backward(dq, dk, dv, dout, q, k, v, out, lse, ld, B, T, H, hd);
    float *g[3] = {dq, dk, dv};
    const char *gn[3] = {"dq", "dk", "dv"};
    for (int j = 0; j < 3; j++) {
      dense(tmp, g[j], rows, C, ld);
      dense_d(wdd, wd[j], rows, C, ld);
      snprintf(what, sizeof what, "attention bwd %s %s T%d H%d hd%d", gn[j], nm, T, H, hd);
      t_close_d(what, tmp, wdd, nout, TOL_ATT * 5);
    }
  }
  t_free(qkv), t_free(out), t_free(lse), t_free(dout), t_free(dqkv), t_free(tmp);
  t_free(wout), t_free(wlse), t_free(wdd);
  for (int i = 0; i < 3; i++) t_free(wd[i]);
}

void test_attention(void) {
  attention_case(1, 1, 1, 2, 0, 1.0f);
  attention_case(2, 3, 3, 8, 0, 1.0f);
  attention_case(1, 7, 2, 16, 1, 1.0f);
  attention_case(2, 31, 1, 64, 0, 1.0f);
  attention_case(1, 33, 3, 6, 1, 2.0f);
  attention_case(1, 255, 2, 64, 0, 1.5f); /* several key blocks: the online rescale */
  attention_case(1, 1023, 1, 8, 1, 3.0f);
  attention_case(2, 100, 2, 32, 1, 4.0f); /* peaked softmax */
}

struct att_ctx {
  float *q, *k, *v, *out, *lse, *proj;
  int B, T, H, hd;
};

static double att_loss(void *p) {
  struct att_ctx *c = p;
  int C = c->H * c->hd;
  fl_kernels_ref()->attention_forward(c->out, c->lse, c->q, c->k, c->v, C, c->B, c->T, c->H, c->hd);
  double l = 0;
  for (int i = 0; i < c->B * c->T * C; i++) l += (double)c->out[i] * c->proj[i];
  return l;
}

void test_attention_fd(void) {
  struct att_ctx c = {.B = 2, .T = 5, .H = 2, .hd = 4};
  int C = c.H * c.hd;
  size_t n = (size_t)c.B * c.T * C;
  c.q = t_floats(n), c.k = t_floats(n), c.v = t_floats(n), c.out = t_floats(n);
  c.lse = t_floats((size_t)c.B * c.H * c.T), c.proj = t_floats(n);
  float *dq = t_floats(n), *dk = t_floats(n), *dv = t_floats(n);
  t_fill(c.q, n, -1, 1), t_fill(c.k, n, -1, 1), t_fill(c.v, n, -1, 1), t_fill(c.proj, n, -1, 1);
  att_loss(&c);
  fl_kernels_ref()->attention_backward(dq, dk, dv, c.proj, c.q, c.k, c.v, c.out, c.lse, C, c.B, c.T,
                                       c.H, c.hd);
  t_fd("attention dq vs finite differences", c.q, n, dq, att_loss, &c, 1e-2f, TOL_FD, 80);
  t_fd("attention dk vs finite differences", c.k, n, dk, att_loss, &c, 1e-2f, TOL_FD, 80);
  t_fd("attention dv vs finite differences", c.v, n, dv, att_loss, &c, 1e-2f, TOL_FD, 80);
  t_free(c.q), t_free(c.k), t_free(c.v), t_free(c.out), t_free(c.lse), t_free(c.proj);
  t_free(dq), t_free(dk), t_free(dv);
}

/* ---------------------------------------------------------------- SwiGLU */
struct swi_ctx {
  float *g, *u, *h, *proj;
  size_t n;
};

static double swi_loss(void *p) {
  struct swi_ctx *c = p;
  fl_kernels_ref()->swiglu_forward(c->h, c->g, c->u, c->n);
  double l = 0;
  for (size_t i = 0; i < c->n; i++) l += (double)c->h[i] * c->proj[i];
  return l;
}

void test_swiglu(void) {
  for (int s = 0; s < N_SIZES; s++) {
    size_t n = (size_t)SIZES[s] * 5 + 2;
    float *g = t_floats(n), *u = t_floats(n), *dh = t_floats(n), *h = t_floats(n);
    float *dg = t_floats(n), *du = t_floats(n);
    double *wh = t_bytes(n * 8), *wdg = t_bytes(n * 8), *wdu = t_bytes(n * 8);
    t_fill(g, n, -8, 8), t_fill(u, n, -2, 2), t_fill(dh, n, -1, 1);
    g[0] = -100.0f, g[n - 1] = 100.0f; /* saturated sigmoid */
    if (n > 4) g[1] = -30.0f, g[2] = 30.0f, g[3] = 0.0f;
    for (int gated = 0; gated < 2; gated++) {
      const float *uu = gated ? u : NULL;
      for (size_t i = 0; i < n; i++) {
        double sig = 1.0 / (1.0 + exp(-(double)g[i])), ui = gated ? u[i] : 1.0;
        wh[i] = g[i] * sig * ui;
        wdg[i] = dh[i] * ui * sig * (1.0 + g[i] * (1.0 - sig));
        wdu[i] = dh[i] * g[i] * sig;
      }
      const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
      for (int i = 0; i < 2 && tables[i]; i++) {
        char what[96];
        tables[i]->swiglu_forward(h, g, uu, n);
        snprintf(what, sizeof what, "swiglu fwd %s n%zu%s", tables[i]->name, n,
                 gated ? "" : " silu");
        t_close_d(what, h, wh, n, TOL_TRANS);
        tables[i]->swiglu_backward(dg, gated ? du : NULL, dh, g, uu, n);
        snprintf(what, sizeof what, "swiglu bwd dg %s n%zu%s", tables[i]->name, n,
                 gated ? "" : " silu");
        t_close_d(what, dg, wdg, n, TOL_TRANS);
        if (gated) {
          snprintf(what, sizeof what, "swiglu bwd du %s n%zu", tables[i]->name, n);
          t_close_d(what, du, wdu, n, TOL_TRANS);
        }
      }
    }
    t_free(g), t_free(u), t_free(dh), t_free(h), t_free(dg), t_free(du);
    t_free(wh), t_free(wdg), t_free(wdu);
  }
  struct swi_ctx c = {.n = 40};
  c.g = t_floats(c.n), c.u = t_floats(c.n), c.h = t_floats(c.n), c.proj = t_floats(c.n);
  float *dg = t_floats(c.n), *du = t_floats(c.n);
  t_fill(c.g, c.n, -4, 4), t_fill(c.u, c.n, -2, 2), t_fill(c.proj, c.n, -1, 1);
  fl_kernels_ref()->swiglu_backward(dg, du, c.proj, c.g, c.u, c.n);
  t_fd("swiglu dg vs finite differences", c.g, c.n, dg, swi_loss, &c, 1e-2f, TOL_FD, 40);
  t_fd("swiglu du vs finite differences", c.u, c.n, du, swi_loss, &c, 1e-2f, TOL_FD, 40);
  t_free(c.g), t_free(c.u), t_free(c.h), t_free(c.proj), t_free(dg), t_free(du);
}

/* ---------------------------------------------------------------- cross-entropy */
struct ce_ctx {
  float *logits, *work;
  int *targets, T, V;
};

static double ce_loss(void *p) {
  struct ce_ctx *c = p;
  memcpy(c->work, c->logits, sizeof(float) * c->T * c->V);
  return fl_kernels_ref()->crossentropy(c->work, c->targets, c->T, c->V, 0.0f);
}

void test_crossentropy(void) {
  for (int s = 0; s < N_SIZES; s++) {
    int T = 5, V = SIZES[s];
    size_t n = (size_t)T * V;
    float *x = t_floats(n), *y = t_floats(n);
    int *tg = t_bytes(sizeof(int) * T);
    double *wg = t_bytes(n * 8), wl = 0;
    const float gs = 1.0f / T;
    t_fill(x, n, -5, 5);
    for (int v = 0; v < V; v++) x[(size_t)(T - 1) * V + v] += 80.0f; /* large logits: stable */
    for (int t = 0; t < T; t++) {
      tg[t] = (int)(t_next() % V);
      double mx = -INFINITY, sum = 0;
      for (int v = 0; v < V; v++) mx = fmax(mx, x[(size_t)t * V + v]);
      for (int v = 0; v < V; v++) sum += exp(x[(size_t)t * V + v] - mx);
      double lse = mx + log(sum);
      wl += lse - x[(size_t)t * V + tg[t]];
      for (int v = 0; v < V; v++)
        wg[(size_t)t * V + v] = gs * (exp(x[(size_t)t * V + v] - lse) - (v == tg[t]));
    }
    const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
    for (int i = 0; i < 2 && tables[i]; i++) {
      char what[96];
      memcpy(y, x, n * 4);
      double l0 = tables[i]->crossentropy(y, tg, T, V, 0.0f);
      t_same("crossentropy grad_scale 0 leaves logits", y, x, n * 4, 4);
      double l = tables[i]->crossentropy(y, tg, T, V, gs);
      T_CHECK(fabs(l - wl) <= 1e-5 * (1 + fabs(wl)) && l == l0,
              "crossentropy %s V%d: loss %.9g want %.9g", tables[i]->name, V, l, wl);
      snprintf(what, sizeof what, "crossentropy grad %s V%d", tables[i]->name, V);
      t_close_d(what, y, wg, n, TOL_TRANS);
    }
    t_free(x), t_free(y), t_free(tg), t_free(wg);
  }
  struct ce_ctx c = {.T = 3, .V = 11};
  size_t n = (size_t)c.T * c.V;
  c.logits = t_floats(n), c.work = t_floats(n), c.targets = t_bytes(sizeof(int) * c.T);
  float *g = t_floats(n);
  t_fill(c.logits, n, -3, 3);
  for (int t = 0; t < c.T; t++) c.targets[t] = (t * 7) % c.V;
  memcpy(g, c.logits, n * 4);
  fl_kernels_ref()->crossentropy(g, c.targets, c.T, c.V, 1.0f);
  t_fd("crossentropy grad vs finite differences", c.logits, n, g, ce_loss, &c, 1e-2f, TOL_FD, 33);
  t_free(c.logits), t_free(c.work), t_free(c.targets), t_free(g);
}

/* ---------------------------------------------------------------- embedding */
void test_embedding(void) {
  for (int s = 0; s < N_SIZES; s++) {
    int V = 13, C = SIZES[s], T = 40;
    float *E = t_floats((size_t)V * C), *out = t_floats((size_t)T * C),
          *dE = t_floats((size_t)V * C);
    float *dout = t_floats((size_t)T * C);
    double *want = t_bytes(sizeof(double) * V * C);
    int *tok = t_bytes(sizeof(int) * T);
    t_fill(E, (size_t)V * C, -1, 1), t_fill(dout, (size_t)T * C, -1, 1);
    for (int t = 0; t < T; t++) tok[t] = (int)(t_next() % 5) * 2; /* repeated ids */
    fl_embedding_forward(out, tok, E, T, C);
    size_t bad = 0;
    for (int t = 0; t < T; t++)
      bad += memcmp(out + (size_t)t * C, E + (size_t)tok[t] * C, C * 4) != 0;
    T_CHECK(bad == 0, "embedding forward C%d: %zu rows differ", C, bad);
    for (size_t i = 0; i < (size_t)V * C; i++) dE[i] = 0.5f, want[i] = 0.5;
    for (int t = 0; t < T; t++)
      for (int c = 0; c < C; c++) want[(size_t)tok[t] * C + c] += dout[(size_t)t * C + c];
    fl_embedding_backward(dE, dout, tok, T, C);
    char what[64];
    snprintf(what, sizeof what, "embedding backward C%d", C);
    t_close_d(what, dE, want, (size_t)V * C, 1e-6);
    t_free(E), t_free(out), t_free(dE), t_free(dout), t_free(want), t_free(tok);
  }
}
