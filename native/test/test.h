/* Plain-C test helpers shared by the test files; one runner (test_main.c) runs every test. */
#ifndef FLASHLM_TEST_H
#define FLASHLM_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "flashlm.h"

/* The odd sizes every kernel is checked over. */
#define N_SIZES 7
extern const int SIZES[N_SIZES]; /* 1, 3, 7, 31, 33, 255, 1023 */

/* A failed check: counts it and prints where (the test keeps going to show all mismatches). */
void t_fail(const char *file, int line, const char *fmt, ...);
#define T_CHECK(cond, ...)                                \
  do {                                                    \
    if (!(cond)) t_fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

/* |got - want| <= tol * (scale + |want|) elementwise, where scale = max|want|. Prints the max
 * difference (always, in verbose mode) and the first mismatches on failure. Returns 1 if ok. */
int t_close(const char *what, const float *got, const float *want, size_t n, double tol);
/* The same against a double-precision expectation. */
int t_close_d(const char *what, const float *got, const double *want, size_t n, double tol);
/* The same with scale = max(max|want|, floor): for results that cancel to near zero. */
int t_close_ds(const char *what, const float *got, const double *want, size_t n, double tol,
               double floor);
/* Bitwise equality of n bytes; prints the first differing element of the given width. */
int t_same(const char *what, const void *got, const void *want, size_t n, size_t width);

/* Deterministic uniform values in [lo, hi) from a splitmix64 stream. */
void t_seed(uint64_t seed);
uint64_t t_next(void);
float t_uniform(float lo, float hi);
float t_normal(void);
void t_fill(float *x, size_t n, float lo, float hi);
/* Fills a model's parameters from the stream, tensor by tensor in layout order: matrices
 * N(0, std^2), norms uniform in [0.7, 1.3), the i-th alpha (counting from 0) alpha(i), or like a
 * norm when alpha is NULL. */
void t_fill_model(fl_model *m, float std, float (*alpha)(int i));
float *t_floats(size_t n); /* zeroed, aborts the runner if out of memory */
void *t_bytes(size_t n);
void t_free(void *p);

/* Central finite differences of loss() (double) with respect to x[i] for up to max_points
 * indices spread over [0, n), step h, compared with grad[i] like t_close_d with tol. */
int t_fd(const char *what, float *x, size_t n, const float *grad, double (*loss)(void *), void *ctx,
         float h, double tol, int max_points);

/* The SIMD table under test, or NULL (the test then only checks the reference). */
const fl_kernels *t_simd(void);
extern int t_verbose;

#endif
