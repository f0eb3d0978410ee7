/* Internal declarations shared by the library's C files (not part of the API). */
#ifndef FLASHLM_INTERNAL_H
#define FLASHLM_INTERNAL_H

#include <omp.h>
#include <stddef.h>
#include <stdint.h>

#include "flashlm.h"

/* Guards the weight scale mean|W| and the activation scale max|x| (BitNet b1.58). */
#define FL_QUANT_EPS 1e-5f
/* The AVX2 sum of squares works in blocks of this many elements. */
#define FL_SUM_BLOCK 65536
/* Teams of at most FL_MAX_THREADS threads, so that fl_parallel_sum's per-thread shares fit on
 * the stack. (fl_parallel_sum rather than an `ordered` clause: that would make the threads wait
 * on each other at every item, a scheduler time slice per item when the cores are shared.) */
#define FL_MAX_THREADS 256
static inline int fl_team(void) {
  int n = omp_get_max_threads();
  return n < FL_MAX_THREADS ? n : FL_MAX_THREADS;
}
/* The sum of items [i0, i1) of ctx, accumulated in item order. */
typedef double (*fl_range_sum_fn)(const void *ctx, size_t i0, size_t i1);
/* The deterministic parallel sum of items [0, n): thread t of the team sums its contiguous share
 * (the split OpenMP's schedule(static) makes: the first n % team threads get one item more) with
 * f, then the shares are added in thread order. The same bits for a given thread count. */
double fl_parallel_sum(fl_range_sum_fn f, const void *ctx, size_t n);
/* Cross-entropy of one row of logits in place (see fl_crossentropy_fused); each ISA has its own. */
typedef double (*fl_ce_row_fn)(float *row, int target, int V, float grad_scale);
/* The fused cross-entropy over T rows with ce_row, summed deterministically as above. */
double fl_crossentropy_rows(fl_ce_row_fn ce_row, float *logits, const int *targets, int T, int V,
                            float grad_scale);
/* Attention processes keys in blocks of this many (the online-softmax rescale granularity). */
#define FL_ATT_KB 64

/* The weight {-1,0,1} at column k of one packed row (see flashlm.h for the format). */
static inline int fl_ternary_code(const uint8_t *row, int k) {
  return ((row[(k / 128) * 32 + (k % 32)] >> (2 * ((k % 128) / 32))) & 3) - 1;
}

/* The integer dX (flashlm.h): a quantised row whose largest |v| has these bits or more holds an
 * infinity or a NaN. */
#define FL_DX16_NONFINITE 0x7f800000u
/* The bits of 2^-96: from this absmax on, 32767 / absmax fits a float and q is computed in
 * float; rows below it (which hardly occur) are quantised in double. */
#define FL_DX16_FLOAT_MIN 0x0f800000u
/* 1 / 32767 as a float: the value of one step of q relative to the token's absmax. */
#define FL_DX16_STEP (1.0f / 32767.0f)
/* mb folded with the bits of |d[k] * cs[k]| for k in [k0, K): for non-negative floats the
 * integer order of the bits is the float order, and a NaN's bits are above every finite's. */
static inline uint32_t fl_dx16_absmax_bits(const float *d, const float *cs, int k0, int K,
                                           uint32_t mb) {
  for (int k = k0; k < K; k++) {
    float v = d[k] * cs[k];
    uint32_t b;
    __builtin_memcpy(&b, &v, 4);
    b &= 0x7fffffffu;
    mb = b > mb ? b : mb;
  }
  return mb;
}
/* A row whose absmax bits mb are 0 (all zero) or non-finite quantises to zeros with scale 0 or
 * NaN (so its dx is 0 or NaN); returns 1 for such a row after writing q (Kq values) and *a. */
static inline int fl_dx16_degenerate_row(int16_t *q, int Kq, float *a, uint32_t mb) {
  if (mb != 0 && mb < FL_DX16_NONFINITE) return 0;
  __builtin_memset(q, 0, sizeof(int16_t) * Kq);
  *a = mb ? __builtin_nanf("") : 0.0f;
  return 1;
}
void fl_dx16_quant_ref(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                       int K);
void fl_dx16_matmul_ref(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                        int T, int N, int K, float beta);
void fl_dw16_quant_ref(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                       int K);
#if defined(FLASHLM_HAVE_AVX2)
/* AVX2 twins (vpmaddwd) and the AVX-512 VNNI product (vpdpwssd, src/x86/dx16_avx512.c); the
 * AVX2 table's entry runs the VNNI one where the CPU has it (fl_dx16_vnni_usable). */
void fl_dx16_quant_avx2(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                        int K);
void fl_dx16_matmul_avx2(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta);
void fl_dw16_quant_avx2(int16_t *q, float *a, const float *dy, int ldy, const float *cs, int T,
                        int K);
void fl_dx16_matmul_vnni(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta);
void fl_dx16_matmul_best(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta);
int fl_dx16_vnni_usable(void);
#endif

/* SIMD tables, defined only when the build contains them (see Makefile). */
const fl_kernels *fl_kernels_avx2(void);
const fl_kernels *fl_kernels_neon(void);

/* Scalar layers (layers_ref.c), entries of the reference table. */
void fl_rope_ref(float *x, int ld, const float *cs, int B, int T, int H, int hd, int inverse);
int fl_attention_forward_ref(float *out, float *lse, const float *q, const float *k, const float *v,
                             int ld, int B, int T, int H, int hd);
int fl_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, const float *out, const float *lse,
                              int ld, int B, int T, int H, int hd);
void fl_swiglu_forward_ref(float *h, const float *g, const float *u, size_t n);
void fl_swiglu_backward_ref(float *dg, float *du, const float *dh, const float *g, const float *u,
                            size_t n);
double fl_crossentropy_ref(float *logits, const int *targets, int T, int V, float grad_scale);

/* Makes a model run on the given table instead of the chosen one (tests compare tables). */
void fl_model_use_kernels(fl_model *m, const fl_kernels *k);

/* 64-byte aligned allocation (zeroed); NULL on failure. Free with fl_free. */
void *fl_alloc(size_t bytes);
void fl_free(void *p);

/* The buffers of one object (a model, a decoder), all freed together by fl_arena_free. */
typedef struct {
  void **allocs;
  int n, cap;
} fl_arena;
/* fl_alloc(bytes), remembered by the arena; NULL on failure. */
void *fl_arena_take(fl_arena *a, size_t bytes);
/* Frees every buffer taken; the arena is then empty and may be reused. */
void fl_arena_free(fl_arena *a);

/* One query row of causal attention against n cached keys (the KV cache of src/model/decode.c):
 * out (hd) = sum_j softmax_j(q . k_j / sqrt(hd)) v_j over j < n, with kt (hd, ldk) the keys
 * transposed (key j is column j) and v (n, ldv) the values. Each is the twin of a table's
 * attention_forward: the same arithmetic in the same order as that kernel uses for the last row
 * of a causal block of n positions, so the result is the same bit for bit. */
typedef void (*fl_attention_row_fn)(float *out, const float *q, const float *kt, int ldk,
                                    const float *v, int ldv, int n, int hd);
void fl_attention_row_ref(float *out, const float *q, const float *kt, int ldk, const float *v,
                          int ldv, int n, int hd);
#if defined(FLASHLM_HAVE_AVX2)
void fl_attention_row_avx2(float *out, const float *q, const float *kt, int ldk, const float *v,
                           int ldv, int n, int hd);
#endif
/* The K slice of the SIMD GEMMs (src/gemm_driver.h): each product sums its first FL_GEMM_KC
 * terms, then the next FL_GEMM_KC, ..., and adds the slices' sums in order. */
#define FL_GEMM_KC 256
/* out (n) = alpha * rows (n, K) . x (K), rows read in place: the decoder's head (the
 * embedding's rows) for one token. The twin of one row of a table's gemm(0, 1, 1, n, K, alpha,
 * x, K, rows, K, 0, out, n) bit for bit where that gemm does not split K over threads (K below
 * 1024 or below 2n: every head), without packing the rows as the gemm does. */
typedef void (*fl_gemv_rows_fn)(float *out, const float *x, const float *rows, int n, int K,
                                float alpha);
#if defined(FLASHLM_HAVE_AVX2)
void fl_gemv_rows_avx2(float *out, const float *x, const float *rows, int n, int K, float alpha);
#endif
/* The gemv twin of k's gemm, or NULL (use k->gemm). */
fl_gemv_rows_fn fl_gemv_rows_for(const fl_kernels *k);
/* The one-row attention twin of k's attention_forward. */
fl_attention_row_fn fl_attention_row_for(const fl_kernels *k);
/* Makes an inference model run on the given table (tests compare tables). */
void fl_infer_use_kernels(fl_infer *m, const fl_kernels *k);

#endif
