/* The model: v7 transformer and v6.1 ffn over one flat parameter buffer (layout in flashlm.h),
 * forward and backward in the order llm.c tells it: layout, create, forward, backward, free.
 *
 * Shapes: B batch rows, T positions (N = B*T tokens), d model width, f ffn width, V vocab,
 * H heads of hd = d/H channels. Every linear is y = x W^T with W [out, in]. A BitLinear keeps its
 * input quantised (int8 + per-token scale) for the backward, which uses the dequantised input
 * and the dequantised weight (straight-through estimator); a plain linear keeps the fp32 input.
 * The residual stream res[l] (N,d) is the input of layer l; res[L] feeds the final norm.
 *
 * Learnable alpha (spec.learnable_alpha): every linear computes y = alpha * (x W^T). The forward
 * folds alpha into the scale it already applies (the BitLinear's s*scale[t], the GEMM's alpha),
 * so it costs nothing. The backward needs dalpha = sum(dy * x W^T) = <dy^T x, W>: the weight
 * gradient dy^T x is computed into a scratch matrix, dotted with W_eff and added to dW scaled by
 * alpha; dx uses alpha * W_eff. No division by alpha, so dalpha is exact at alpha = 0, and no
 * pass over activations: the extra work is O(weights), not O(tokens). With the switch off the
 * code paths are the ones without alpha (same GEMMs, alpha 1), and each linear's dW and dX
 * GEMMs run as a pair (see gemm_pair); with it on they run in turn (dX may need the dW pass).
 *
 * Integer dX (BitLinear with backward_dx int16, the default): dx comes from dy quantised to
 * int16 per token against the weights' signs, with s * alpha folded into dy, so it never needs
 * the dW pass. Integer dW (backward_dw int16, the default): dW from dy quantised per output and
 * block of tokens against the int8 inputs the forward kept, so the backward dequantises nothing.
 * Either way dW and dx share the threads as one list of tasks (int_backward). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

/* The integer backward's tasks (see int_backward): dX chunks of INT_TOKENS tokens; list-of-tasks
 * scheduling up to INT_TASK_THREADS threads. */
enum { INT_TOKENS = 128, INT_TASK_THREADS = 8 };

/* ---- the parameter layout (names, offsets, shapes) ---- */
typedef struct tensor {
  char name[80];
  size_t offset;
  int ndim, shape[2], decay;
} tensor;

/* A linear's parameter view and, for BitLinear, its per-step quantised weight. */
typedef struct linear {
  size_t w; /* offset of W [out, in] in params/grads */
  size_t a; /* offset of its alpha [1] (learnable_alpha only) */
  int in, out;
  uint8_t *packed; /* out rows of fl_ternary_row_bytes(in) (ternary) */
  float scale;     /* absmean weight scale s (ternary) */
  int8_t *dxp;     /* integer dX: the sign panel of the group this linear heads, or NULL */
} linear;

/* The saved input of one or more linears: int8 + per-token scale (ternary) or fp32 (none). */
typedef struct act {
  int8_t *q; /* (N, Kp) */
  float *sc; /* (N) */
  float *x;  /* (N, K) fp32 input (quant none) */
  int K;
} act;

typedef struct layer {
  size_t norm1, norm2;               /* norm weight offsets (norm2: transformer only) */
  linear q, k, v, o, gate, up, down; /* ffn uses up and down only */
  float *rstd1, *rstd2;              /* (N) */
  act in1, in_o, in2, in_d;          /* inputs of q/k/v, o, gate/up (ffn: up), down */
  float *qkv;                        /* (N, 3d) Q, K after RoPE, V */
  float *att;                        /* (N, d) attention output */
  float *lse;                        /* (B, H, T) */
  float *res2;                       /* (N, d) residual after attention */
  float *g, *u;                      /* (N, f) gate and up outputs (ffn: g = up output) */
} layer;

struct fl_model {
  fl_spec spec;
  int max_batch, transformer, hd, head_chunk;
  const fl_kernels *k;
  size_t n_params;
  float *params, *grads;
  float *weff; /* dequantised weights, same layout as params (ternary) or NULL */
  int n_tensors;
  tensor *tensors;
  size_t emb, normf;
  layer *layers;
  float *cs;             /* RoPE table (seq_len, hd/2, 2) */
  float **res;           /* L+1 residual streams (N, d) */
  float *xf, *rstdf;     /* final norm output (N, d), its rstd (N) */
  int *inputs, *targets; /* (N) */
  /* scratch */
  float *xn, *tmp, *h, *dh, *dg, *du, *dxn, *datt, *dqkv, *dres, *xeff, *logits;
  float *sw;      /* learnable_alpha: weight-gradient scratch, the largest block (rows, in) */
  double *rowdot; /* learnable_alpha: (rows) per-row partial sums of dalpha */
  int dx16;       /* ternary with backward_dx FL_DX_INT16: the integer dX (see int_backward) */
  int16_t *dyq;   /* integer dX: dy quantised (N, largest rows rounded up to even) */
  float *dya;     /* integer dX: its per-token absmax (N) */
  float *dycs;    /* integer dX: per-row scale s * alpha of the group (largest rows) */
  int dw16;       /* ternary with backward_dw FL_DW_INT16: the integer dW (see int_backward) */
  int8_t *dwp;    /* integer dW: panels of the int8 input, one per block of FL_DW16_TOKENS */
  int16_t *dwq;   /* integer dW: quantised dy of INT_TASK_THREADS slots (see int_job) */
  float *dwa;     /* integer dW: their scales */
  const act *xeff_of, *dwp_of; /* the input xeff and dwp hold in this backward, or NULL */
  fl_arena mem;                /* every buffer above */
};

static void *take(fl_model *m, size_t bytes) { return fl_arena_take(&m->mem, bytes); }

static void add_tensor(fl_model *m, size_t *off, const char *name, int decay, int r, int c) {
  tensor *t = &m->tensors[m->n_tensors++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->offset = *off;
  t->ndim = c ? 2 : 1;
  t->shape[0] = r, t->shape[1] = c;
  t->decay = decay;
  *off += (size_t)r * (c ? c : 1);
}

static linear make_linear(size_t w, int in, int out) {
  linear l = {.w = w, .in = in, .out = out};
  return l;
}

/* The Llama module name of each linear, in the order of the layer's fields q..down. */
static const char *const LINEAR_NAMES[7] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

/* Builds the tensor table in ParamLayout order and the layers' parameter views. */
static void build_layout(fl_model *m) {
  const fl_spec *s = &m->spec;
  int d = s->d, f = s->ffn;
  size_t off = 0;
  char name[80];
  m->emb = off;
  add_tensor(m, &off, "model.embed_tokens.weight", 1, s->vocab, d);
  for (int i = 0; i < s->n_layers; i++) {
    layer *L = &m->layers[i];
#define T1(field, suffix)                                       \
  L->field = off;                                               \
  snprintf(name, sizeof name, "model.layers.%d.%s", i, suffix); \
  add_tensor(m, &off, name, 0, d, 0)
#define T2(field, suffix, out, in)                              \
  L->field = make_linear(off, in, out);                         \
  snprintf(name, sizeof name, "model.layers.%d.%s", i, suffix); \
  add_tensor(m, &off, name, 1, out, in)
    T1(norm1, "input_layernorm.weight");
    if (m->transformer) {
      T2(q, "self_attn.q_proj.weight", d, d);
      T2(k, "self_attn.k_proj.weight", d, d);
      T2(v, "self_attn.v_proj.weight", d, d);
      T2(o, "self_attn.o_proj.weight", d, d);
      T1(norm2, "post_attention_layernorm.weight");
      T2(gate, "mlp.gate_proj.weight", f, d);
    }
    T2(up, "mlp.up_proj.weight", f, d);
    T2(down, "mlp.down_proj.weight", d, f);
#undef T1
#undef T2
  }
  m->normf = off;
  add_tensor(m, &off, "model.norm.weight", 0, d, 0);
  /* alphas last, so the layout above is the same with the switch on or off */
  for (int i = 0; s->learnable_alpha && i < s->n_layers; i++) {
    layer *L = &m->layers[i];
    linear *all[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
    for (int j = m->transformer ? 0 : 5; j < 7; j++) {
      all[j]->a = off;
      snprintf(name, sizeof name, "model.layers.%d.%s.alpha", i, LINEAR_NAMES[j]);
      add_tensor(m, &off, name, 0, 1, 0);
    }
  }
  m->n_params = off;
}

static int alloc_act(fl_model *m, act *a, int K, size_t N, float *alias) {
  a->K = K;
  if (m->spec.ternary) {
    a->q = take(m, N * fl_ternary_kpad(K));
    a->sc = take(m, N * sizeof(float));
    return a->q && a->sc;
  }
  a->x = alias ? alias : take(m, N * K * sizeof(float));
  return a->x != NULL;
}

/* rows: the rows of the group this linear heads for the integer dX (q|k|v: 3d), 0 for none. */
static int alloc_linear(fl_model *m, linear *l, int rows) {
  if (!m->spec.ternary) return 1;
  l->packed = take(m, fl_ternary_packed_bytes(l->out, l->in));
  if (m->dx16 && rows) l->dxp = take(m, fl_dx16_panel_bytes(rows, l->in));
  return l->packed != NULL && (!m->dx16 || !rows || l->dxp);
}

static int alloc_all(fl_model *m) {
  const fl_spec *s = &m->spec;
  size_t N = (size_t)m->max_batch * s->seq_len, d = s->d, f = s->ffn, F = sizeof(float);
  size_t wide = f > d ? f : d;
  int ok = (m->params = take(m, m->n_params * F)) && (m->grads = take(m, m->n_params * F));
  if (ok && s->ternary) ok = (m->weff = take(m, m->n_params * F)) != NULL;
  ok = ok && (m->res = take(m, (s->n_layers + 1) * sizeof(float *)));
  for (int i = 0; ok && i <= s->n_layers; i++) ok = (m->res[i] = take(m, N * d * F)) != NULL;
  ok = ok && (m->xf = take(m, N * d * F)) && (m->rstdf = take(m, N * F));
  ok = ok && (m->inputs = take(m, N * sizeof(int))) && (m->targets = take(m, N * sizeof(int)));
  ok = ok && (m->xn = take(m, N * d * F)) && (m->tmp = take(m, N * d * F));
  ok = ok && (m->dh = take(m, N * f * F)) && (m->dg = take(m, N * f * F));
  ok = ok && (m->dxn = take(m, N * d * F)) && (m->dres = take(m, N * d * F));
  ok = ok && (m->xeff = take(m, N * wide * F));
  ok = ok && (m->logits = take(m, (size_t)m->head_chunk * s->vocab * F));
  if (ok && s->ternary) ok = (m->h = take(m, N * f * F)) != NULL;
  if (ok && s->learnable_alpha) {
    /* the largest weight block: q|k|v (3d, d) or gate, up, down (f*d); rows: 3d or f */
    size_t rows = 3 * d > f ? 3 * d : f, n = 3 * d * d > f * d ? 3 * d * d : f * d;
    ok = (m->sw = take(m, n * F)) && (m->rowdot = take(m, rows * sizeof(double)));
  }
  if (ok && m->dx16) {
    size_t rows = m->transformer ? 3 * d : f > d ? f : d, kq = fl_dx16_kpad((int)rows);
    ok = (m->dyq = take(m, N * kq * sizeof(int16_t))) && (m->dya = take(m, N * F)) &&
         (m->dycs = take(m, rows * F));
  }
  if (ok && m->dw16) { /* panels of the widest input, N tokens rounded up to whole blocks */
    size_t blocks = (N + FL_DW16_TOKENS - 1) / FL_DW16_TOKENS;
    size_t rows = m->transformer && 3 * d > wide ? 3 * d : wide, slots = INT_TASK_THREADS * rows;
    ok = (m->dwp = take(m, blocks * fl_dx16_panel_bytes(FL_DW16_TOKENS, (int)wide))) &&
         (m->dwq = take(m, slots * fl_dx16_kpad(FL_DW16_TOKENS) * sizeof(int16_t))) &&
         (m->dwa = take(m, slots * F));
  }
  if (ok && m->transformer) {
    ok = (m->cs = take(m, (size_t)s->seq_len * m->hd * F)) && (m->du = take(m, N * f * F)) &&
         (m->datt = take(m, N * d * F)) && (m->dqkv = take(m, N * 3 * d * F));
    if (ok) fl_rope_table(m->cs, s->seq_len, m->hd, s->rope_theta);
  }
  for (int i = 0; ok && i < s->n_layers; i++) {
    layer *L = &m->layers[i];
    ok = (L->rstd1 = take(m, N * F)) && (L->g = take(m, N * f * F));
    ok = ok && alloc_act(m, &L->in1, d, N, NULL) && alloc_act(m, &L->in_d, f, N, NULL);
    ok = ok && alloc_linear(m, &L->up, f) && alloc_linear(m, &L->down, d);
    if (ok && m->transformer) {
      ok = (L->rstd2 = take(m, N * F)) && (L->u = take(m, N * f * F)) &&
           (L->qkv = take(m, N * 3 * d * F)) && (L->att = take(m, N * d * F)) &&
           (L->lse = take(m, (size_t)m->max_batch * s->n_heads * s->seq_len * F)) &&
           (L->res2 = take(m, N * d * F));
      ok = ok && alloc_act(m, &L->in_o, d, N, L->att) && alloc_act(m, &L->in2, d, N, NULL);
      ok = ok && alloc_linear(m, &L->q, 3 * d) && alloc_linear(m, &L->k, 0) &&
           alloc_linear(m, &L->v, 0) && alloc_linear(m, &L->o, d) && alloc_linear(m, &L->gate, f);
    }
  }
  return ok;
}

int fl_model_create(fl_model **out, const fl_spec *spec, int max_batch) {
  *out = NULL;
  const fl_spec *s = spec;
  if (s->arch != FL_ARCH_TRANSFORMER && s->arch != FL_ARCH_FFN)
    return fl_error(FL_EINVAL, "model arch %d: expected 0 (transformer) or 1 (ffn)", s->arch);
  if (s->vocab <= 0 || s->d <= 0 || s->n_layers <= 0 || s->ffn <= 0 || s->seq_len <= 0 ||
      max_batch <= 0)
    return fl_error(FL_EINVAL,
                    "model sizes must be positive: vocab %d d %d n_layers %d ffn %d "
                    "seq_len %d max_batch %d",
                    s->vocab, s->d, s->n_layers, s->ffn, s->seq_len, max_batch);
  if (s->arch == FL_ARCH_TRANSFORMER &&
      (s->n_heads <= 0 || s->d % s->n_heads != 0 || (s->d / s->n_heads) % 2 != 0))
    return fl_error(FL_EINVAL, "n_heads %d must divide d %d into an even head dim", s->n_heads,
                    s->d);
  if (!(s->norm_eps > 0) || (s->arch == FL_ARCH_TRANSFORMER && !(s->rope_theta > 0)))
    return fl_error(FL_EINVAL, "norm_eps %g and rope_theta %g must be positive", s->norm_eps,
                    s->rope_theta);
  if (s->backward_dx != FL_DX_INT16 && s->backward_dx != FL_DX_FP32)
    return fl_error(FL_EINVAL, "backward_dx %d: expected 0 (int16) or 1 (fp32)", s->backward_dx);
  if (s->backward_dw != FL_DW_INT16 && s->backward_dw != FL_DW_FP32)
    return fl_error(FL_EINVAL, "backward_dw %d: expected 0 (int16) or 1 (fp32)", s->backward_dw);
  if ((size_t)max_batch * s->seq_len > (size_t)1 << 30 || (size_t)s->vocab * s->d > (size_t)1 << 31)
    return fl_error(FL_EINVAL, "model too large: max_batch*seq_len %zu, vocab*d %zu",
                    (size_t)max_batch * s->seq_len, (size_t)s->vocab * s->d);
  fl_model *m = calloc(1, sizeof *m);
  if (!m) return fl_error(FL_ENOMEM, "cannot allocate the model");
  m->spec = *s;
  m->max_batch = max_batch;
  m->transformer = s->arch == FL_ARCH_TRANSFORMER;
  /* the integer sums are exact up to FL_DX16_MAX_K rows (int32); beyond, the fp32 product */
  m->dx16 = s->ternary && s->backward_dx == FL_DX_INT16 &&
            (m->transformer  ? 3 * s->d
             : s->ffn > s->d ? s->ffn
                             : s->d) <= FL_DX16_MAX_K;
  m->dw16 = s->ternary && s->backward_dw == FL_DW_INT16;
  m->hd = m->transformer ? s->d / s->n_heads : 0;
  m->k = fl_kernels_get();
  /* head chunk: about 16M logits (64 MB) at a time, a multiple of 64 tokens: bigger chunks
   * amortise the dE update (one pass over dE per chunk), smaller ones bound the memory */
  size_t N = (size_t)max_batch * s->seq_len, hc = ((size_t)16 << 20) / s->vocab / 64 * 64;
  m->head_chunk = (int)(hc < 64 ? 64 : hc > N ? N : hc);
  m->layers = calloc(s->n_layers, sizeof(layer));
  m->tensors = calloc(2 + 16 * (size_t)s->n_layers, sizeof(tensor));
  if (!m->layers || !m->tensors) {
    fl_model_free(m);
    return fl_error(FL_ENOMEM, "cannot allocate the model's tables");
  }
  build_layout(m);
  if (!alloc_all(m)) {
    fl_model_free(m);
    return fl_error(FL_ENOMEM,
                    "cannot allocate the model's parameters and activations for "
                    "max_batch %d x seq_len %d (%zu parameters)",
                    max_batch, s->seq_len, m->n_params);
  }
  *out = m;
  return FL_OK;
}

void fl_model_free(fl_model *m) {
  if (!m) return;
  fl_arena_free(&m->mem);
  free(m->layers);
  free(m->tensors);
  free(m);
}

void fl_model_use_kernels(fl_model *m, const fl_kernels *k) { m->k = k; }

const fl_spec *fl_model_spec(const fl_model *m) { return &m->spec; }
size_t fl_model_num_params(const fl_model *m) { return m->n_params; }
float *fl_model_params(fl_model *m) { return m->params; }
float *fl_model_grads(fl_model *m) { return m->grads; }
int fl_model_num_tensors(const fl_model *m) { return m->n_tensors; }

int fl_model_tensor(const fl_model *m, int i, const char **name, size_t *offset, int *ndim,
                    int shape[2], int *decay) {
  if (i < 0 || i >= m->n_tensors)
    return fl_error(FL_EINVAL, "tensor index %d outside [0, %d)", i, m->n_tensors);
  const tensor *t = &m->tensors[i];
  *name = t->name, *offset = t->offset, *ndim = t->ndim, *decay = t->decay;
  shape[0] = t->shape[0], shape[1] = t->shape[1];
  return FL_OK;
}

void fl_model_zero_grads(fl_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* ---- forward ---- */
static void add(float *y, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* Re-quantises every BitLinear weight from the current master weights (once per call). */
static void quantise_weights(fl_model *m) {
  if (!m->spec.ternary) return;
  for (int i = 0; i < m->spec.n_layers; i++) {
    layer *L = &m->layers[i];
    linear *all[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
    for (int j = m->transformer ? 0 : 5; j < 7; j++) {
      linear *l = all[j];
      size_t n = (size_t)l->out * l->in;
      l->scale = fl_ternary_scale(m->params + l->w, n);
      fl_ternary_pack(l->packed, m->weff + l->w, m->params + l->w, l->scale, l->out, l->in);
    }
  }
}

/* Saves x (N, a->K) as the input of the linears that read a. */
static void act_in(fl_model *m, act *a, const float *x, int N) {
  if (m->spec.ternary)
    m->k->quant_act(a->q, a->sc, x, N, a->K);
  else if (a->x != x)
    memcpy(a->x, x, sizeof(float) * N * a->K);
}

/* The input the backward uses: dequantised (into the xeff scratch, once for linears that share
 * the input: gate and up) or the fp32 input. */
static const float *act_eff(fl_model *m, const act *a, int N) {
  if (!m->spec.ternary) return a->x;
  if (m->xeff_of != a) m->k->dequant_act(m->xeff, a->q, a->sc, N, a->K);
  m->xeff_of = a;
  return m->xeff;
}

/* The linear's output scale: its learnable alpha, or 1. */
static float alpha_of(const fl_model *m, const linear *l) {
  return m->spec.learnable_alpha ? m->params[l->a] : 1.0f;
}

/* y (N, out) with row stride ldy = alpha * input a (N, in) W^T (alpha folded into the scale). */
static void linear_fwd(fl_model *m, const linear *l, const act *a, float *y, int ldy, int N) {
  float alpha = alpha_of(m, l);
  if (m->spec.ternary)
    m->k->ternary_matmul(y, ldy, a->q, a->sc, l->packed, l->scale * alpha, N, l->out, l->in);
  else
    m->k->gemm(0, 1, N, l->out, l->in, alpha, a->x, l->in, m->params + l->w, l->in, 0.0f, y, ldy);
}

/* The weight the backward uses: W_eff [out, in]. */
static const float *weight_eff(const fl_model *m, const linear *l) {
  return (m->spec.ternary ? m->weff : m->params) + l->w;
}

/* FL_OK, or the attention kernel's FL_ENOMEM (its scratch memory). */
static int layer_forward(fl_model *m, layer *L, const float *x, float *y, int B, int T) {
  const fl_kernels *k = m->k;
  int N = B * T, d = m->spec.d, f = m->spec.ffn;
  float eps = (float)m->spec.norm_eps, *P = m->params;
  k->rmsnorm_forward(m->xn, L->rstd1, x, P + L->norm1, N, d, eps);
  act_in(m, &L->in1, m->xn, N);
  float *h = m->spec.ternary ? m->h : L->in_d.x;
  if (!m->transformer) {
    linear_fwd(m, &L->up, &L->in1, L->g, f, N);
    k->swiglu_forward(h, L->g, NULL, (size_t)N * f);
  } else {
    int H = m->spec.n_heads, hd = m->hd;
    linear_fwd(m, &L->q, &L->in1, L->qkv, 3 * d, N);
    linear_fwd(m, &L->k, &L->in1, L->qkv + d, 3 * d, N);
    linear_fwd(m, &L->v, &L->in1, L->qkv + 2 * d, 3 * d, N);
    k->rope(L->qkv, 3 * d, m->cs, B, T, H, hd, 0);
    k->rope(L->qkv + d, 3 * d, m->cs, B, T, H, hd, 0);
    int rc = k->attention_forward(L->att, L->lse, L->qkv, L->qkv + d, L->qkv + 2 * d, 3 * d, B, T,
                                  H, hd);
    if (rc) return rc;
    act_in(m, &L->in_o, L->att, N);
    linear_fwd(m, &L->o, &L->in_o, m->tmp, d, N);
    add(L->res2, x, m->tmp, (size_t)N * d);
    k->rmsnorm_forward(m->xn, L->rstd2, L->res2, P + L->norm2, N, d, eps);
    act_in(m, &L->in2, m->xn, N);
    linear_fwd(m, &L->gate, &L->in2, L->g, f, N);
    linear_fwd(m, &L->up, &L->in2, L->u, f, N);
    k->swiglu_forward(h, L->g, L->u, (size_t)N * f);
    x = L->res2;
  }
  act_in(m, &L->in_d, h, N);
  linear_fwd(m, &L->down, &L->in_d, m->tmp, d, N);
  add(y, x, m->tmp, (size_t)N * d);
  return FL_OK;
}

/* Embedding, the layers and the final norm over B rows of T positions of tok (row stride ld). */
static int forward(fl_model *m, const int *tok, int ld, int B, int T) {
  int V = m->spec.vocab, N = B * T;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      int id = tok[(size_t)b * ld + t];
      if (id < 0 || id >= V)
        return fl_error(FL_EINVAL,
                        "token id %d at row %d position %d is outside the vocabulary "
                        "[0, %d)",
                        id, b, t, V);
      m->inputs[b * T + t] = id;
    }
  quantise_weights(m);
  fl_embedding_forward(m->res[0], m->inputs, m->params + m->emb, N, m->spec.d);
  for (int i = 0, rc; i < m->spec.n_layers; i++)
    if ((rc = layer_forward(m, &m->layers[i], m->res[i], m->res[i + 1], B, T))) return rc;
  m->k->rmsnorm_forward(m->xf, m->rstdf, m->res[m->spec.n_layers], m->params + m->normf, N,
                        m->spec.d, (float)m->spec.norm_eps);
  return FL_OK;
}

/* ---- GEMM pairs: the backward's dX and dW products are independent and have the same FLOPs,
 * so they run at once, each on half of the threads (one thread each on two cores). A GEMM on one
 * core runs near its single-core rate (about 85% of the FMA peak here, no barriers), while one
 * GEMM split over two cores loses 20-30% to synchronisation and shared caches. ---- */
typedef struct gemm_call {
  int ta, tb, M, N, K;
  const float *A;
  int lda;
  const float *B;
  int ldb;
  float beta;
  float *C;
  int ldc;
} gemm_call;

static void gemm_run(const fl_kernels *k, const gemm_call *g, int n) {
  for (int i = 0; i < n; i++, g++)
    k->gemm(g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, g->lda, g->B, g->ldb, g->beta, g->C,
            g->ldc);
}

/* Runs the GEMMs of a (in order) and those of b (in order) concurrently: a on ceil(nt/2)
 * threads, b on floor(nt/2). The lists must not write what the other reads or writes. Results
 * depend only on the thread count, as every kernel's do. */
static void gemm_pair(fl_model *m, const gemm_call *a, int na, const gemm_call *b, int nb) {
  int nt = omp_get_max_threads();
  if (nt < 2 || omp_in_parallel()) {
    gemm_run(m->k, a, na);
    gemm_run(m->k, b, nb);
    return;
  }
  if (nt > 3 && omp_get_max_active_levels() < 2) omp_set_max_active_levels(2);
#pragma omp parallel num_threads(2)
  {
    int t = omp_get_thread_num();
    omp_set_num_threads(t == 0 ? (nt + 1) / 2 : nt / 2);
    if (t == 0)
      gemm_run(m->k, a, na);
    else
      gemm_run(m->k, b, nb);
  }
}

/* ---- head and loss: logits = xf E^T in chunks of head_chunk tokens, so memory stays
 * O(chunk * V); with backward, dxf (into dxn) and dE accumulate chunk by chunk. ---- */
static double head(fl_model *m, int N, int backward) {
  const fl_kernels *k = m->k;
  int V = m->spec.vocab, d = m->spec.d;
  const float *E = m->params + m->emb;
  double total = 0.0;
  for (int c0 = 0; c0 < N; c0 += m->head_chunk) {
    int n = N - c0 < m->head_chunk ? N - c0 : m->head_chunk;
    const float *x = m->xf + (size_t)c0 * d;
    k->gemm(0, 1, n, V, d, 1.0f, x, d, E, d, 0.0f, m->logits, V);
    total += k->crossentropy(m->logits, m->targets + c0, n, V, backward ? 1.0f / N : 0.0f);
    if (backward) {
      gemm_call dx = {0, 0, n, d, V, m->logits, V, E, d, 0.0f, m->dxn + (size_t)c0 * d, d};
      gemm_call de = {1, 0, V, d, n, m->logits, V, x, d, 1.0f, m->grads + m->emb, d};
      gemm_pair(m, &de, 1, &dx, 1);
    }
  }
  return total / N;
}

/* ---- backward: dres holds the gradient of the layer's output and becomes that of its input ---- */

static int ls_rows(const linear *const *ls, int nl) {
  int rows = 0;
  for (int j = 0; j < nl; j++) rows += ls[j]->out;
  return rows;
}

/* Learnable alpha only, after the product S = dy^T x (in m->sw) of alpha_weight_grad: dW +=
 * alpha_j S_j and dalpha_j += <S_j, W_eff_j>; if scaled, S_j becomes alpha_j W_eff_j. */
static const float *alpha_apply(fl_model *m, const linear *const *ls, int nl, int scaled) {
  int in = ls[0]->in;
  float *G = m->grads + ls[0]->w, *S = m->sw;
  const float *W = weight_eff(m, ls[0]);
  for (int j = 0, r0 = 0; j < nl; r0 += ls[j]->out, j++) {
    float alpha = m->params[ls[j]->a];
    int r1 = r0 + ls[j]->out;
    /* one pass over the block; per-row sums in double, added in row order (deterministic) */
#pragma omp parallel for schedule(static)
    for (int r = r0; r < r1; r++) {
      double acc = 0.0;
      for (size_t c = (size_t)r * in; c < (size_t)(r + 1) * in; c++) {
        acc += (double)S[c] * W[c];
        G[c] += alpha * S[c];
        if (scaled) S[c] = alpha * W[c];
      }
      m->rowdot[r] = acc;
    }
    double dalpha = 0.0;
    for (int r = r0; r < r1; r++) dalpha += m->rowdot[r];
    m->grads[ls[j]->a] += (float)dalpha;
  }
  return scaled ? S : W;
}

/* Learnable alpha only: the weight gradients of nl linears with the same input whose weights are
 * consecutive in the layout (q, k, v: one (3d, in) matrix): dy (N, rows) with row stride ldy is
 * the gradient of their (alpha-scaled) outputs, x (N, in) their effective input. dW += alpha
 * dy_j^T x and dalpha_j += <dy_j^T x, W_eff_j> (= sum(dy_j * x W_eff_j^T), the unscaled output).
 * Returns the weight for dx = dy W: W_eff, whose alpha the caller passes to the GEMM, or, if
 * scaled, the scratch holding alpha_j * W_eff_j block by block (the fused blocks' alphas differ,
 * so no single GEMM alpha fits). */
static const float *alpha_weight_grad(fl_model *m, const linear *const *ls, int nl, const float *dy,
                                      int ldy, const float *x, int N, int scaled) {
  m->k->gemm(1, 0, ls_rows(ls, nl), ls[0]->in, N, 1.0f, dy, ldy, x, ls[0]->in, 0.0f, m->sw,
             ls[0]->in);
  return alpha_apply(m, ls, nl, scaled);
}

/* ---- the integer backward of BitLinears (ternary with backward_dx or backward_dw int16):
 * dx = dy W_eff from dy quantised to int16 per token against the ternary signs (flashlm.h,
 * "integer dX"), dW += dy^T x_eff from dy quantised per output and block of FL_DW16_TOKENS
 * tokens against the forward's int8 activations ("integer dW"); either product may instead be
 * an fp32 GEMM. With 2 to INT_TASK_THREADS threads both run as one list of tasks that the
 * threads take in turn from a shared counter: first one dW row block per thread (the large
 * tasks), then the dX chunks of INT_TOKENS tokens, so the small tasks even out the end. Every
 * result is independent of which thread computed it and of the thread count: the integer sums
 * are exact, the integer dW adds its blocks in token order, and a GEMM computes each element the
 * same way whichever rows it is given (so the blocks together have the bits of one serial call;
 * each fp32 dW block packs x again, about 2% of its work at the v6.1 shape). One thread runs
 * the dX product and then dW; more than INT_TASK_THREADS run each product on the whole team in
 * turn (the blocks would get too thin). ---- */

typedef struct int_job {
  const fl_kernels *k;
  const float *dy; /* (N, rows) with row stride ldy */
  int ldy, N, rows, in;
  /* dW (rows, in) += (beta 1) or = (beta 0) dy^T x_eff: from the panels of the int8 input
   * (dwp, one per token block, dwpb bytes apart) and its per-token scales xs, or (dwp NULL) as
   * an fp32 GEMM with x_eff (N, in); dw 0: no dW tasks */
  float *dw, beta;
  const int8_t *dwp;
  size_t dwpb;
  const float *xs, *x;
  int16_t *dwq; /* the quantised dy of each task thread slot: rows x kpad(FL_DW16_TOKENS) */
  float *dwa;   /* their scales: rows per slot */
  /* dx (N, in) = (dxbeta 0) or += dy W_eff * dxalpha: the integer product (dxp the sign panel,
   * cs the rows' scales, q and a the quantised dy) or (dxp NULL) an fp32 GEMM with W; dx NULL:
   * no dX tasks */
  const int8_t *dxp;
  const float *cs, *W;
  int16_t *q;
  float *a, *dx, dxbeta, dxalpha;
} int_job;

/* Rows [r0, r1) of dW, on the task thread slot (its share of the quantised-dy scratch). */
static void int_dw_rows(const int_job *j, int r0, int r1, int slot) {
  if (r0 >= r1) return;
  float *dst = j->dw + (size_t)r0 * j->in;
  if (!j->dwp) {
    j->k->gemm(1, 0, r1 - r0, j->in, j->N, 1.0f, j->dy + r0, j->ldy, j->x, j->in, j->beta, dst,
               j->in);
    return;
  }
  int n = r1 - r0;
  int16_t *q = j->dwq + (size_t)slot * j->rows * fl_dx16_kpad(FL_DW16_TOKENS);
  float *a = j->dwa + (size_t)slot * j->rows;
  for (int t0 = 0, b = 0; t0 < j->N; t0 += FL_DW16_TOKENS, b++) {
    int tn = j->N - t0 < FL_DW16_TOKENS ? j->N - t0 : FL_DW16_TOKENS;
    j->k->dw16_quant(q, a, j->dy + (size_t)t0 * j->ldy + r0, j->ldy, j->xs + t0, tn, n);
    j->k->dx16_matmul(dst, j->in, q, a, j->dwp + b * j->dwpb, n, j->in, tn, b ? 1.0f : j->beta);
  }
}

/* Tokens [t0, t1) of dx. */
static void int_dx_tokens(const int_job *j, int t0, int t1) {
  float *dx = j->dx + (size_t)t0 * j->in;
  if (!j->dxp) {
    j->k->gemm(0, 0, t1 - t0, j->in, j->rows, j->dxalpha, j->dy + (size_t)t0 * j->ldy, j->ldy, j->W,
               j->in, j->dxbeta, dx, j->in);
    return;
  }
  int kq = fl_dx16_kpad(j->rows);
  j->k->dx16_quant(j->q + (size_t)t0 * kq, j->a + t0, j->dy + (size_t)t0 * j->ldy, j->ldy, j->cs,
                   t1 - t0, j->rows);
  j->k->dx16_matmul(dx, j->in, j->q + (size_t)t0 * kq, j->a + t0, j->dxp, t1 - t0, j->in, j->rows,
                    j->dxbeta);
}

static void int_run(const int_job *j) {
  int nt = omp_get_max_threads();
  if (nt < 2 || nt > INT_TASK_THREADS || omp_in_parallel()) {
    if (j->dx) int_dx_tokens(j, 0, j->N);
    if (j->dw) int_dw_rows(j, 0, j->rows, 0);
    return;
  }
  /* nt blocks of dW rows, multiples of 6 (the GEMM's register tile) */
  int per = ((j->rows + nt - 1) / nt + 5) / 6 * 6;
  int blocks = j->dw ? (j->rows + per - 1) / per : 0;
  int chunks = j->dx ? (j->N + INT_TOKENS - 1) / INT_TOKENS : 0;
  int next = 0;
#pragma omp parallel num_threads(nt)
  {
    omp_set_num_threads(1); /* the kernels inside run on this thread alone */
    for (;;) {
      int t = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
      if (t >= blocks + chunks) break;
      if (t < blocks) {
        int r1 = (t + 1) * per < j->rows ? (t + 1) * per : j->rows;
        int_dw_rows(j, t * per, r1, omp_get_thread_num());
      } else {
        int t0 = (t - blocks) * INT_TOKENS;
        int_dx_tokens(j, t0, t0 + INT_TOKENS < j->N ? t0 + INT_TOKENS : j->N);
      }
    }
  }
}

/* The panels of the integer dW from the int8 input a (N tokens), one per token block (once for
 * linears that share the input); returns their distance in bytes. */
static size_t dw16_panels(fl_model *m, const act *a, int N) {
  size_t pb = fl_dx16_panel_bytes(FL_DW16_TOKENS, a->K);
  int Kp = fl_ternary_kpad(a->K), nb = (N + FL_DW16_TOKENS - 1) / FL_DW16_TOKENS;
  if (m->dwp_of == a) return pb;
  m->dwp_of = a;
#pragma omp parallel for schedule(static)
  for (int b = 0; b < nb; b++) {
    int t0 = b * FL_DW16_TOKENS, tn = N - t0 < FL_DW16_TOKENS ? N - t0 : FL_DW16_TOKENS;
    fl_dw16_panel(m->dwp + b * pb, a->q + (size_t)t0 * Kp, Kp, tn, a->K);
  }
  return pb;
}

/* The integer backward of nl linears (the arguments of linear_backward). */
static void int_backward(fl_model *m, const linear *const *ls, int nl, const float *dy, int ldy,
                         const act *xa, int N, float *dx, float beta) {
  int rows = ls_rows(ls, nl), in = ls[0]->in, alpha = m->spec.learnable_alpha;
  int_job j = {.k = m->k, .dy = dy, .ldy = ldy, .N = N, .rows = rows, .in = in};
  j.dw = alpha ? m->sw : m->grads + ls[0]->w;
  j.beta = alpha ? 0.0f : 1.0f;
  if (m->dw16) {
    j.dwpb = dw16_panels(m, xa, N);
    j.dwp = m->dwp, j.xs = xa->sc, j.dwq = m->dwq, j.dwa = m->dwa;
  } else {
    j.x = act_eff(m, xa, N);
  }
  j.dx = dx, j.dxbeta = beta;
  if (m->dx16) {
    for (int i = 0, r0 = 0; i < nl; r0 += ls[i]->out, i++)
      for (int r = r0; r < r0 + ls[i]->out; r++) m->dycs[r] = ls[i]->scale * alpha_of(m, ls[i]);
    j.dxp = ls[0]->dxp, j.cs = m->dycs, j.q = m->dyq, j.a = m->dya;
  } else if (alpha) { /* the fp32 dX needs alpha_j W_eff_j, which needs dW's product first */
    j.dx = NULL;
    int_run(&j);
    const float *W = alpha_apply(m, ls, nl, nl > 1);
    m->k->gemm(0, 0, N, in, rows, nl > 1 ? 1.0f : alpha_of(m, ls[0]), dy, ldy, W, in, beta, dx, in);
    return;
  } else {
    j.W = weight_eff(m, ls[0]), j.dxalpha = 1.0f;
  }
  int_run(&j);
  if (alpha) alpha_apply(m, ls, nl, 0);
}

/* The sign panels of every group of the integer dX from this step's W_eff. */
static void dx16_panels(fl_model *m) {
  for (int i = 0; i < m->spec.n_layers; i++) {
    layer *L = &m->layers[i];
    linear *all[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
    for (int j = m->transformer ? 0 : 5; j < 7; j++)
      if (all[j]->dxp)
        fl_dx16_panel(all[j]->dxp, m->weff + all[j]->w, j == 0 ? 3 * all[j]->out : all[j]->out,
                      all[j]->in);
  }
}

/* The backward of nl linears as above: dW += dy^T x_eff (and the alphas' gradients) for their
 * saved input xa, dx (N, in) = (beta 0) or += (beta 1) dy W_eff. Integer dX or dW: int_backward;
 * otherwise, without alpha, dW and dx run as a GEMM pair. */
static void linear_backward(fl_model *m, const linear *const *ls, int nl, const float *dy, int ldy,
                            const act *xa, int N, float *dx, float beta) {
  if (m->dx16 || m->dw16) {
    int_backward(m, ls, nl, dy, ldy, xa, N, dx, beta);
    return;
  }
  int rows = ls_rows(ls, nl), in = ls[0]->in;
  const float *x = act_eff(m, xa, N);
  if (!m->spec.learnable_alpha) {
    gemm_call w = {1, 0, rows, in, N, dy, ldy, x, in, 1.0f, m->grads + ls[0]->w, in};
    gemm_call c = {0, 0, N, in, rows, dy, ldy, weight_eff(m, ls[0]), in, beta, dx, in};
    gemm_pair(m, &w, 1, &c, 1);
    return;
  }
  const float *W = alpha_weight_grad(m, ls, nl, dy, ldy, x, N, nl > 1);
  float alpha = nl > 1 ? 1.0f : alpha_of(m, ls[0]);
  m->k->gemm(0, 0, N, in, rows, alpha, dy, ldy, W, in, beta, dx, in);
}

/* FL_OK, or the attention kernel's FL_ENOMEM. */
static int layer_backward(fl_model *m, layer *L, const float *x, int B, int T) {
  const fl_kernels *k = m->k;
  int N = B * T, d = m->spec.d, f = m->spec.ffn;
  float *G = m->grads, *P = m->params, *dres = m->dres;
  const linear *down = &L->down, *up = &L->up, *gate = &L->gate, *o = &L->o;
  /* down: dW += alpha dres^T h_eff; dh = alpha dres W_eff */
  linear_backward(m, &down, 1, dres, d, &L->in_d, N, m->dh, 0.0f);
  if (!m->transformer) {
    k->swiglu_backward(m->dg, NULL, m->dh, L->g, NULL, (size_t)N * f);
    linear_backward(m, &up, 1, m->dg, f, &L->in1, N, m->dxn, 0.0f);
    k->rmsnorm_backward(dres, G + L->norm1, m->dxn, x, P + L->norm1, L->rstd1, N, d, 1);
    return FL_OK;
  }
  int H = m->spec.n_heads, hd = m->hd;
  k->swiglu_backward(m->dg, m->du, m->dh, L->g, L->u, (size_t)N * f);
  linear_backward(m, &gate, 1, m->dg, f, &L->in2, N, m->dxn, 0.0f);
  linear_backward(m, &up, 1, m->du, f, &L->in2, N, m->dxn, 1.0f);
  k->rmsnorm_backward(dres, G + L->norm2, m->dxn, L->res2, P + L->norm2, L->rstd2, N, d, 1);
  /* o, attention, RoPE */
  linear_backward(m, &o, 1, dres, d, &L->in_o, N, m->datt, 0.0f);
  float *dq = m->dqkv, *dkk = m->dqkv + d, *dv = m->dqkv + 2 * d;
  int rc = k->attention_backward(dq, dkk, dv, m->datt, L->qkv, L->qkv + d, L->qkv + 2 * d, L->att,
                                 L->lse, 3 * d, B, T, H, hd);
  if (rc) return rc;
  /* dq, dk are now gradients of the alpha-scaled projections before RoPE (the rotation is
   * orthogonal, so nothing of RoPE enters dalpha) */
  k->rope(dq, 3 * d, m->cs, B, T, H, hd, 1);
  k->rope(dkk, 3 * d, m->cs, B, T, H, hd, 1);
  /* q, k, v weights (and their gradients) are consecutive in the layout: one (3d, d) matrix */
  const linear *qkv[3] = {&L->q, &L->k, &L->v};
  linear_backward(m, qkv, 3, m->dqkv, 3 * d, &L->in1, N, m->dxn, 0.0f);
  k->rmsnorm_backward(dres, G + L->norm1, m->dxn, x, P + L->norm1, L->rstd1, N, d, 1);
  return FL_OK;
}

static int check_batch(const fl_model *m, int B, int T) {
  if (B <= 0 || B > m->max_batch)
    return fl_error(FL_EINVAL, "batch %d outside [1, %d] (the model's max_batch)", B, m->max_batch);
  if (T <= 0 || T > m->spec.seq_len)
    return fl_error(FL_EINVAL, "length %d outside [1, %d] (the model's seq_len)", T,
                    m->spec.seq_len);
  return FL_OK;
}

/* Inputs tokens[:, :T], targets tokens[:, 1:] of (B, T+1) rows; checks the targets. */
static int run(fl_model *m, const int *tokens, int B, float *loss, int backward) {
  int T = m->spec.seq_len, d = m->spec.d, V = m->spec.vocab, rc;
  if ((rc = check_batch(m, B, T))) return rc;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      int id = tokens[(size_t)b * (T + 1) + t + 1];
      if (id < 0 || id >= V)
        return fl_error(FL_EINVAL,
                        "target id %d at row %d position %d is outside the vocabulary "
                        "[0, %d)",
                        id, b, t + 1, V);
      m->targets[b * T + t] = id;
    }
  if ((rc = forward(m, tokens, T + 1, B, T))) return rc;
  int N = B * T;
  *loss = (float)head(m, N, backward);
  if (!backward) return FL_OK;
  int L = m->spec.n_layers;
  if (m->dx16) dx16_panels(m);
  m->xeff_of = m->dwp_of = NULL;
  m->k->rmsnorm_backward(m->dres, m->grads + m->normf, m->dxn, m->res[L], m->params + m->normf,
                         m->rstdf, N, d, 0);
  for (int i = L - 1; i >= 0; i--)
    if ((rc = layer_backward(m, &m->layers[i], m->res[i], B, T))) return rc;
  fl_embedding_backward(m->grads + m->emb, m->dres, m->inputs, N, d);
  return FL_OK;
}

int fl_model_forward_backward(fl_model *m, const int *tokens, int B, float *loss) {
  return run(m, tokens, B, loss, 1);
}

int fl_model_loss(fl_model *m, const int *tokens, int B, float *loss) {
  return run(m, tokens, B, loss, 0);
}

int fl_model_last_logits(fl_model *m, const int *tokens, int B, int len, float *out) {
  int d = m->spec.d, rc;
  if ((rc = check_batch(m, B, len))) return rc;
  if ((rc = forward(m, tokens, len, B, len))) return rc;
  for (int b = 0; b < B; b++)
    memcpy(m->xn + (size_t)b * d, m->xf + ((size_t)b * len + len - 1) * d, sizeof(float) * d);
  m->k->gemm(0, 1, B, m->spec.vocab, d, 1.0f, m->xn, d, m->params + m->emb, d, 0.0f, out,
             m->spec.vocab);
  return FL_OK;
}
