/* CPU feature detection (once), the kernel table, errors, allocation and optimizer entry points.
 * Compiled for the baseline ISA so that it runs on any CPU of the architecture. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

static _Thread_local char fl_err[512];

const char *fl_last_error(void) { return fl_err; }

int fl_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fl_err, sizeof fl_err, fmt, ap);
  va_end(ap);
  return code;
}

void *fl_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, rounded ? rounded : 64);
  if (p) memset(p, 0, rounded ? rounded : 64);
  return p;
}

void fl_free(void *p) { free(p); }

const fl_kernels *fl_kernels_simd(void) {
#if defined(FLASHLM_HAVE_AVX2)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fl_kernels_avx2();
#elif defined(FLASHLM_HAVE_NEON)
  return fl_kernels_neon();
#endif
  return NULL;
}

static const fl_kernels *chosen;

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

void fl_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
              float b2, float eps, float wd, int step) {
  fl_kernels_get()->adamw(p, g, m, v, n, lr, b1, b2, eps, wd, step);
}

void fl_sgd_momentum(float *p, const float *g, float *buf, size_t n, float lr, float mu, float wd) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float b = mu * buf[i] + gi;
    buf[i] = b;
    p[i] -= lr * b;
  }
}

double fl_sum_squares(const float *x, size_t n) { return fl_kernels_get()->sum_squares(x, n); }

void fl_scale(float *x, size_t n, float factor) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) x[i] *= factor;
}
