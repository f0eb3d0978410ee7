/*
 * flashlm.h - the only C API of libflashlm: kernels (scalar reference + SIMD twins chosen once at
 * run time), the model (forward/backward over one flat parameter buffer), the data-parallel
 * communicator (an authenticated TCP ring) and error reporting.
 *
 * Conventions
 *  - Row-major everywhere. A linear weight is stored [out, in] like torch.nn.Linear: y = x W^T.
 *  - Functions never exit or print; those that can fail return 0 on success and a non-zero
 *    FL_E* code, and fl_last_error() gives the text (thread-local).
 *  - OpenMP: kernels parallelise internally; the thread count is OpenMP's (OMP_NUM_THREADS).
 *  - FLASHLM_FORCE_SCALAR=1 in the environment (read once, at the first kernel call) selects the
 *    scalar reference kernels; a build with FLASHLM_NO_SIMD=1 contains only those.
 *
 * Packed ternary weights (one format on every ISA)
 *  - Values {-1, 0, +1} are stored as 2-bit codes c = w + 1 in {0, 1, 2} (3 never occurs).
 *  - A row of K weights is stored in fl_ternary_row_bytes(K) = 32 * ceil(K/128) bytes: blocks of
 *    128 weights in 32 bytes, weight j of block b (0 <= j < 128) in byte (b*32 + j%32), bits
 *    2*(j/32)..+1. (So one 32-byte load, shifted right by 0/2/4/6 and masked with 3, gives 4 runs
 *    of 32 codes.) Weights past K are zero (code 1).
 *  - Activations are int8 rows padded with zeros to Kp = fl_ternary_kpad(K), a multiple of 32:
 *    a kernel reads the runs of the last block only up to Kp (for K = 192, 6 runs, not 8).
 *  - Weight quantisation (BitNet b1.58, absmean): s = max(mean|W|, 1e-5) over the whole tensor
 *    (mean accumulated in double, then rounded to float); Wq = clamp(rint(W / s), -1, 1) with
 *    rint = round half to even; the dequantised weight is W_eff = s * Wq.
 *
 * Activation quantisation (per token, absmax int8)
 *  - gamma = max(max_k |x_k|, 1e-5); inv = 127.0f / gamma (float); q_k = clamp(rint(x_k * inv),
 *    -127, 127); scale = gamma / 127.0f (float); the dequantised activation is x_eff = q * scale.
 *  - Rows are padded with q = 0 up to Kp = fl_ternary_kpad(K).
 *
 * BitLinear (quant "ternary"): y[t,o] = (float)(sum_k q[t,k] Wq[o,k]) * (s * scale[t]).
 * The integer sum is exact (int32). Straight-through estimator backward:
 *   dx = dy W_eff             (gradient w.r.t. the float input uses the dequantised weight)
 *   dW += dy^T x_eff          (gradient w.r.t. the master weight uses the dequantised input)
 * With quant "none": W_eff = W and x_eff = x (plain fp32 linear).
 *
 * Learnable alpha (fl_spec.learnable_alpha, FlashLM's per-layer output scale; off in the BitNet
 * b1.58 reference recipe): every linear gets one fp32 scalar, y = alpha * (x_eff W_eff^T), for
 * BitLinear and plain fp32 linears alike. Backward: dalpha += sum(dy * x_eff W_eff^T) (computed
 * as <dy^T x_eff, W_eff>, exact at alpha = 0), dW += alpha dy^T x_eff, dx = alpha dy W_eff.
 */
#ifndef FLASHLM_H
#define FLASHLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with -fvisibility=hidden: only this header's functions are exported. */
#pragma GCC visibility push(default)

/* ---- errors ---------------------------------------------------------------------------- */
/* FL_ECOMM: a peer failed (closed the connection, reset, or broke the protocol); FL_ETIMEOUT: a
 * peer did not answer within the communicator's timeout; FL_EAUTH: a peer failed mutual
 * authentication. The communication errors' texts name the peer's rank and address. */
enum {
  FL_OK = 0,
  FL_EINVAL = 1,
  FL_ENOMEM = 2,
  FL_ESTATE = 3,
  FL_ECOMM = 4,
  FL_ETIMEOUT = 5,
  FL_EAUTH = 6
};
/* Text of the last error on this thread ("" if none). */
const char *fl_last_error(void);
/* Sets the thread's error text (printf format) and returns code. */
int fl_error(int code, const char *fmt, ...);

/* ---- kernel table: every entry has a scalar reference twin with the same signature ------- */
/* Shapes: T tokens (rows), K/C channels, N outputs, B batch rows of T positions, H heads of hd
 * channels (C = H*hd), V vocabulary. Every kernel is deterministic for a given thread count. */
typedef struct fl_kernels {
  const char *name; /* "scalar", "avx2", "neon" */
  /* C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C; op(X) = X or X^T (ta/tb = 1).
   * A is (M,K) with row stride lda, or (K,M) if ta; B is (K,N) with ldb, or (N,K) if tb.
   * beta == 0 means C is overwritten (never read). */
  void (*gemm)(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);
  /* y (T,N) = (float)(q (T,Kp) . Wq (N,Kp)^T) * (wscale * xscale[t]); q int8 padded to
   * Kp = fl_ternary_kpad(K) with zeros; w packed as described above, N rows of
   * fl_ternary_row_bytes(K) bytes.
   * y has row stride ldy >= N. The integer sum is exact, so every ISA gives identical bits. */
  void (*ternary_matmul)(float *y, int ldy, const int8_t *q, const float *xscale, const uint8_t *w,
                         float wscale, int T, int N, int K);
  /* q (T,Kp), xscale (T) from x (T,K): per-token absmax int8 quantisation (see above). */
  void (*quant_act)(int8_t *q, float *xscale, const float *x, int T, int K);
  /* x_eff (T,K) = q (T,Kp) * xscale[t]: the dequantised activation. */
  void (*dequant_act)(float *xeff, const int8_t *q, const float *xscale, int T, int K);
  /* RMSNorm: y (T,C) = x * rstd * w, rstd (T) = 1/sqrt(mean(x^2) + eps). */
  void (*rmsnorm_forward)(float *y, float *rstd, const float *x, const float *w, int T, int C,
                          float eps);
  /* dx (T,C) = (or +=, if accumulate) RMSNorm backward; dw (C) += sum_t dy*x*rstd. */
  void (*rmsnorm_backward)(float *dx, float *dw, const float *dy, const float *x, const float *w,
                           const float *rstd, int T, int C, int accumulate);
  /* RoPE in place on x (B,T,H*hd) with row stride ld (see fl_rope_table); inverse != 0 rotates
   * by -angle (the transpose: the backward). */
  void (*rope)(float *x, int ld, const float *cs, int B, int T, int H, int hd, int inverse);
  /* Causal attention, scale 1/sqrt(hd), online softmax (memory O(T) beyond q,k,v,out).
   * q,k,v (B,T,H*hd) with row stride ld (so q,k,v may be column blocks of one fused QKV
   * buffer); out (B,T,H*hd) with row stride C; lse (B,H,T) the log-sum-exp of each query row.
   * Returns FL_OK, or FL_ENOMEM (message set) if per-thread scratch cannot be allocated; the
   * outputs are then undefined. */
  int (*attention_forward)(float *out, float *lse, const float *q, const float *k, const float *v,
                           int ld, int B, int T, int H, int hd);
  /* dq,dk,dv (row stride ld) overwritten; dout, out row stride C; recomputes the probabilities
   * from q, k and lse. Returns like the forward. */
  int (*attention_backward)(float *dq, float *dk, float *dv, const float *dout, const float *q,
                            const float *k, const float *v, const float *out, const float *lse,
                            int ld, int B, int T, int H, int hd);
  /* SwiGLU: h (n) = silu(g) * u. u == NULL means h = silu(g). */
  void (*swiglu_forward)(float *h, const float *g, const float *u, size_t n);
  /* dg, du (n) overwritten (du unused when u == NULL). */
  void (*swiglu_backward)(float *dg, float *du, const float *dh, const float *g, const float *u,
                          size_t n);
  /* Fused softmax cross-entropy over logits (T,V) in place: returns sum_t (lse_t - logit[t,y_t])
   * (double) and, if grad_scale != 0, replaces logits by grad_scale * (softmax - onehot(y)). */
  double (*crossentropy)(float *logits, const int *targets, int T, int V, float grad_scale);
  /* AdamW on n floats (see fl_adamw). */
  void (*adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                float b2, float eps, float wd, int step);
  /* SGD momentum on n floats (see fl_sgd_momentum). */
  void (*sgd_momentum)(float *p, const float *g, float *buf, size_t n, float lr, float mu,
                       float wd);
  /* sum of squares, accumulated in double in fixed blocks (deterministic). */
  double (*sum_squares)(const float *x, size_t n);
  /* x (n) *= factor. */
  void (*scale)(float *x, size_t n, float factor);
  /* The int16 dX of ternary linears (backward_dx FL_DX_INT16, see "Integer dX" below).
   * q (T, Kq), a (T) from dy (T, K) with row stride ldy: per-token absmax int16 of
   * dy[t,k] * cs[k], Kq = fl_dx16_kpad(K), padded with zeros. */
  void (*dx16_quant)(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T, int K);
  /* dx (T, N) with row stride ldx = (beta 0) or += (beta 1) a[t] * (float)(q (T, Kq) . W (K, N))
   * for the sign matrix W in {-1,0,1} packed by fl_dx16_panel (K <= FL_DX16_MAX_K). The integer
   * sum is exact (int32), so every ISA gives identical bits. */
  void (*dx16_matmul)(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                      int T, int N, int K, float beta);
  /* The int16 dW of ternary linears (backward_dw FL_DW_INT16, see "Integer dW" below): q (K,
   * Tq), a (K) from dy (T, K) with row stride ldy, Tq = fl_dx16_kpad(T): row k of q is what
   * dx16_quant gives for the row dy[:,k] * cs[:] (one absmax per column of dy, over its T
   * tokens), padded with zeros. */
  void (*dw16_quant)(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T, int K);
} fl_kernels;

/* OpenMP threads that kernels called from the calling thread use (omp_set_num_threads: the
 * setting belongs to the calling thread, e.g. one Spark task's JVM thread). n must be >= 1. */
int fl_set_num_threads(int n);
int fl_num_threads(void);
/* Pins the calling thread and the fl_num_threads() OpenMP threads of its parallel regions (the
 * team later kernels called from this thread run on; nested teams inherit it) to the cpus
 * cpus[0..n) (each thread may run on any of them): one rank of a data-parallel run stays on its
 * NUMA node. Linux only. FL_EINVAL for n < 1 or an id outside [0, 1024); FL_ESTATE with the OS's
 * reason when it refuses (no cpu of the list in this process's cpuset, a seccomp policy) or
 * cannot pin threads. On an error the calling thread's own affinity is unchanged unless the
 * error text says otherwise. */
int fl_pin_threads(const int *cpus, int n);

/* The kernels chosen once for this CPU (thread-safe; first call detects). */
const fl_kernels *fl_kernels_get(void);
/* The scalar reference table (always available). */
const fl_kernels *fl_kernels_ref(void);
/* The SIMD table of this build for this CPU, or NULL if the CPU or build lacks it. */
const fl_kernels *fl_kernels_simd(void);

/* ---- weight quantisation & packing (scalar; O(params) once per step) --------------------- */
int fl_ternary_kpad(int K);                       /* K rounded up to a multiple of 32 */
int fl_ternary_row_bytes(int K);                  /* 32 * ceil(K / 128) */
size_t fl_ternary_packed_bytes(int N, int K);     /* N * fl_ternary_row_bytes(K) */
float fl_ternary_scale(const float *W, size_t n); /* s = max(mean|W|, 1e-5) */
/* Packs W (N,K) with scale s into w (N rows of fl_ternary_row_bytes(K)); optionally writes
 * W_eff (N,K) if weff. */
void fl_ternary_pack(uint8_t *w, float *weff, const float *W, float s, int N, int K);
/* Unpacks codes to {-1,0,1} int8 (N,K). */
void fl_ternary_unpack(int8_t *wq, const uint8_t *w, int N, int K);

/* ---- integer dX of ternary linears (fl_spec.backward_dx = FL_DX_INT16) ----------------------
 * dx = dy W_eff with W_eff = s * W (W in {-1,0,1}) is computed as dx[t,i] = a[t] * sum_o q[t,o]
 * W[o,i], where q[t,o] = rint(v[t,o] * 32767 / m_t) (int16, round half to even) quantises
 * v[t,o] = dy[t,o] * cs[o] (cs = s * alpha of the linear that row o belongs to, one float
 * multiply) per token with m_t = max_o |v[t,o]| and a[t] = m_t: the factor 32767 / m_t in double,
 * rounded to float, times v in float (for m_t < 2^-96, where the factor would overflow a float,
 * the factor and the product stay in double). A token whose v are all zero gets q = 0 and a = 0; one with an
 * infinite or NaN v gets q = 0 and a = NaN, so its dx row is NaN. The sums are exact in int32
 * (|sum| <= 32767 K), then y = ((float)sum * (1.0f / 32767.0f)) * a[t] in float (two rounded
 * products: a denormal m_t keeps its bits), dx = y (beta 0) or dx + y (beta 1; never fused).
 * So each q is off by at most half a step, 2^-16 of the token's largest v. W is packed once per step into panels of 16 columns: for
 * column block b and row pair p, 32 bytes hold W[2p+e][16b+c] at byte 2c+e (int8; rows past K
 * and columns past N zero), blocks after each other, each ceil(K/2) pairs long. */
#define FL_DX16_MAX_K 65536
int fl_dx16_kpad(int K);                  /* K rounded up to even: the row length of q */
size_t fl_dx16_panel_bytes(int K, int N); /* 32 * ceil(N/16) * ceil(K/2) */
/* panel from W_eff (K rows, N columns, row-major): W = sign(W_eff). */
void fl_dx16_panel(int8_t *panel, const float *weff, int K, int N);

/* ---- integer dW of ternary linears (fl_spec.backward_dw = FL_DW_INT16) ----------------------
 * dW += dy^T x_eff, where x_eff[t,i] = sx[t] * xq[t,i] is the int8 activation the forward used
 * (per-token scale sx), is computed block by block over FL_DW16_TOKENS tokens at a time: in a
 * block, v[t,o] = dy[t,o] * sx[t] is quantised per output o over the block's tokens (dw16_quant:
 * the integer dX's rule with the roles of tokens and outputs swapped), the sums
 * sum_t q[o,t] xq[t,i] are exact in int32 (|sum| <= 32767 * 127 * FL_DW16_TOKENS < 2^31), and
 * each block adds a[o] * (float)sum to dW through dx16_matmul (beta 1; the first block of a
 * product with beta 0 stores), the blocks in token order. So every v is off by at most 2^-16 of
 * the largest |v| of its output in its block, and the bits do not depend on the ISA or the thread
 * count. xq is packed per block as a panel of its int8 values (fl_dw16_panel). */
#define FL_DW16_TOKENS 256
/* panel (fl_dx16_panel_bytes(T, N)) from the int8 matrix x (T rows, N columns, row stride ldx):
 * the layout of fl_dx16_panel with x's values instead of signs. */
void fl_dw16_panel(int8_t *panel, const int8_t *x, int ldx, int T, int N);

/* ---- layers through the chosen table (forward/backward pairs; outputs first, dims last) ---- */
void fl_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int T, int C,
                        float eps);
void fl_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         const float *rstd, int T, int C, int accumulate);
/* RoPE, interleaved pairs (x[2i], x[2i+1]) of each head, angle = pos * theta^(-2i/hd):
 * (a, b) -> (a cos - b sin, a sin + b cos). cs holds (T, hd/2) cos/sin pairs (computed in
 * double, rounded to float). x is (B,T,H*hd), row stride H*hd, in place; the backward applies
 * the inverse rotation to the gradient. */
void fl_rope_table(float *cs, int T, int hd, double theta);
void fl_rope_forward(float *x, const float *cs, int B, int T, int H, int hd);
void fl_rope_backward(float *dx, const float *cs, int B, int T, int H, int hd);
/* Causal attention with q,k,v,out all (B,T,H*hd), row stride H*hd; see the kernel table (0 or
 * FL_ENOMEM). */
int fl_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                         int B, int T, int H, int hd);
int fl_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, const float *out, const float *lse, int B,
                          int T, int H, int hd);
void fl_swiglu_forward(float *h, const float *g, const float *u, size_t n);
void fl_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u,
                        size_t n);
double fl_crossentropy_fused(float *logits, const int *targets, int T, int V, float grad_scale);
/* Embedding (portable, memory-bound): out (T,C) = E[tok[t]]; backward dE (V,C) [tok[t]] +=
 * dout[t], deterministic (channel blocks in parallel, tokens in order). */
void fl_embedding_forward(float *out, const int *tok, const float *E, int T, int C);
void fl_embedding_backward(float *dE, const float *dout, const int *tok, int T, int C);

/* ---- optimizer kernels (dispatched) -------------------------------------------------------- */
/* AdamW (torch.optim.AdamW): p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr/(1-b1^step) * m / (sqrt(v)/sqrt(1-b2^step) + eps). */
void fl_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
              float eps, float wd, int step);
/* SGD momentum (torch.optim.SGD, dampening 0, nesterov off): g' = g + wd p; buf = mu buf + g';
 * p -= lr buf. With buf zero-initialised, step 1 gives buf = g' exactly as torch does. */
void fl_sgd_momentum(float *p, const float *g, float *buf, size_t n, float lr, float mu, float wd);
double fl_sum_squares(const float *x, size_t n);
void fl_scale(float *x, size_t n, float factor);

/* ---- model ---------------------------------------------------------------------------------- */
enum { FL_ARCH_TRANSFORMER = 0, FL_ARCH_FFN = 1 };
/* How the backward computes dx = dy W_eff of a BitLinear: FL_DX_INT16 with dy quantised to int16
 * per token and exact integer sums against the ternary signs ("Integer dX" above: about four
 * times the fp32 GEMM's rate where the CPU has AVX-512 VNNI), FL_DX_FP32 as an fp32 GEMM with
 * W_eff. fp32 linears (ternary 0) ignore it. */
enum { FL_DX_INT16 = 0, FL_DX_FP32 = 1 };
/* How the backward computes dW += dy^T x_eff of a BitLinear: FL_DW_INT16 from dy quantised to
 * int16 per output and block of tokens and the forward's int8 activations ("Integer dW" above),
 * FL_DW_FP32 as an fp32 GEMM with x_eff. fp32 linears (ternary 0) ignore it. */
enum { FL_DW_INT16 = 0, FL_DW_FP32 = 1 };
typedef struct fl_spec {
  int arch, vocab, d, n_layers, n_heads, ffn, seq_len;
  int ternary;         /* 1: BitLinear, 0: plain fp32 linears */
  int learnable_alpha; /* 1: one learnable output scale per linear (see above and below) */
  int backward_dx;     /* ternary only: FL_DX_INT16 (0, the default) or FL_DX_FP32, see below */
  int backward_dw;     /* ternary only: FL_DW_INT16 (0, the default) or FL_DW_FP32, see below */
  double rope_theta, norm_eps;
} fl_spec;

/* The model: one flat fp32 parameter buffer and one gradient buffer with the same layout, in
 * this order (HF/Llama names; matrices [out, in]; identical to the trainer's ParamLayout):
 *   model.embed_tokens.weight [vocab, d]                         (tied output head)
 *   per layer i, transformer: model.layers.i.input_layernorm.weight [d],
 *     model.layers.i.self_attn.{q,k,v,o}_proj.weight [d, d],
 *     model.layers.i.post_attention_layernorm.weight [d],
 *     model.layers.i.mlp.{gate,up}_proj.weight [ffn, d], model.layers.i.mlp.down_proj.weight [d, ffn]
 *   per layer i, ffn: model.layers.i.input_layernorm.weight [d],
 *     model.layers.i.mlp.up_proj.weight [ffn, d], model.layers.i.mlp.down_proj.weight [d, ffn]
 *   model.norm.weight [d]
 *   with learnable_alpha only, last (so the tensors above keep their offsets), per layer i in
 *   the order above: model.layers.i.self_attn.{q,k,v,o}_proj.alpha [1],
 *     model.layers.i.mlp.{gate,up,down}_proj.alpha [1] (ffn: mlp.{up,down}_proj.alpha [1])
 * Weight decay (the decay flag) applies to the 2-D tensors (not to norms or alphas). The caller
 * initialises alphas (the trainer: to 1). A model is not thread-safe: one caller at a time (its
 * kernels use OpenMP inside). Activations for the backward are kept inside the model, sized for
 * max_batch. */
typedef struct fl_model fl_model;
/* Creates a model for batches of up to max_batch rows of seq_len tokens. Parameters and
 * gradients are zeroed: the caller initialises the parameters (the trainer does, in Java). */
int fl_model_create(fl_model **out, const fl_spec *spec, int max_batch);
/* NULL is a no-op. */
void fl_model_free(fl_model *m);
/* The spec the model was created with. */
const fl_spec *fl_model_spec(const fl_model *m);
size_t fl_model_num_params(const fl_model *m);
float *fl_model_params(fl_model *m);
float *fl_model_grads(fl_model *m);
/* Tensor i of the layout: HF/Llama name, offset (floats), shape (ndim <= 2), decay flag. */
int fl_model_num_tensors(const fl_model *m);
int fl_model_tensor(const fl_model *m, int i, const char **name, size_t *offset, int *ndim,
                    int shape[2], int *decay);
void fl_model_zero_grads(fl_model *m);
/* tokens (B, T+1) with T = seq_len: inputs [:, :T], targets [:, 1:]. Adds the gradient of the
 * mean cross-entropy over B*T positions to grads; *loss = that mean. On an error (FL_EINVAL for
 * a bad token before anything is computed, FL_ENOMEM when a kernel's scratch memory cannot be
 * allocated) the gradients may hold part of this call's sum: zero them before using them. */
int fl_model_forward_backward(fl_model *m, const int *tokens, int B, float *loss);
/* The same mean cross-entropy, forward only (grads untouched). */
int fl_model_loss(fl_model *m, const int *tokens, int B, float *loss);
/* tokens (B, len), 1 <= len <= seq_len; out (B, vocab) = logits at position len-1. */
int fl_model_last_logits(fl_model *m, const int *tokens, int B, int len, float *out);

/* ---- inference: a model loaded once from packed weights (src/model/decode.c) ---------------
 * Packed weights: the tensors of the model layout above, in that order, back to back, with no
 * alpha tensors (each alpha is folded into its linear's scale), all little-endian:
 *   model.embed_tokens.weight  [vocab, d] fp32, or bf16 (round to nearest even) with FL_EMB_BF16
 *   a norm weight              [d] fp32
 *   a linear [out, in]         f32 scale, then the weights: ternary: out rows of
 *                              fl_ternary_row_bytes(in) bytes of 2-bit codes (format above), the
 *                              scale s * alpha (s the absmean scale of the master weight, alpha
 *                              its learnable alpha or 1); quant none: out*in fp32, the scale alpha
 * So a linear computes exactly what the training model's forward does with the same weights:
 * y = (int32 q . Wq) * (scale * xscale[t]) or y = scale * (x W^T). fl_packed_from_params makes
 * them from the fp32 master weights (quantised once, as the forward does every step).
 *
 * fl_infer: the loaded model, for generation and scoring. Weights stay packed (2 bits each) and
 * activations are quantised to int8 per token; a KV cache of seq_len positions (keys after RoPE,
 * values; per layer) makes each new token cost one pass over the weights plus its attention over
 * the cached keys. The kernels are those of the chosen table (plus a one-row attention, the twin
 * of the table's attention_forward), so logits equal, bit for bit, those of the training model's
 * fl_model_last_logits on the same tokens (with ffn a multiple of 8, as in every shipped config:
 * the SIMD SwiGLU finishes a buffer's last n % 8 values in scalar code). Not thread-safe: one
 * caller at a time. */
enum { FL_EMB_F32 = 0, FL_EMB_BF16 = 1 };
/* Bytes of the packed weights of spec with the embedding stored as emb (FL_EMB_*); 0 for a bad
 * emb. */
size_t fl_packed_bytes(const fl_spec *spec, int emb);
/* out (bytes == fl_packed_bytes(spec, emb)) = the packed weights of params (n_params fp32
 * master weights in the model layout, alphas included when spec->learnable_alpha; n_params must
 * be the layout's size). */
int fl_packed_from_params(void *out, size_t bytes, const fl_spec *spec, int emb,
                          const float *params, size_t n_params);
typedef struct fl_infer fl_infer;
/* Loads packed weights (bytes must be fl_packed_bytes(spec, emb); they are copied, and a
 * ternary code of 3 inside a row is refused as corrupt). The cache holds spec->seq_len
 * positions. */
int fl_infer_create(fl_infer **out, const fl_spec *spec, int emb, const void *packed, size_t bytes);
/* NULL is a no-op. */
void fl_infer_free(fl_infer *m);
const fl_spec *fl_infer_spec(const fl_infer *m);
/* Tokens in the cache: the position the next token gets. */
int fl_infer_position(const fl_infer *m);
/* Empties the cache. */
void fl_infer_reset(fl_infer *m);
/* Appends tokens (n >= 1) at positions position .. position+n-1 and, if logits != NULL, writes
 * logits (vocab) of the last one. FL_EINVAL, with nothing appended, for a token outside the
 * vocabulary or when position + n > seq_len (the caller slides or refuses the context). */
int fl_infer_forward(fl_infer *m, const int *tokens, int n, float *logits);
/* Scores a window: empties the cache, runs tokens[0 .. n-1] (1 <= n <= seq_len) and sets *nll =
 * sum over positions t in [from, n) of -ln p(tokens[t+1] | tokens[0..t]) (tokens holds n+1
 * ids; 0 <= from < n). The cache holds tokens[0 .. n-1] afterwards. */
int fl_infer_score(fl_infer *m, const int *tokens, int n, int from, double *nll);

/* ---- communication: an authenticated TCP ring for data-parallel training ------------------
 * Each rank opens a listener (fl_listen) on its host's address with an ephemeral port, the
 * ranks exchange "host:port" texts (the trainer: Spark's BarrierTaskContext.allGather), and
 * every rank creates its communicator with everyone's address and the run's secret. Rank r
 * connects to rank (r+1)%w (its right neighbour) and accepts from rank (r-1)%w (its left), and
 * both sides of each connection prove they know the secret (HMAC-SHA256 answers to each other's
 * random nonces; the secret itself never goes on the wire). A connection that fails that is
 * closed and listed in fl_comm_notes, never used. The listener is needed only until
 * fl_comm_create returns: close it then, so nothing listens during the run.
 *
 * Collectives: every rank must make the same calls with the same sizes in the same order; each
 * call first checks its left neighbour's call against its own (kind, sequence number, size)
 * and fails naming both if they differ. One call at a time per communicator. Every blocking step
 * waits in poll() with the timeout: a call fails with FL_ETIMEOUT when no byte has moved for
 * timeout_ms, and with FL_ECOMM as soon as a neighbour closes its connection; the error names
 * the neighbour's rank and address. After a failure the communicator shuts its connections (so
 * the neighbours learn at once) and every later call returns FL_ESTATE with the first error.
 *
 * Determinism: allreduce is a ring reduce-scatter then all-gather over fixed segments (element
 * ranges split evenly over the ranks) in fixed chunks, so each element's sum is taken in the same
 * order every run (element i of segment j: ((x_j + x_{j+1}) + x_{j+2}) + ... in ring order from
 * rank j), and the all-gather copies the finished sums, so every rank ends with the same bits.
 * The sum is a plain elementwise IEEE add, compiled for the baseline ISA (whether the compiler
 * vectorises it or not, each element is one rounded add: the same bits on every ISA and build).
 * The result depends on the world size (the order of the terms does). World 1: every call is a
 * no-op (the buffer already holds the sum). */
typedef struct fl_listener fl_listener;
typedef struct fl_comm fl_comm;
enum { FL_DT_F32 = 0, FL_DT_F64 = 1, FL_DT_I64 = 2 };
enum { FL_OP_SUM = 0, FL_OP_MAX = 1, FL_OP_MIN = 2 };

/* Listens on host (a name or numeric address; NULL or "" = every IPv4 interface) at port
 * (0 = an ephemeral port chosen by the kernel); *port receives the port bound. */
int fl_listen(fl_listener **out, int *port, const char *host, int want_port);
/* Stops listening; NULL is a no-op. */
void fl_listener_close(fl_listener *l);

/* Connects rank `rank` of `world` into the ring. peers (world) holds every rank's "host:port"
 * ("[v6addr]:port" for IPv6 literals); listener is this rank's (neither is used when world is
 * 1, and may then be NULL). secret (secret_len >= 16 bytes) is the run's shared secret.
 * Connecting retries while the right neighbour refuses, until timeout_ms have passed; the same
 * timeout then applies to every call (see above). The listener stays open: close it after. */
int fl_comm_create(fl_comm **out, fl_listener *listener, const char *const *peers,
                   const void *secret, size_t secret_len, int rank, int world, int timeout_ms);
/* Shuts the connections: a call blocked in another thread fails promptly (FL_ESTATE, "closed"),
 * later calls fail. Idempotent and safe from any thread; does not free. */
void fl_comm_close(fl_comm *c);
/* Closes and frees; NULL is a no-op. No call may be running on c. */
void fl_comm_free(fl_comm *c);
int fl_comm_rank(const fl_comm *c);
int fl_comm_world(const fl_comm *c);
/* Connections refused while the ring was made ("refused host:port: why; ..."), "" if none:
 * for the caller's log. */
const char *fl_comm_notes(const fl_comm *c);

/* x (n) = the elementwise sum of every rank's x (n): deterministic (see above), the same bits on
 * every rank. n may be 0; every rank must pass the same n. */
int fl_comm_allreduce_sum(fl_comm *c, float *x, size_t n);
/* The same for dtype FL_DT_* and op FL_OP_* (float32 supports only FL_OP_SUM; int64 sums wrap
 * around; a NaN in a float64 max/min propagates or not depending on its position in the ring).
 * x holds n elements of the dtype. Meant for small buffers too: checksums, agreement flags. */
int fl_comm_allreduce(fl_comm *c, void *x, int dtype, int op, size_t n);
/* x (bytes) on every rank = root's x, passed along the ring (root -> root+1 -> ...). */
int fl_comm_broadcast(fl_comm *c, void *x, size_t bytes, int root);
/* Returns on each rank only after every rank has entered it. */
int fl_comm_barrier(fl_comm *c);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
