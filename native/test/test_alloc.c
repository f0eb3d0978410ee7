/* Allocation failures: the test binary is linked with -Wl,--wrap=aligned_alloc, so every
 * aligned_alloc of the library (fl_alloc, the kernels' scratch) goes through the wrapper below,
 * which fails while t_fail_allocs is set. A failure must come back as FL_ENOMEM with a message,
 * or (a kernel that can do without the memory) as the same result: never a silent wrong one. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static int t_fail_allocs;
static size_t t_alloc_bytes; /* bytes requested since the last reset (any thread) */

void *__real_aligned_alloc(size_t align, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size) {
  __atomic_fetch_add(&t_alloc_bytes, size, __ATOMIC_RELAXED);
  return t_fail_allocs ? NULL : __real_aligned_alloc(align, size);
}

static int *random_tokens(int n, int V) {
  int *tok = t_bytes(sizeof(int) * n);
  for (int i = 0; i < n; i++) tok[i] = (int)(t_next() % V);
  return tok;
}

/* The model's loss and logits with every allocation failing: ENOMEM with a message naming the
 * allocation, or exactly the result computed with memory. The model first runs another batch,
 * so a kernel that skipped its work would leave that batch's activations behind. */
void test_model_alloc_failure(void) {
  for (int arch = 0; arch < 2; arch++)
    for (int ternary = 0; ternary < 2; ternary++) {
      fl_spec s = {.arch = arch,
                   .vocab = 37,
                   .d = 16,
                   .n_layers = 2,
                   .n_heads = 2,
                   .ffn = 24,
                   .seq_len = 70,
                   .ternary = ternary,
                   .rope_theta = 10000.0,
                   .norm_eps = 1e-5};
      int B = 2, n = B * (s.seq_len + 1);
      fl_model *m;
      if (fl_model_create(&m, &s, B)) {
        T_CHECK(0, "fl_model_create: %s", fl_last_error());
        return;
      }
      float *p = fl_model_params(m);
      for (size_t i = 0; i < fl_model_num_params(m); i++) p[i] = 0.2f * t_normal() + 0.5f;
      int *warm = random_tokens(n, s.vocab), *tok = random_tokens(n, s.vocab);
      float want, got = NAN, *lw = t_floats((size_t)B * s.vocab),
                  *lg = t_floats((size_t)B * s.vocab);
      T_CHECK(fl_model_loss(m, tok, B, &want) == FL_OK, "%s", fl_last_error());
      T_CHECK(fl_model_last_logits(m, tok, B, s.seq_len, lw) == FL_OK, "%s", fl_last_error());
      T_CHECK(fl_model_loss(m, warm, B, &got) == FL_OK, "%s", fl_last_error());
      fl_model_last_logits(m, warm, B, s.seq_len, lg);
      const char *what = arch ? "ffn" : ternary ? "transformer ternary" : "transformer float";
      t_fail_allocs = 1;
      int rc = fl_model_forward_backward(m, tok, B, &got);
      t_fail_allocs = 0;
      T_CHECK(
          (rc == FL_ENOMEM && strstr(fl_last_error(), "allocate")) || (rc == FL_OK && got == want),
          "%s forward_backward without memory: rc %d loss %.9g (want %.9g) '%s'", what, rc, got,
          want, rc ? fl_last_error() : "");
      t_fail_allocs = 1;
      rc = fl_model_last_logits(m, tok, B, s.seq_len, lg);
      t_fail_allocs = 0;
      T_CHECK((rc == FL_ENOMEM && strstr(fl_last_error(), "allocate")) ||
                  (rc == FL_OK && memcmp(lg, lw, sizeof(float) * B * s.vocab) == 0),
              "%s last_logits without memory: rc %d '%s'", what, rc, rc ? fl_last_error() : "");
      T_CHECK(fl_model_loss(m, tok, B, &got) == FL_OK && got == want,
              "%s: loss after the failure %.9g, want %.9g", what, got, want);
      t_free(warm), t_free(tok), t_free(lw), t_free(lg);
      fl_model_free(m);
    }
}

/* Each table's attention, forward and backward, with every allocation failing: FL_ENOMEM with
 * a message, or the same bits as with memory (the reference needs none). */
void test_attention_alloc_failure(void) {
  const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
  int B = 2, T = 70, H = 2, hd = 8, C = H * hd;
  size_t n = (size_t)B * T * C, nl = (size_t)B * H * T;
  float *q = t_floats(n), *k = t_floats(n), *v = t_floats(n), *dout = t_floats(n);
  float *out[2] = {t_floats(n), t_floats(n)}, *lse[2] = {t_floats(nl), t_floats(nl)};
  float *grads[2][3];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++) grads[i][j] = t_floats(n);
  t_fill(q, n, -1, 1), t_fill(k, n, -1, 1), t_fill(v, n, -1, 1), t_fill(dout, n, -1, 1);
  for (int t = 0; t < 2 && tables[t]; t++) {
    const fl_kernels *K = tables[t];
    for (int fail = 0; fail < 2; fail++) {
      t_fail_allocs = fail;
      int rc = K->attention_forward(out[fail], lse[fail], q, k, v, C, B, T, H, hd);
      t_fail_allocs = 0;
      T_CHECK(rc == FL_OK || (fail && rc == FL_ENOMEM && strstr(fl_last_error(), "allocate")),
              "%s attention forward: rc %d '%s'", K->name, rc, rc ? fl_last_error() : "");
      if (fail && rc == FL_OK) {
        t_same("attention forward without memory", out[1], out[0], n * 4, 4);
        t_same("attention lse without memory", lse[1], lse[0], nl * 4, 4);
      }
      t_fail_allocs = fail;
      rc = K->attention_backward(grads[fail][0], grads[fail][1], grads[fail][2], dout, q, k, v,
                                 out[0], lse[0], C, B, T, H, hd);
      t_fail_allocs = 0;
      T_CHECK(rc == FL_OK || (fail && rc == FL_ENOMEM && strstr(fl_last_error(), "allocate")),
              "%s attention backward: rc %d '%s'", K->name, rc, rc ? fl_last_error() : "");
      for (int j = 0; fail && rc == FL_OK && j < 3; j++)
        t_same("attention backward without memory", grads[1][j], grads[0][j], n * 4, 4);
    }
  }
  t_free(q), t_free(k), t_free(v), t_free(dout);
  for (int i = 0; i < 2; i++) {
    t_free(out[i]), t_free(lse[i]);
    for (int j = 0; j < 3; j++) t_free(grads[i][j]);
  }
}

/* Kernels whose scratch memory (kept per thread, grown on demand) cannot be allocated: the SIMD
 * ternary product and RMSNorm backward give the same bits as with memory, for 1 to 3 threads.
 * Each size is larger than any earlier call's, so the scratch must grow and fails. */
void test_kernel_scratch_alloc_failure(void) {
  const fl_kernels *K = t_simd();
  if (!K) return;
  int saved = omp_get_max_threads();
  for (int nt = 1; nt <= 3; nt++) {
    omp_set_num_threads(nt);
    int T = 45, N = 700 + 40 * nt, Kin = 2000 + 100 * nt, Kp = fl_ternary_kpad(Kin);
    int8_t *q = t_bytes((size_t)T * Kp);
    uint8_t *w = t_bytes(fl_ternary_packed_bytes(N, Kin));
    float *W = t_floats((size_t)N * Kin), *xs = t_floats(T);
    float *y[2] = {t_floats((size_t)T * N), t_floats((size_t)T * N)};
    t_fill(W, (size_t)N * Kin, -1, 1), t_fill(xs, T, 0.01f, 1);
    for (size_t i = 0; i < (size_t)T * Kp; i++) q[i] = (int8_t)((int)(t_next() % 255) - 127);
    fl_ternary_pack(w, NULL, W, fl_ternary_scale(W, (size_t)N * Kin), N, Kin);
    for (int fail = 1; fail >= 0; fail--) {
      t_fail_allocs = fail;
      K->ternary_matmul(y[fail], N, q, xs, w, 0.5f, T, N, Kin);
      t_fail_allocs = 0;
    }
    t_same("ternary product without scratch memory", y[1], y[0], sizeof(float) * T * N, 4);

    int C = 3000 + 500 * nt;
    size_t n = (size_t)T * C;
    float *x = t_floats(n), *dy = t_floats(n), *g = t_floats(C), *r = t_floats(T);
    float *dx[2] = {t_floats(n), t_floats(n)}, *dw[2] = {t_floats(C), t_floats(C)};
    t_fill(x, n, -2, 2), t_fill(dy, n, -1, 1), t_fill(g, C, 0.5f, 1.5f), t_fill(r, T, 0.5f, 2);
    for (int fail = 1; fail >= 0; fail--) {
      for (int c = 0; c < C; c++) dw[fail][c] = 0.25f;
      t_fail_allocs = fail;
      K->rmsnorm_backward(dx[fail], dw[fail], dy, x, g, r, T, C, 0);
      t_fail_allocs = 0;
    }
    t_same("rmsnorm backward dx without scratch memory", dx[1], dx[0], sizeof(float) * n, 4);
    t_same("rmsnorm backward dw without scratch memory", dw[1], dw[0], sizeof(float) * C, 4);
    t_free(q), t_free(w), t_free(W), t_free(xs), t_free(y[0]), t_free(y[1]);
    t_free(x), t_free(dy), t_free(g), t_free(r), t_free(dx[0]), t_free(dx[1]), t_free(dw[0]),
        t_free(dw[1]);
  }
  omp_set_num_threads(saved);
}

/* Attention's memory beyond q, k, v, out and lse is linear in T: doubling T from 512 to 1024
 * adds to the scratch each call allocates at most a few rows of T floats per thread, where a
 * T x T block per head (what a naive backward keeps) would add megabytes. */
void test_attention_scratch_is_linear_in_t(void) {
  const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
  int B = 1, H = 2, hd = 8, C = H * hd, threads = omp_get_max_threads();
  for (int t = 0; t < 2 && tables[t]; t++) {
    size_t bytes[2][2];
    for (int i = 0; i < 2; i++) {
      int T = 512 << i;
      size_t n = (size_t)B * T * C;
      float *q = t_floats(n), *k = t_floats(n), *v = t_floats(n), *dout = t_floats(n);
      float *out = t_floats(n), *lse = t_floats((size_t)B * H * T), *dq = t_floats(n);
      float *dk = t_floats(n), *dv = t_floats(n);
      t_fill(q, n, -1, 1), t_fill(k, n, -1, 1), t_fill(v, n, -1, 1), t_fill(dout, n, -1, 1);
      t_alloc_bytes = 0;
      T_CHECK(tables[t]->attention_forward(out, lse, q, k, v, C, B, T, H, hd) == FL_OK, "%s",
              fl_last_error());
      bytes[i][0] = t_alloc_bytes, t_alloc_bytes = 0;
      T_CHECK(tables[t]->attention_backward(dq, dk, dv, dout, q, k, v, out, lse, C, B, T, H, hd) ==
                  FL_OK,
              "%s", fl_last_error());
      bytes[i][1] = t_alloc_bytes;
      t_free(q), t_free(k), t_free(v), t_free(dout), t_free(out), t_free(lse), t_free(dq);
      t_free(dk), t_free(dv);
    }
    size_t limit = (size_t)4 * 512 * sizeof(float) * threads;
    for (int pass = 0; pass < 2; pass++)
      T_CHECK(bytes[1][pass] <= bytes[0][pass] + limit,
              "%s attention %s scratch not linear in T: %zu bytes at T 512, %zu at T 1024 (at "
              "most %zu more allowed)",
              tables[t]->name, pass ? "backward" : "forward", bytes[0][pass], bytes[1][pass],
              limit);
  }
}
