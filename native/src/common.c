/* Errors, allocation and the portable (memory-bound) layers: RoPE table, embedding. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

enum { FL_HUGE_PAGE = 2 << 20, FL_HUGE_MIN = 4 << 20 };

/* Buffers of FL_HUGE_MIN and more (the parameters, their gradients, activations, logits) are
 * 2 MB-aligned and advised onto huge pages (transparent huge pages in "madvise" mode, the common
 * default; the advice may be ignored): the GEMMs walk them with strides of kilobytes, and 4 KB
 * pages cost a TLB miss every few rows. */
void *fl_alloc(size_t bytes) {
  size_t size = bytes == 0 ? 64 : (bytes + 63) / 64 * 64, align = 64;
  int huge = size >= FL_HUGE_MIN;
  if (huge) align = FL_HUGE_PAGE, size = (size + FL_HUGE_PAGE - 1) / FL_HUGE_PAGE * FL_HUGE_PAGE;
  void *p = aligned_alloc(align, size);
  if (!p) return NULL;
  if (huge) madvise(p, size, MADV_HUGEPAGE);
  memset(p, 0, size);
  return p;
}

void fl_free(void *p) { free(p); }

void *fl_arena_take(fl_arena *a, size_t bytes) {
  if (a->n == a->cap) {
    int cap = a->cap ? 2 * a->cap : 64;
    void **grown = realloc(a->allocs, sizeof(void *) * cap);
    if (!grown) return NULL;
    a->allocs = grown, a->cap = cap;
  }
  void *p = fl_alloc(bytes);
  if (p) a->allocs[a->n++] = p;
  return p;
}

void fl_arena_free(fl_arena *a) {
  for (int i = 0; i < a->n; i++) fl_free(a->allocs[i]);
  free(a->allocs);
  a->allocs = NULL, a->n = a->cap = 0;
}

/* cs (T, hd/2, 2): cos and sin of pos * theta^(-2i/hd), computed in double. */
void fl_rope_table(float *cs, int T, int hd, double theta) {
  for (int t = 0; t < T; t++)
    for (int i = 0; i < hd / 2; i++) {
      double ang = t * pow(theta, -2.0 * i / hd);
      cs[((size_t)t * (hd / 2) + i) * 2] = (float)cos(ang);
      cs[((size_t)t * (hd / 2) + i) * 2 + 1] = (float)sin(ang);
    }
}

void fl_embedding_forward(float *out, const int *tok, const float *E, int T, int C) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++)
    memcpy(out + (size_t)t * C, E + (size_t)tok[t] * C, sizeof(float) * C);
}

/* Channel blocks in parallel, tokens in order within each: no races, same sums every run. */
void fl_embedding_backward(float *dE, const float *dout, const int *tok, int T, int C) {
  enum { CB = 16 };
#pragma omp parallel for schedule(static)
  for (int c0 = 0; c0 < C; c0 += CB) {
    int c1 = c0 + CB < C ? c0 + CB : C;
    for (int t = 0; t < T; t++) {
      float *d = dE + (size_t)tok[t] * C;
      const float *g = dout + (size_t)t * C;
      for (int c = c0; c < c1; c++) d[c] += g[c];
    }
  }
}

double fl_parallel_sum(fl_range_sum_fn f, const void *ctx, size_t n) {
  double part[FL_MAX_THREADS] = {0}, total = 0.0;
  int team = 1;
#pragma omp parallel num_threads(fl_team())
  {
    size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    size_t q = n / nt, r = n % nt;
    size_t i0 = t * q + (t < r ? t : r), i1 = i0 + q + (t < r ? 1 : 0);
    part[t] = i1 > i0 ? f(ctx, i0, i1) : 0.0;
#pragma omp single nowait
    team = (int)nt;
  }
  for (int t = 0; t < team; t++) total += part[t];
  return total;
}

typedef struct {
  fl_ce_row_fn ce_row;
  float *logits;
  const int *targets;
  int V;
  float grad_scale;
} ce_rows;

static double ce_range(const void *ctx, size_t t0, size_t t1) {
  const ce_rows *c = ctx;
  double s = 0.0;
  for (size_t t = t0; t < t1; t++)
    s += c->ce_row(c->logits + t * c->V, c->targets[t], c->V, c->grad_scale);
  return s;
}

double fl_crossentropy_rows(fl_ce_row_fn ce_row, float *logits, const int *targets, int T, int V,
                            float grad_scale) {
  ce_rows c = {ce_row, logits, targets, V, grad_scale};
  return fl_parallel_sum(ce_range, &c, (size_t)(T > 0 ? T : 0));
}
