/* Scalar reference layers: RoPE, causal attention with an online softmax, SwiGLU, fused softmax
 * cross-entropy. Shapes: B batch rows, T positions, H heads of hd channels (C = H*hd), V vocab.
 * q, k, v rows have stride ld (a fused QKV buffer has ld = 3C); out, dout have stride C. */
#include <math.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

static float dot(const float *a, const float *b, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static void axpy(float *y, float a, const float *x, int n) {
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* ---- RoPE: rotate pair i of each head by pos * theta^(-2i/hd), cs (T, hd/2, 2) ---- */
void fl_rope_ref(float *x, int ld, const float *cs, int B, int T, int H, int hd, int inverse) {
  float dir = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    const float *c = cs + (size_t)(bt % T) * hd;
    for (int h = 0; h < H; h++) {
      float *xh = x + (size_t)bt * ld + h * hd;
      for (int i = 0; i < hd / 2; i++) {
        float co = c[2 * i], si = dir * c[2 * i + 1], a = xh[2 * i], b = xh[2 * i + 1];
        xh[2 * i] = a * co - b * si;
        xh[2 * i + 1] = a * si + b * co;
      }
    }
  }
}

/* ---- causal attention: for each query row, keys in blocks of FL_ATT_KB; the running max m,
 * the running sum l and the output are rescaled when a block raises the max. Needs no memory
 * beyond the stack, so it cannot fail. ---- */
int fl_attention_forward_ref(float *out, float *lse, const float *q, const float *k, const float *v,
                             int ld, int B, int T, int H, int hd) {
  int C = H * hd;
  float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      float s[FL_ATT_KB];
      for (int i = 0; i < T; i++) {
        const float *qi = q + ((size_t)b * T + i) * ld + h * hd;
        float *oi = out + ((size_t)b * T + i) * C + h * hd;
        float m = -INFINITY, l = 0.0f;
        memset(oi, 0, sizeof(float) * hd);
        for (int j0 = 0; j0 <= i; j0 += FL_ATT_KB) {
          int j1 = j0 + FL_ATT_KB <= i + 1 ? j0 + FL_ATT_KB : i + 1;
          float mb = -INFINITY;
          for (int j = j0; j < j1; j++) {
            s[j - j0] = dot(qi, k + ((size_t)b * T + j) * ld + h * hd, hd) * scale;
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
            axpy(oi, p, v + ((size_t)b * T + j) * ld + h * hd, hd);
          }
        }
        float inv = 1.0f / l;
        for (int d = 0; d < hd; d++) oi[d] *= inv;
        lse[((size_t)b * H + h) * T + i] = m + logf(l);
      }
    }
  return FL_OK;
}

/* p_ij = exp(s_ij - lse_i); dv_j += p_ij do_i; ds_ij = p_ij (do_i . v_j - do_i . o_i) scale;
 * dq_i += ds_ij k_j; dk_j += ds_ij q_i. One (b, h) per task, so dk, dv have no races. */
int fl_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, const float *out, const float *lse,
                              int ld, int B, int T, int H, int hd) {
  int C = H * hd;
  float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      for (int j = 0; j < T; j++) {
        memset(dk + ((size_t)b * T + j) * ld + h * hd, 0, sizeof(float) * hd);
        memset(dv + ((size_t)b * T + j) * ld + h * hd, 0, sizeof(float) * hd);
      }
      for (int i = 0; i < T; i++) {
        size_t ri = ((size_t)b * T + i) * ld + h * hd, oi = ((size_t)b * T + i) * C + h * hd;
        const float *qi = q + ri, *doi = dout + oi;
        float *dqi = dq + ri;
        float Di = dot(doi, out + oi, hd), li = lse[((size_t)b * H + h) * T + i];
        memset(dqi, 0, sizeof(float) * hd);
        for (int j = 0; j <= i; j++) {
          size_t rj = ((size_t)b * T + j) * ld + h * hd;
          float p = expf(dot(qi, k + rj, hd) * scale - li);
          axpy(dv + rj, p, doi, hd);
          float ds = p * (dot(doi, v + rj, hd) - Di) * scale;
          axpy(dqi, ds, k + rj, hd);
          axpy(dk + rj, ds, qi, hd);
        }
      }
    }
  return FL_OK;
}

/* ---- SwiGLU: h = silu(g) * u (u NULL: h = silu(g)); silu' = sig (1 + g (1 - sig)) ---- */
void fl_swiglu_forward_ref(float *h, const float *g, const float *u, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float sg = g[i] / (1.0f + expf(-g[i]));
    h[i] = u ? sg * u[i] : sg;
  }
}

void fl_swiglu_backward_ref(float *dg, float *du, const float *dh, const float *g, const float *u,
                            size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float sig = 1.0f / (1.0f + expf(-g[i]));
    float dsilu = sig * (1.0f + g[i] * (1.0f - sig));
    if (u) {
      du[i] = dh[i] * g[i] * sig;
      dg[i] = dh[i] * u[i] * dsilu;
    } else {
      dg[i] = dh[i] * dsilu;
    }
  }
}

/* ---- fused softmax cross-entropy over logits (T,V), in place ---- */
static double ce_row(float *row, int target, int V, float grad_scale) {
  float mx = -INFINITY;
  for (int v = 0; v < V; v++) mx = fmaxf(mx, row[v]);
  float sum = 0.0f;
  for (int v = 0; v < V; v++) sum += expf(row[v] - mx);
  float lse = mx + logf(sum);
  double loss = (double)lse - row[target];
  if (grad_scale != 0.0f) {
    for (int v = 0; v < V; v++) row[v] = expf(row[v] - lse) * grad_scale;
    row[target] -= grad_scale;
  }
  return loss;
}

double fl_crossentropy_ref(float *logits, const int *targets, int T, int V, float grad_scale) {
  return fl_crossentropy_rows(ce_row, logits, targets, T, V, grad_scale);
}
