/* Inference over packed weights (API and format in flashlm.h, "inference"), in the order the
 * model's life goes: the packed layout, packing from master weights, loading, the forward over
 * new tokens (prefill and decode share it), scoring a window, free.
 *
 * Shapes: r rows (new tokens) at positions p0 .. p0+r-1, d model width, f ffn width, V vocab,
 * H heads of hd = d/H channels, ctx = seq_len cached positions. Weights are loaded once: ternary
 * linears keep their 2-bit codes and the scale s * alpha (quantised once, where the training
 * forward re-packs every call), float linears their fp32 weights and alpha. Every step uses the
 * chosen kernel table exactly as model.c's forward does (same kernels, same arguments per row),
 * so its logits are that forward's bit for bit; the one kernel of its own is the one-row
 * attention over the cache, the twin of the table's attention (internal.h). A single new token
 * (decode) runs each ternary product split over the threads by output rows: the table's kernel
 * parallelises over tokens, which one token would leave to one thread. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

/* ---- the packed layout: the model's tensors in order, without alphas ---- */
enum { P_EMB, P_NORM, P_LIN };
typedef struct pentry {
  int kind, layer, which; /* which: 0..6 = q k v o gate up down (P_LIN), 0/1 = norm1/2 */
  int rows, cols;         /* [out, in] of a linear; [d] of a norm; [V, d] of the embedding */
  size_t off, alpha;      /* offsets in the master params: the tensor, its alpha (if any) */
  size_t bytes;           /* bytes in the packed weights */
} pentry;

/* Fills e (NULL: counts only) with the packed entries of s; returns their number. The offsets
 * follow the model layout in flashlm.h (test_decode checks them against fl_model_tensor). */
static int plan(const fl_spec *s, int emb, pentry *e) {
  int tr = s->arch == FL_ARCH_TRANSFORMER, d = s->d, f = s->ffn, n = 0;
  int nlin = tr ? 7 : 2;
  size_t off = 0, alpha = 0;
  static const int TR_ORDER[9] = {-1, 0, 1, 2, 3, -2, 4, 5, 6}; /* -1 norm1, -2 norm2 */
  static const int FF_ORDER[3] = {-1, 5, 6};
  /* alphas sit after model.norm.weight: vocab*d + layers + d floats in */
  size_t per_layer =
      tr ? (size_t)4 * d * d + (size_t)3 * d * f + 2 * (size_t)d : (size_t)2 * d * f + d;
  size_t alphas = (size_t)s->vocab * d + s->n_layers * per_layer + d;
#define ADD(k_, l_, w_, r_, c_, b_)                             \
  do {                                                          \
    if (e) e[n] = (pentry){k_, l_, w_, r_, c_, off, alpha, b_}; \
    n++;                                                        \
  } while (0)
  ADD(P_EMB, -1, 0, s->vocab, d, (size_t)s->vocab * d * (emb == FL_EMB_BF16 ? 2 : 4));
  off += (size_t)s->vocab * d;
  for (int i = 0; i < s->n_layers; i++) {
    const int *order = tr ? TR_ORDER : FF_ORDER;
    for (int j = 0; j < (tr ? 9 : 3); j++) {
      int w = order[j];
      if (w < 0) {
        ADD(P_NORM, i, -w - 1, d, 0, (size_t)d * 4);
        off += d;
        continue;
      }
      int out = w == 6 ? d : w >= 4 ? f : d, in = w == 6 ? f : d;
      size_t data = s->ternary ? (size_t)out * fl_ternary_row_bytes(in) : (size_t)out * in * 4;
      alpha = s->learnable_alpha ? alphas + (size_t)i * nlin + (tr ? w : w - 5) : 0;
      ADD(P_LIN, i, w, out, in, 4 + data);
      off += (size_t)out * in;
      alpha = 0;
    }
  }
  ADD(P_NORM, -1, 2, d, 0, (size_t)d * 4);
#undef ADD
  return n;
}

static int check_spec(const fl_spec *s, int emb) {
  if (s->arch != FL_ARCH_TRANSFORMER && s->arch != FL_ARCH_FFN)
    return fl_error(FL_EINVAL, "model arch %d: expected 0 (transformer) or 1 (ffn)", s->arch);
  if (s->vocab <= 0 || s->d <= 0 || s->n_layers <= 0 || s->ffn <= 0 || s->seq_len <= 0)
    return fl_error(FL_EINVAL,
                    "model sizes must be positive: vocab %d d %d n_layers %d ffn %d "
                    "seq_len %d",
                    s->vocab, s->d, s->n_layers, s->ffn, s->seq_len);
  if (s->arch == FL_ARCH_TRANSFORMER &&
      (s->n_heads <= 0 || s->d % s->n_heads != 0 || (s->d / s->n_heads) % 2 != 0))
    return fl_error(FL_EINVAL, "n_heads %d must divide d %d into an even head dim", s->n_heads,
                    s->d);
  if (!(s->norm_eps > 0) || (s->arch == FL_ARCH_TRANSFORMER && !(s->rope_theta > 0)))
    return fl_error(FL_EINVAL, "norm_eps %g and rope_theta %g must be positive", s->norm_eps,
                    s->rope_theta);
  if ((size_t)s->vocab * s->d > (size_t)1 << 31 || s->seq_len > 1 << 20)
    return fl_error(FL_EINVAL, "model too large: vocab*d %zu, seq_len %d", (size_t)s->vocab * s->d,
                    s->seq_len);
  if (emb != FL_EMB_F32 && emb != FL_EMB_BF16)
    return fl_error(FL_EINVAL, "embedding type %d: expected 0 (fp32) or 1 (bf16)", emb);
  return FL_OK;
}

size_t fl_packed_bytes(const fl_spec *s, int emb) {
  if (check_spec(s, emb)) return 0;
  int n = plan(s, emb, NULL);
  pentry *e = malloc(sizeof *e * n);
  if (!e) return 0;
  plan(s, emb, e);
  size_t total = 0;
  for (int i = 0; i < n; i++) total += e[i].bytes;
  free(e);
  return total;
}

/* bf16 of x, round to nearest even (NaN stays NaN). */
static uint16_t to_bf16(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float x;
  memcpy(&x, &u, 4);
  return x;
}

int fl_packed_from_params(void *out, size_t bytes, const fl_spec *s, int emb, const float *params,
                          size_t n_params) {
  int rc = check_spec(s, emb);
  if (rc) return rc;
  size_t need = fl_packed_bytes(s, emb);
  if (bytes != need)
    return fl_error(FL_EINVAL, "packed weights need %zu bytes, the buffer has %zu", need, bytes);
  int n = plan(s, emb, NULL);
  pentry *e = malloc(sizeof *e * n);
  if (!e) return fl_error(FL_ENOMEM, "cannot allocate the packed layout");
  plan(s, emb, e);
  size_t layers = e[n - 1].off + s->d; /* model.norm.weight ends the tensors before the alphas */
  size_t total =
      layers +
      (s->learnable_alpha ? (size_t)s->n_layers * (s->arch == FL_ARCH_TRANSFORMER ? 7 : 2) : 0);
  if (n_params != total) {
    free(e);
    return fl_error(FL_EINVAL, "the model layout holds %zu parameters, not %zu", total, n_params);
  }
  uint8_t *o = out;
  for (int i = 0; i < n; i++) {
    const pentry *p = &e[i];
    const float *w = params + p->off;
    if (p->kind == P_EMB && emb == FL_EMB_BF16) {
      uint16_t *h = (uint16_t *)o;
      for (size_t j = 0; j < (size_t)p->rows * p->cols; j++) h[j] = to_bf16(w[j]);
    } else if (p->kind != P_LIN) {
      memcpy(o, w, p->bytes);
    } else {
      float alpha = s->learnable_alpha ? params[p->alpha] : 1.0f, scale = alpha;
      if (s->ternary) { /* the forward's quantisation, and its wscale: s * alpha in float */
        float sw = fl_ternary_scale(w, (size_t)p->rows * p->cols);
        fl_ternary_pack(o + 4, NULL, w, sw, p->rows, p->cols);
        scale = sw * alpha;
      } else {
        memcpy(o + 4, w, (size_t)p->rows * p->cols * 4);
      }
      memcpy(o, &scale, 4);
    }
    o += p->bytes;
  }
  free(e);
  return FL_OK;
}

/* ---- the loaded model ---- */
typedef struct ilinear {
  int in, out;
  float scale; /* s * alpha (ternary) or alpha */
  uint8_t *w;  /* (out, row_bytes(in)) codes, ternary */
  float *wf;   /* (out, in), quant none */
} ilinear;

typedef struct ilayer {
  float *norm1, *norm2;
  ilinear lin[7]; /* q k v o gate up down */
  float *kt;      /* (H, hd, ctx): keys after RoPE, head h's channel c of position p at
                     [(h*hd + c)*ctx + p] (transposed, so 8 keys' scores fill a vector) */
  float *vc;      /* (ctx, d): values */
} ilayer;

struct fl_infer {
  fl_spec spec;
  int transformer, hd, ctx, pos, head_rows;
  const fl_kernels *k;
  fl_attention_row_fn att_row;
  fl_gemv_rows_fn gemv;
  float *emb, *normf, *cs;
  ilayer *layers;
  /* scratch for up to ctx rows */
  float *x, *xn, *rstd, *qkv, *att, *g, *u, *h, *tmp, *logits;
  int8_t *q8;
  float *sc;
  int *tok;
  fl_arena mem; /* every buffer above */
};

static void *take(fl_infer *m, size_t bytes) { return fl_arena_take(&m->mem, bytes); }

void fl_infer_free(fl_infer *m) {
  if (!m) return;
  fl_arena_free(&m->mem);
  free(m->layers);
  free(m);
}

static int alloc_scratch(fl_infer *m) {
  const fl_spec *s = &m->spec;
  size_t R = m->ctx, d = s->d, f = s->ffn, F = sizeof(float), wide = f > d ? f : d;
  /* head: about 16M logits (64 MB) at a time, like the training model's head */
  size_t hr = ((size_t)16 << 20) / s->vocab;
  m->head_rows = (int)(hr < 1 ? 1 : hr > R ? R : hr);
  int ok = (m->x = take(m, R * d * F)) && (m->xn = take(m, R * d * F)) &&
           (m->rstd = take(m, R * F)) && (m->tmp = take(m, R * d * F)) &&
           (m->g = take(m, R * f * F)) && (m->h = take(m, R * f * F)) &&
           (m->q8 = take(m, R * fl_ternary_kpad((int)wide))) && (m->sc = take(m, R * F)) &&
           (m->tok = take(m, R * sizeof(int))) &&
           (m->logits = take(m, (size_t)m->head_rows * s->vocab * F));
  if (ok && m->transformer) {
    ok = (m->qkv = take(m, R * 3 * d * F)) && (m->att = take(m, R * d * F)) &&
         (m->u = take(m, R * f * F)) && (m->cs = take(m, R * m->hd * F));
    if (ok) fl_rope_table(m->cs, m->ctx, m->hd, s->rope_theta);
    for (int i = 0; ok && i < s->n_layers; i++)
      ok = (m->layers[i].kt = take(m, R * d * F)) && (m->layers[i].vc = take(m, R * d * F));
  }
  return ok;
}

/* Copies a linear in, refusing ternary code 3 inside a row (corruption: the format never has
 * it, and the kernels would read it as +2). */
static int load_linear(fl_infer *m, ilinear *l, const pentry *p, const uint8_t *src, int layer) {
  l->out = p->rows, l->in = p->cols;
  memcpy(&l->scale, src, 4);
  size_t data = p->bytes - 4;
  if (!m->spec.ternary) {
    if (!(l->wf = take(m, data))) return fl_error(FL_ENOMEM, "cannot allocate a linear");
    memcpy(l->wf, src + 4, data);
    return FL_OK;
  }
  if (!(l->w = take(m, data))) return fl_error(FL_ENOMEM, "cannot allocate a linear");
  memcpy(l->w, src + 4, data);
  int rb = fl_ternary_row_bytes(l->in);
  for (int r = 0; r < l->out; r++)
    for (int k = 0; k < l->in; k++)
      if (fl_ternary_code(l->w + (size_t)r * rb, k) == 2)
        return fl_error(FL_EINVAL,
                        "packed weights are corrupt: layer %d linear %d row %d column "
                        "%d holds ternary code 3",
                        layer, p->which, r, k);
  return FL_OK;
}

int fl_infer_create(fl_infer **out, const fl_spec *s, int emb, const void *packed, size_t bytes) {
  *out = NULL;
  int rc = check_spec(s, emb);
  if (rc) return rc;
  size_t need = fl_packed_bytes(s, emb);
  if (need == 0) return fl_error(FL_ENOMEM, "cannot size the packed weights");
  if (bytes != need)
    return fl_error(FL_EINVAL,
                    "packed weights hold %zu bytes; this model (vocab %d d %d layers "
                    "%d ffn %d) needs %zu",
                    bytes, s->vocab, s->d, s->n_layers, s->ffn, need);
  fl_infer *m = calloc(1, sizeof *m);
  int n = plan(s, emb, NULL);
  pentry *e = malloc(sizeof *e * n);
  if (!m || !e || !(m->layers = calloc(s->n_layers, sizeof(ilayer)))) {
    free(e);
    fl_infer_free(m);
    return fl_error(FL_ENOMEM, "cannot allocate the inference model");
  }
  plan(s, emb, e);
  m->spec = *s;
  m->transformer = s->arch == FL_ARCH_TRANSFORMER;
  m->hd = m->transformer ? s->d / s->n_heads : 0;
  m->ctx = s->seq_len;
  fl_infer_use_kernels(m, fl_kernels_get());
  rc = alloc_scratch(m) ? FL_OK
                        : fl_error(FL_ENOMEM,
                                   "cannot allocate the cache and scratch for "
                                   "%d positions",
                                   m->ctx);
  const uint8_t *src = packed;
  for (int i = 0; !rc && i < n; src += e[i].bytes, i++) {
    const pentry *p = &e[i];
    size_t cnt = (size_t)p->rows * (p->kind == P_EMB ? p->cols : 1);
    float *dst = NULL;
    if (p->kind == P_LIN) {
      rc = load_linear(m, &m->layers[p->layer].lin[p->which], p, src, p->layer);
      continue;
    }
    if (!(dst = take(m, cnt * sizeof(float)))) {
      rc = fl_error(FL_ENOMEM, "cannot allocate the weights");
      break;
    }
    if (p->kind == P_EMB && emb == FL_EMB_BF16) {
      for (size_t j = 0; j < cnt; j++) {
        uint16_t hv;
        memcpy(&hv, src + 2 * j, 2);
        dst[j] = from_bf16(hv);
      }
    } else {
      memcpy(dst, src, cnt * sizeof(float));
    }
    if (p->kind == P_EMB)
      m->emb = dst;
    else if (p->layer < 0)
      m->normf = dst;
    else if (p->which == 0)
      m->layers[p->layer].norm1 = dst;
    else
      m->layers[p->layer].norm2 = dst;
  }
  free(e);
  if (rc) {
    fl_infer_free(m);
    return rc;
  }
  *out = m;
  return FL_OK;
}

void fl_infer_use_kernels(fl_infer *m, const fl_kernels *k) {
  m->k = k;
  m->att_row = fl_attention_row_for(k);
  m->gemv = fl_gemv_rows_for(k);
}

fl_gemv_rows_fn fl_gemv_rows_for(const fl_kernels *k) {
#if defined(FLASHLM_HAVE_AVX2)
  if (k == fl_kernels_avx2()) return fl_gemv_rows_avx2;
#endif
  (void)k;
  return NULL;
}

fl_attention_row_fn fl_attention_row_for(const fl_kernels *k) {
#if defined(FLASHLM_HAVE_AVX2)
  if (k == fl_kernels_avx2()) return fl_attention_row_avx2;
#endif
  (void)k;
  return fl_attention_row_ref; /* the reference table's and NEON's attention is the reference */
}

const fl_spec *fl_infer_spec(const fl_infer *m) { return &m->spec; }
int fl_infer_position(const fl_infer *m) { return m->pos; }
void fl_infer_reset(fl_infer *m) { m->pos = 0; }

/* ---- forward ---- */
static void add_into(float *y, const float *b, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) y[i] = y[i] + b[i];
}

/* y (r, out) with row stride ldy = linear l of the input x (r, in) fp32, or, ternary, of its
 * quantised rows q8/sc (made by the caller once for the linears that share the input). */
static void linear(fl_infer *m, const ilinear *l, const float *x, int r, float *y, int ldy) {
  const fl_kernels *k = m->k;
  if (!m->spec.ternary) {
    k->gemm(0, 1, r, l->out, l->in, l->scale, x, l->in, l->wf, l->in, 0.0f, y, ldy);
    return;
  }
  int nt = omp_get_max_threads();
  if (r > 1 || nt < 2 || omp_in_parallel()) {
    k->ternary_matmul(y, ldy, m->q8, m->sc, l->w, l->scale, r, l->out, l->in);
    return;
  }
  /* one token: output rows split over the threads, in blocks of 8 (the kernel's group) */
  int rb = fl_ternary_row_bytes(l->in);
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), team = omp_get_num_threads();
    int per = (l->out + 8 * team - 1) / (8 * team) * 8, n0 = t * per;
    int n1 = n0 + per < l->out ? n0 + per : l->out;
    omp_set_num_threads(1); /* the kernel's own parallel loop runs on this thread alone */
    if (n0 < n1)
      k->ternary_matmul(y + n0, ldy, m->q8, m->sc, l->w + (size_t)n0 * rb, l->scale, 1, n1 - n0,
                        l->in);
  }
}

/* Quantises x (r, K) for the ternary linears that read it (nothing for fp32 linears). */
static void quant(fl_infer *m, const float *x, int r, int K) {
  if (m->spec.ternary) m->k->quant_act(m->q8, m->sc, x, r, K);
}

/* Attention of r new rows (positions p0 ..) over the cache of layer L: their keys and values
 * (in qkv after RoPE) go into the cache first, then each (row, head) attends to keys 0 .. its
 * position. */
static void attend(fl_infer *m, ilayer *L, int r, int p0) {
  int d = m->spec.d, H = m->spec.n_heads, hd = m->hd, ctx = m->ctx;
  for (int t = 0; t < r; t++) {
    const float *kr = m->qkv + (size_t)t * 3 * d + d, *vr = kr + d;
    for (int c = 0; c < d; c++) L->kt[(size_t)c * ctx + p0 + t] = kr[c];
    memcpy(L->vc + (size_t)(p0 + t) * d, vr, sizeof(float) * d);
  }
  fl_attention_row_fn row = m->att_row;
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int t = 0; t < r; t++)
    for (int h = 0; h < H; h++)
      row(m->att + (size_t)t * d + h * hd, m->qkv + (size_t)t * 3 * d + h * hd,
          L->kt + (size_t)h * hd * ctx, ctx, L->vc + h * hd, d, p0 + t + 1, hd);
}

/* The layers over r rows of x at positions p0 ..; x becomes the last layer's output. */
static void layers_forward(fl_infer *m, int r, int p0) {
  const fl_kernels *k = m->k;
  int d = m->spec.d, f = m->spec.ffn;
  float eps = (float)m->spec.norm_eps;
  for (int i = 0; i < m->spec.n_layers; i++) {
    ilayer *L = &m->layers[i];
    ilinear *q = &L->lin[0], *kk = &L->lin[1], *v = &L->lin[2], *o = &L->lin[3];
    ilinear *gate = &L->lin[4], *up = &L->lin[5], *down = &L->lin[6];
    k->rmsnorm_forward(m->xn, m->rstd, m->x, L->norm1, r, d, eps);
    quant(m, m->xn, r, d);
    if (!m->transformer) {
      linear(m, up, m->xn, r, m->g, f);
      k->swiglu_forward(m->h, m->g, NULL, (size_t)r * f);
    } else {
      int H = m->spec.n_heads, hd = m->hd;
      linear(m, q, m->xn, r, m->qkv, 3 * d);
      linear(m, kk, m->xn, r, m->qkv + d, 3 * d);
      linear(m, v, m->xn, r, m->qkv + 2 * d, 3 * d);
      const float *cs = m->cs + (size_t)p0 * hd; /* row t of this table is position p0 + t */
      k->rope(m->qkv, 3 * d, cs, 1, r, H, hd, 0);
      k->rope(m->qkv + d, 3 * d, cs, 1, r, H, hd, 0);
      attend(m, L, r, p0);
      quant(m, m->att, r, d);
      linear(m, o, m->att, r, m->tmp, d);
      add_into(m->x, m->tmp, (size_t)r * d);
      k->rmsnorm_forward(m->xn, m->rstd, m->x, L->norm2, r, d, eps);
      quant(m, m->xn, r, d);
      linear(m, gate, m->xn, r, m->g, f);
      linear(m, up, m->xn, r, m->u, f);
      k->swiglu_forward(m->h, m->g, m->u, (size_t)r * f);
    }
    quant(m, m->h, r, f);
    linear(m, down, m->h, r, m->tmp, d);
    add_into(m->x, m->tmp, (size_t)r * d);
  }
  k->rmsnorm_forward(m->xn, m->rstd, m->x, m->normf, r, d, eps);
}

/* Checks ids, then runs them through the layers at the current position (the caller checked
 * that they fit); m->xn holds the final norm's rows. */
static int run(fl_infer *m, const int *tokens, int n) {
  int V = m->spec.vocab;
  for (int t = 0; t < n; t++)
    if (tokens[t] < 0 || tokens[t] >= V)
      return fl_error(FL_EINVAL, "token id %d at position %d is outside the vocabulary [0, %d)",
                      tokens[t], m->pos + t, V);
  memcpy(m->tok, tokens, sizeof(int) * n);
  fl_embedding_forward(m->x, m->tok, m->emb, n, m->spec.d);
  layers_forward(m, n, m->pos);
  m->pos += n;
  return FL_OK;
}

/* logits (vocab) = the tied head on one row x (d): the table's gemv twin of its gemm, its rows
 * (the vocabulary) split over the threads in blocks of 8, else the gemm itself. */
static void head_row(fl_infer *m, const float *x, float *logits) {
  int V = m->spec.vocab, d = m->spec.d, nt = omp_get_max_threads();
  /* the gemm splits K over threads only when K >= 1024 and K >= 2 * vocab: then it is the twin */
  if (!m->gemv || (d >= 1024 && d >= 2 * V)) {
    m->k->gemm(0, 1, 1, V, d, 1.0f, x, d, m->emb, d, 0.0f, logits, V);
    return;
  }
  fl_gemv_rows_fn gemv = m->gemv;
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), team = omp_get_num_threads();
    int per = (V + 8 * team - 1) / (8 * team) * 8, v0 = t * per;
    int v1 = v0 + per < V ? v0 + per : V;
    if (v0 < v1) gemv(logits + v0, x, m->emb + (size_t)v0 * d, v1 - v0, d, 1.0f);
  }
}

int fl_infer_forward(fl_infer *m, const int *tokens, int n, float *logits) {
  if (n < 1 || n > m->ctx - m->pos)
    return fl_error(FL_EINVAL,
                    "%d new tokens at position %d do not fit the context of %d "
                    "(seq_len): slide or shorten it",
                    n, m->pos, m->ctx);
  int rc = run(m, tokens, n), d = m->spec.d;
  if (rc || !logits) return rc;
  head_row(m, m->xn + (size_t)(n - 1) * d, logits);
  return FL_OK;
}

int fl_infer_score(fl_infer *m, const int *tokens, int n, int from, double *nll) {
  int V = m->spec.vocab, d = m->spec.d;
  if (n < 1 || n > m->ctx || from < 0 || from >= n)
    return fl_error(FL_EINVAL,
                    "score window of %d tokens from %d: need 1 <= n <= %d (seq_len) "
                    "and 0 <= from < n",
                    n, from, m->ctx);
  for (int t = from; t < n; t++)
    if (tokens[t + 1] < 0 || tokens[t + 1] >= V)
      return fl_error(FL_EINVAL, "target id %d at position %d is outside the vocabulary [0, %d)",
                      tokens[t + 1], t + 1, V);
  m->pos = 0;
  int rc = run(m, tokens, n);
  if (rc) return rc;
  double total = 0.0;
  for (int c0 = from; c0 < n; c0 += m->head_rows) {
    int c = n - c0 < m->head_rows ? n - c0 : m->head_rows;
    m->k->gemm(0, 1, c, V, d, 1.0f, m->xn + (size_t)c0 * d, d, m->emb, d, 0.0f, m->logits, V);
    total += m->k->crossentropy(m->logits, tokens + c0 + 1, c, V, 0.0f);
  }
  *nll = total;
  return FL_OK;
}
