/* Scalar reference of the one-row attention of the KV-cache decoder (src/model/decode.c): the
 * last row of fl_attention_forward_ref (layers_ref.c), computed from a cache whose keys are
 * stored transposed. Same blocks of FL_ATT_KB keys, same online-softmax rescale, same order of
 * every sum, so the result is that kernel's bit for bit. */
#include <math.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

/* q (hd) . column j of kt (hd, ldk), summed in channel order like layers_ref.c's dot. */
static float dot_col(const float *q, const float *kt, int ldk, int j, int hd) {
  float s = 0.0f;
  for (int i = 0; i < hd; i++) s += q[i] * kt[(size_t)i * ldk + j];
  return s;
}

void fl_attention_row_ref(float *out, const float *q, const float *kt, int ldk, const float *v,
                          int ldv, int n, int hd) {
  float scale = 1.0f / sqrtf((float)hd), s[FL_ATT_KB], m = -INFINITY, l = 0.0f;
  memset(out, 0, sizeof(float) * hd);
  for (int j0 = 0; j0 < n; j0 += FL_ATT_KB) {
    int j1 = j0 + FL_ATT_KB <= n ? j0 + FL_ATT_KB : n;
    float mb = -INFINITY;
    for (int j = j0; j < j1; j++) {
      s[j - j0] = dot_col(q, kt, ldk, j, hd) * scale;
      mb = fmaxf(mb, s[j - j0]);
    }
    if (mb > m) {
      float corr = expf(m - mb); /* 0 on the first block */
      l *= corr;
      for (int d = 0; d < hd; d++) out[d] *= corr;
      m = mb;
    }
    for (int j = j0; j < j1; j++) {
      float p = expf(s[j - j0] - m);
      l += p;
      const float *vj = v + (size_t)j * ldv;
      for (int d = 0; d < hd; d++) out[d] += p * vj[d];
    }
  }
  float inv = 1.0f / l;
  for (int d = 0; d < hd; d++) out[d] *= inv;
}
