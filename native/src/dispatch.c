/* CPU feature detection (once) and the public entry points that go through the chosen kernel
 * table. Compiled for the baseline ISA so that it runs on any CPU of the architecture. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

const fl_kernels *fl_kernels_simd(void) {
#if defined(FLASHLM_HAVE_AVX2)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fl_kernels_avx2();
#elif defined(FLASHLM_HAVE_NEON)
  return fl_kernels_neon();
#endif
  return NULL;
}

int fl_set_num_threads(int n) {
  if (n < 1) return fl_error(FL_EINVAL, "thread count %d must be at least 1", n);
  omp_set_num_threads(n);
  return FL_OK;
}

int fl_num_threads(void) { return omp_get_max_threads(); }

static const fl_kernels *chosen;

/* FLASHLM_FORCE_SCALAR set to anything but "" or "0" selects the reference kernels. */
static const fl_kernels *choose(void) {
  const char *force = getenv("FLASHLM_FORCE_SCALAR");
  if (force && *force && strcmp(force, "0") != 0) return fl_kernels_ref();
  const fl_kernels *simd = fl_kernels_simd();
  return simd ? simd : fl_kernels_ref();
}

const fl_kernels *fl_kernels_get(void) {
  const fl_kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
  if (!k) { /* racing first callers compute the same answer; publishing twice is harmless */
    k = choose();
    __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
  }
  return k;
}

void fl_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int T, int C,
                        float eps) {
  fl_kernels_get()->rmsnorm_forward(y, rstd, x, w, T, C, eps);
}

void fl_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         const float *rstd, int T, int C, int accumulate) {
  fl_kernels_get()->rmsnorm_backward(dx, dw, dy, x, w, rstd, T, C, accumulate);
}

void fl_rope_forward(float *x, const float *cs, int B, int T, int H, int hd) {
  fl_kernels_get()->rope(x, H * hd, cs, B, T, H, hd, 0);
}

void fl_rope_backward(float *dx, const float *cs, int B, int T, int H, int hd) {
  fl_kernels_get()->rope(dx, H * hd, cs, B, T, H, hd, 1);
}

int fl_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                         int B, int T, int H, int hd) {
  return fl_kernels_get()->attention_forward(out, lse, q, k, v, H * hd, B, T, H, hd);
}

int fl_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, const float *out, const float *lse, int B,
                          int T, int H, int hd) {
  return fl_kernels_get()->attention_backward(dq, dk, dv, dout, q, k, v, out, lse, H * hd, B, T, H,
                                              hd);
}

void fl_swiglu_forward(float *h, const float *g, const float *u, size_t n) {
  fl_kernels_get()->swiglu_forward(h, g, u, n);
}

void fl_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u,
                        size_t n) {
  fl_kernels_get()->swiglu_backward(dg, du, dh, g, u, n);
}

double fl_crossentropy_fused(float *logits, const int *targets, int T, int V, float grad_scale) {
  return fl_kernels_get()->crossentropy(logits, targets, T, V, grad_scale);
}

void fl_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
              float eps, float wd, int step) {
  fl_kernels_get()->adamw(p, g, m, v, n, lr, b1, b2, eps, wd, step);
}

void fl_sgd_momentum(float *p, const float *g, float *buf, size_t n, float lr, float mu, float wd) {
  fl_kernels_get()->sgd_momentum(p, g, buf, n, lr, mu, wd);
}

double fl_sum_squares(const float *x, size_t n) { return fl_kernels_get()->sum_squares(x, n); }

void fl_scale(float *x, size_t n, float factor) { fl_kernels_get()->scale(x, n, factor); }
