/* The one C test runner: every kernel against its scalar reference over odd sizes, layers
 * against naive double-precision versions and finite differences, the model against itself on
 * the reference kernels and against finite differences. Exit status 1 if any check failed.
 * Usage: flashlm_test [-v] [name-substring]. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

const int SIZES[N_SIZES] = {1, 3, 7, 31, 33, 255, 1023};
int t_verbose;
static int failures;

/* Every test, defined in test_kernels.c, test_dx16.c, test_dw16.c, test_model_dx16.c, test_layers.c, test_model.c, test_alloc.c,
 * test_comm.c, test_affinity.c, test_decode.c. */
/* The test list is laid out by hand. */
/* clang-format off */
#define TESTS(X)                                                                                   \
  X(test_gemm) X(test_ternary_pack) X(test_ternary_matmul) X(test_quant_act) X(test_rmsnorm)       \
  X(test_dx16_matmul) X(test_dx16_quant) X(test_dw16_quant) X(test_dw16_panel_and_product)      \
  X(test_rmsnorm_fd) X(test_optimizers) X(test_reductions) X(test_rope) X(test_attention)          \
  X(test_attention_fd) X(test_swiglu) X(test_crossentropy) X(test_embedding)                       \
  X(test_model_errors) X(test_model_layout) X(test_model_fd) X(test_model_simd_vs_ref)             \
  X(test_model_deterministic) X(test_model_last_logits) X(test_model_alpha_one)                   \
  X(test_model_int16_close_to_fp32) X(test_model_int16_same_bits_for_any_thread_count)               \
  X(test_model_refuses_an_unknown_backward_dx_or_dw) X(test_model_int16_trains_like_fp32)                                                   \
  X(test_model_alloc_failure) X(test_attention_alloc_failure)                                      \
  X(test_kernel_scratch_alloc_failure)                                                             \
  X(test_attention_row) X(test_gemv_rows_matches_gemm) X(test_infer_matches_model)                \
  X(test_infer_score_matches_loss) X(test_infer_refuses_bad_input) X(test_infer_bf16_embedding)    \
  X(test_attention_scratch_is_linear_in_t)                                                         \
  X(test_comm_sha256) X(test_comm_hmac) X(test_comm_world_one) X(test_comm_rejects_bad_arguments)  \
  X(test_comm_allreduce_threads) X(test_comm_allreduce_processes) X(test_comm_collectives)         \
  X(test_comm_refuses_a_wrong_secret) X(test_comm_refuses_strangers_and_still_connects)            \
  X(test_comm_connect_retries_until_the_neighbour_listens) X(test_comm_ipv6_loopback)              \
  X(test_comm_mismatched_calls_fail_naming_both)                                                   \
  X(test_comm_close_from_another_thread_ends_a_blocked_call)                                       \
  X(test_comm_peer_killed_mid_transfer_fails_the_others)                                           \
  X(test_comm_peer_that_stops_answering_fails_the_others) X(test_pin_threads)
/* clang-format on */
#define DECLARE(f) void f(void);
TESTS(DECLARE)
#define ENTRY(f) {#f, f},
static const struct {
  const char *name;
  void (*fn)(void);
} ALL[] = {TESTS(ENTRY)};

void t_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  failures++;
  fprintf(stderr, "  FAIL %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static int report(const char *what, double maxdiff, double maxratio, size_t bad, size_t n,
                  size_t first, double got, double want, double tol) {
  if (bad) {
    failures++;
    fprintf(stderr,
            "  FAIL %s: %zu of %zu outside tolerance %.1e; max diff %.3e (%.2fx tolerance); "
            "first at [%zu]: got %.9g want %.9g\n",
            what, bad, n, tol, maxdiff, maxratio, first, got, want);
    return 0;
  }
  if (t_verbose) printf("    %-48s max diff %.3e (%.3fx tol %.1e)\n", what, maxdiff, maxratio, tol);
  return 1;
}

int t_close(const char *what, const float *got, const float *want, size_t n, double tol) {
  double *w = t_bytes((n ? n : 1) * sizeof *w);
  for (size_t i = 0; i < n; i++) w[i] = want[i];
  int r = t_close_ds(what, got, w, n, tol, 0.0);
  free(w);
  return r;
}

int t_close_d(const char *what, const float *got, const double *want, size_t n, double tol) {
  return t_close_ds(what, got, want, n, tol, 0.0);
}

int t_close_ds(const char *what, const float *got, const double *want, size_t n, double tol,
               double floor) {
  double scale = floor, maxdiff = 0.0, maxratio = 0.0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]), allowed = tol * (scale + fabs(want[i]));
    if (!(d <= allowed) && !(d == 0.0)) {
      if (!bad++) first = i;
    }
    if (d > maxdiff || d != d) maxdiff = d;
    if (allowed > 0 && d / allowed > maxratio) maxratio = d / allowed;
  }
  return report(what, maxdiff, maxratio, bad, n, first, bad ? got[first] : 0, bad ? want[first] : 0,
                tol);
}

int t_same(const char *what, const void *got, const void *want, size_t n, size_t width) {
  const unsigned char *a = got, *b = want;
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) {
      size_t e = i / width;
      failures++;
      fprintf(stderr, "  FAIL %s: not identical; first difference in element %zu", what, e);
      if (width == 4) {
        float x, y;
        memcpy(&x, a + e * 4, 4);
        memcpy(&y, b + e * 4, 4);
        fprintf(stderr, " (as float: got %.9g want %.9g)", x, y);
      } else if (width == 1) {
        fprintf(stderr, " (got %d want %d)", (int)(signed char)a[e], (int)(signed char)b[e]);
      }
      fputc('\n', stderr);
      return 0;
    }
  if (t_verbose) printf("    %-48s identical (%zu bytes)\n", what, n);
  return 1;
}

int t_fd(const char *what, float *x, size_t n, const float *grad, double (*loss)(void *), void *ctx,
         float h, double tol, int max_points) {
  size_t m = n < (size_t)max_points ? n : (size_t)max_points;
  double *fd = t_bytes(m * sizeof(double));
  float *an = t_floats(m);
  for (size_t j = 0; j < m; j++) {
    size_t i = m == n ? j : j * (n - 1) / (m - 1 ? m - 1 : 1);
    float keep = x[i];
    float hi = keep + h, lo = keep - h; /* the steps actually taken, after rounding */
    x[i] = hi;
    double lp = loss(ctx);
    x[i] = lo;
    double lm = loss(ctx);
    x[i] = keep;
    fd[j] = (lp - lm) / ((double)hi - lo);
    an[j] = grad[i];
  }
  int ok = t_close_d(what, an, fd, m, tol);
  t_free(fd);
  t_free(an);
  return ok;
}

static uint64_t rng_state;
void t_seed(uint64_t seed) { rng_state = seed; }

uint64_t t_next(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float t_uniform(float lo, float hi) {
  return lo + (hi - lo) * (float)((t_next() >> 40) * (1.0 / 16777216.0));
}

float t_normal(void) { /* Box-Muller */
  double u1 = ((t_next() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (t_next() >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void t_fill(float *x, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = t_uniform(lo, hi);
}

void t_fill_model(fl_model *m, float std, float (*alpha)(int i)) {
  float *p = fl_model_params(m);
  for (int i = 0, na = 0; i < fl_model_num_tensors(m); i++) {
    const char *name;
    size_t off;
    int nd, shape[2], decay;
    fl_model_tensor(m, i, &name, &off, &nd, shape, &decay);
    size_t n = (size_t)shape[0] * (nd == 2 ? shape[1] : 1);
    int is_alpha = alpha && strstr(name, ".alpha") != NULL;
    for (size_t j = 0; j < n; j++)
      p[off + j] = is_alpha ? alpha(na++) : nd == 2 ? std * t_normal() : t_uniform(0.7f, 1.3f);
  }
}

void *t_bytes(size_t n) {
  void *p = calloc(n ? n : 1, 1);
  if (!p) {
    fprintf(stderr, "out of memory allocating %zu bytes\n", n);
    exit(2);
  }
  return p;
}

float *t_floats(size_t n) { return t_bytes(n * sizeof(float)); }
void t_free(void *p) { free(p); }

const fl_kernels *t_simd(void) { return fl_kernels_simd(); }

int main(int argc, char **argv) {
  const char *filter = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-v") == 0)
      t_verbose = 1;
    else
      filter = argv[i];
  }
  const fl_kernels *simd = t_simd();
  printf("flashlm C tests: chosen kernels '%s', SIMD table %s\n", fl_kernels_get()->name,
         simd ? simd->name : "none in this build/CPU (reference only)");
  int ran = 0;
  for (size_t i = 0; i < sizeof ALL / sizeof ALL[0]; i++) {
    if (filter && !strstr(ALL[i].name, filter)) continue;
    int before = failures;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    t_seed(0x5eed0000u + i);
    ALL[i].fn();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("%s %-28s %8.1f ms\n", failures == before ? "ok  " : "FAIL", ALL[i].name, ms);
    ran++;
  }
  printf("%d tests, %d failed checks\n", ran, failures);
  return failures ? 1 : 0;
}
