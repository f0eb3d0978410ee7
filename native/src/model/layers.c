/* Portable layers (forward/backward pairs) used by the model: RMSNorm backward, RoPE, causal
 * attention with an online softmax, SwiGLU, fused softmax cross-entropy, embedding.
 * Shapes: B batch rows, T positions, C channels, H heads of hd channels, V vocabulary. */
#include <math.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

static inline float dot(const float *a, const float *b, int n) {
  float acc[8] = {0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

static inline void axpy(float *y, float a, const float *x, int n) {
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* ---- RMSNorm backward: dx (T,C), dw (C) += ; dy, x (T,C); w (C); rstd (T) ---- */
void fl_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         const float *rstd, int T, int C, int accumulate) {
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int t = 0; t < T; t++) {
      const float *dyt = dy + (size_t)t * C, *xt = x + (size_t)t * C;
      float *dxt = dx + (size_t)t * C;
      float r = rstd[t], s = 0.0f;
      for (int c = 0; c < C; c++) s += dyt[c] * w[c] * xt[c];
      float k = r * r * r * s / C;
      for (int c = 0; c < C; c++) {
        float v = r * w[c] * dyt[c] - k * xt[c];
        dxt[c] = accumulate ? dxt[c] + v : v;
      }
    }
#pragma omp for schedule(static)
    for (int c0 = 0; c0 < C; c0 += 64) { /* column chunks: deterministic, no races */
      int c1 = c0 + 64 < C ? c0 + 64 : C;
      for (int t = 0; t < T; t++) {
        const float *dyt = dy + (size_t)t * C, *xt = x + (size_t)t * C;
        for (int c = c0; c < c1; c++) dw[c] += dyt[c] * xt[c] * rstd[t];
      }
    }
  }
}

/* ---- RoPE: cs (T, hd/2, 2) = cos, sin of pos * theta^(-2i/hd) ---- */
void fl_rope_table(float *cs, int T, int hd, double theta) {
  for (int t = 0; t < T; t++)
    for (int i = 0; i < hd / 2; i++) {
      double ang = t * pow(theta, -2.0 * i / hd);
      cs[((size_t)t * (hd / 2) + i) * 2] = (float)cos(ang);
      cs[((size_t)t * (hd / 2) + i) * 2 + 1] = (float)sin(ang);
    }
}

static void rope_apply(float *x, const float *cs, int B, int T, int H, int hd, float dir) {
  int C = H * hd;
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    const float *c = cs + (size_t)(bt % T) * hd;
    for (int h = 0; h < H; h++) {
      float *xh = x + (size_t)bt * C + h * hd;
      for (int i = 0; i < hd / 2; i++) {
        float co = c[2 * i], si = dir * c[2 * i + 1], a = xh[2 * i], b = xh[2 * i + 1];
        xh[2 * i] = a * co - b * si;
        xh[2 * i + 1] = a * si + b * co;
      }
    }
  }
}

void fl_rope_forward(float *x, const float *cs, int B, int T, int H, int hd) {
  rope_apply(x, cs, B, T, H, hd, 1.0f);
}

/* The rotation is orthogonal: its transpose (angle -> -angle) maps dy to dx. */
void fl_rope_backward(float *dx, const float *cs, int B, int T, int H, int hd) {
  rope_apply(dx, cs, B, T, H, hd, -1.0f);
}

/* ---- causal attention, online softmax over key blocks of KB ---- */
enum { KB = 64 };

void fl_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                          int B, int T, int H, int hd) {
  int C = H * hd;
  float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      float s[KB];
      for (int i = 0; i < T; i++) {
        const float *qi = q + ((size_t)b * T + i) * C + h * hd;
        float *oi = out + ((size_t)b * T + i) * C + h * hd;
        float m = -INFINITY, l = 0.0f;
        memset(oi, 0, sizeof(float) * hd);
        for (int j0 = 0; j0 <= i; j0 += KB) {
          int j1 = j0 + KB <= i + 1 ? j0 + KB : i + 1;
          float mb = -INFINITY;
          for (int j = j0; j < j1; j++) {
            s[j - j0] = dot(qi, k + ((size_t)b * T + j) * C + h * hd, hd) * scale;
            mb = fmaxf(mb, s[j - j0]);
          }
          if (mb > m) {
            float corr = expf(m - mb); /* 0 on the first block */
            l *= corr;
            for (int d = 0; d < hd; d++) oi[d] *= corr;
            m = mb;
          }
          for (int j = j0; j < j1; j++) {
            float p = expf(s[j - j0] - m);
            l += p;
            axpy(oi, p, v + ((size_t)b * T + j) * C + h * hd, hd);
          }
        }
        float inv = 1.0f / l;
        for (int d = 0; d < hd; d++) oi[d] *= inv;
        lse[((size_t)b * H + h) * T + i] = m + logf(l);
      }
    }
}

void fl_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                           const float *k, const float *v, const float *out, const float *lse,
                           int B, int T, int H, int hd) {
  int C = H * hd;
  float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      for (int j = 0; j < T; j++) {
        memset(dk + ((size_t)b * T + j) * C + h * hd, 0, sizeof(float) * hd);
        memset(dv + ((size_t)b * T + j) * C + h * hd, 0, sizeof(float) * hd);
      }
      for (int i = 0; i < T; i++) {
        size_t ri = ((size_t)b * T + i) * C + h * hd;
        const float *qi = q + ri, *doi = dout + ri;
        float *dqi = dq + ri;
        float Di = dot(doi, out + ri, hd), li = lse[((size_t)b * H + h) * T + i];
        memset(dqi, 0, sizeof(float) * hd);
        for (int j = 0; j <= i; j++) {
          size_t rj = ((size_t)b * T + j) * C + h * hd;
          float p = expf(dot(qi, k + rj, hd) * scale - li);
          axpy(dv + rj, p, doi, hd);
          float ds = p * (dot(doi, v + rj, hd) - Di) * scale;
          axpy(dqi, ds, k + rj, hd);
          axpy(dk + rj, ds, qi, hd);
        }
      }
    }
}

/* ---- SwiGLU: h = silu(g) * u (u NULL: h = silu(g)) ---- */
void fl_swiglu_forward(float *h, const float *g, const float *u, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float sg = g[i] / (1.0f + expf(-g[i]));
    h[i] = u ? sg * u[i] : sg;
  }
}

void fl_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u,
                        size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float sig = 1.0f / (1.0f + expf(-g[i]));
    float dsilu = sig * (1.0f + g[i] * (1.0f - sig));
    float ui = u ? u[i] : 1.0f;
    if (du) du[i] = dh[i] * g[i] * sig;
    dg[i] = dh[i] * ui * dsilu;
  }
}

/* ---- fused softmax cross-entropy over logits (T,V) ---- */
double fl_crossentropy_fused(float *logits, const int *targets, int T, int V, float grad_scale) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int t = 0; t < T; t++) {
    float *row = logits + (size_t)t * V;
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = fmaxf(mx, row[v]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int v = 0; v < V; v++) sum += expf(row[v] - mx);
    float lse = mx + logf(sum);
    total += (double)lse - row[targets[t]];
    if (grad_scale != 0.0f) {
#pragma omp simd
      for (int v = 0; v < V; v++) row[v] = expf(row[v] - lse) * grad_scale;
      row[targets[t]] -= grad_scale;
    }
  }
  return total;
}

/* ---- embedding: out (T,C) = E[tok]; dE (V,C) += scatter of dout ---- */
void fl_embedding_forward(float *out, const int *tok, const float *E, int T, int C) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) memcpy(out + (size_t)t * C, E + (size_t)tok[t] * C, sizeof(float) * C);
}

void fl_embedding_backward(float *dE, const float *dout, const int *tok, int T, int C, int V) {
  (void)V;
#pragma omp parallel for schedule(static)
  for (int c0 = 0; c0 < C; c0 += 32) {
    int c1 = c0 + 32 < C ? c0 + 32 : C;
    for (int t = 0; t < T; t++) {
      float *d = dE + (size_t)tok[t] * C;
      const float *g = dout + (size_t)t * C;
      for (int c = c0; c < c1; c++) d[c] += g[c];
    }
  }
}
