/* Kernel benchmark (not run by the tests): `make bench`, then
 *   OMP_NUM_THREADS=2 target/build/linux-x86_64/flashlm_bench [kernels|model|all] [reps] [v6.1|v7-ts|v7-ts-float]
 *   target/build/linux-x86_64/flashlm_bench allreduce [reps]   (the ring: see allreduce_bench)
 *   target/build/linux-x86_64/flashlm_bench attention [reps]   (against the GEMM rate)
 *   target/build/linux-x86_64/flashlm_bench dx16 [reps]        (ternary dx: fp32 vs int16)
 * The two cores here are shared with other work, so every figure is printed beside baselines
 * measured in the same run: a register-only FMA loop (the fp32 peak) and an int8 maddubs loop
 * (the int8 peak). Reported per shape: fp32 GEMM GFLOP/s of the forward x W^T and its two
 * backward products, ternary x int8 GOP/s of the same forward (2 ops per multiply-add), and the
 * ratio ternary / fp32 GEMM (target >= 1.5) and GEMM / FMA peak. `model` times
 * fl_model_forward_backward at the v6.1 and v7-ts configurations (tokens/s, model FLOP/s, and
 * the process's peak RSS so far: run one model per process for its own figure).
 * Each figure is the best of `reps` runs (default 5).
 * The fp32 GEMM target is "at least 90% of OpenBLAS": if an OpenBLAS library can be opened at run
 * time (FLASHLM_BENCH_BLAS names it, default libopenblas.so.0; on Debian: apt-get install
 * libopenblas0), `kernels` also times cblas_sgemm on the same operands with the same thread
 * count, interleaved with ours, and prints ours / OpenBLAS per product. Nothing links it. */
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <dlfcn.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flashlm.h"

static int reps = 5;

/* With one thread, the thread's CPU time: time spent descheduled by other work on the shared
 * cores does not count. With more, wall time (OpenMP workers are other threads). */
static double now(void) {
  if (omp_get_max_threads() > 1) return omp_get_wtime();
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *randf(size_t n, float amp) {
  float *x = aligned_alloc(64, ((n * sizeof(float)) + 63) / 64 * 64);
  uint64_t s = 0x9e3779b97f4a7c15ULL ^ n;
  for (size_t i = 0; i < n; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x[i] = amp * ((float)(s >> 40) / 8388608.0f - 1.0f);
  }
  return x;
}

/* ---- baselines: register-only loops, all OpenMP threads ---- */
#if defined(__x86_64__)
/* 12 independent FMA chains (latency 4 x 2 pipes needs >= 8) written in asm so that the
 * compiler can neither drop nor fold them. */
static double fma_peak_once(long iters) {
  double t0 = now();
#pragma omp parallel
  {
    long n = iters;
    float one = 1.0f, tiny = 1e-7f;
    __asm__ volatile(
        "vbroadcastss %[one], %%ymm0\n vbroadcastss %[tiny], %%ymm1\n"
        "vmovaps %%ymm0, %%ymm2\n vmovaps %%ymm0, %%ymm3\n vmovaps %%ymm0, %%ymm4\n"
        "vmovaps %%ymm0, %%ymm5\n vmovaps %%ymm0, %%ymm6\n vmovaps %%ymm0, %%ymm7\n"
        "vmovaps %%ymm0, %%ymm8\n vmovaps %%ymm0, %%ymm9\n vmovaps %%ymm0, %%ymm10\n"
        "vmovaps %%ymm0, %%ymm11\n vmovaps %%ymm0, %%ymm12\n vmovaps %%ymm0, %%ymm13\n"
        "1:\n"
        "vfmadd231ps %%ymm0, %%ymm1, %%ymm2\n vfmadd231ps %%ymm0, %%ymm1, %%ymm3\n"
        "vfmadd231ps %%ymm0, %%ymm1, %%ymm4\n vfmadd231ps %%ymm0, %%ymm1, %%ymm5\n"
        "vfmadd231ps %%ymm0, %%ymm1, %%ymm6\n vfmadd231ps %%ymm0, %%ymm1, %%ymm7\n"
        "vfmadd231ps %%ymm0, %%ymm1, %%ymm8\n vfmadd231ps %%ymm0, %%ymm1, %%ymm9\n"
        "vfmadd231ps %%ymm0, %%ymm1, %%ymm10\n vfmadd231ps %%ymm0, %%ymm1, %%ymm11\n"
        "vfmadd231ps %%ymm0, %%ymm1, %%ymm12\n vfmadd231ps %%ymm0, %%ymm1, %%ymm13\n"
        "dec %[n]\n jnz 1b\n vzeroupper\n"
        : [n] "+r"(n)
        : [one] "m"(one), [tiny] "m"(tiny)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "cc");
  }
  double t = now() - t0;
  return (double)iters * 12 * 8 * 2 * omp_get_max_threads() / t / 1e9;
}

/* maddubs -> madd -> add32 in 6 independent chains, in asm: the int8 dot-product rate of the
 * kernels' instruction mix (2 ops per multiply-add, 32 multiply-adds per maddubs). */
static double int8_peak_once(long iters) {
  double t0 = now();
#pragma omp parallel
  {
    long n = iters;
    int ones = 0x00010001, bytes = 0x02020202;
    __asm__ volatile(
        "vpbroadcastd %[ones], %%ymm0\n vpbroadcastd %[bytes], %%ymm1\n"
        "vpxor %%ymm2, %%ymm2, %%ymm2\n vpxor %%ymm3, %%ymm3, %%ymm3\n"
        "vpxor %%ymm4, %%ymm4, %%ymm4\n vpxor %%ymm5, %%ymm5, %%ymm5\n"
        "vpxor %%ymm6, %%ymm6, %%ymm6\n vpxor %%ymm7, %%ymm7, %%ymm7\n"
        "1:\n"
        "vpmaddubsw %%ymm1, %%ymm1, %%ymm8\n vpmaddubsw %%ymm1, %%ymm1, %%ymm9\n"
        "vpmaddubsw %%ymm1, %%ymm1, %%ymm10\n vpmaddubsw %%ymm1, %%ymm1, %%ymm11\n"
        "vpmaddubsw %%ymm1, %%ymm1, %%ymm12\n vpmaddubsw %%ymm1, %%ymm1, %%ymm13\n"
        "vpmaddwd %%ymm0, %%ymm8, %%ymm8\n vpmaddwd %%ymm0, %%ymm9, %%ymm9\n"
        "vpmaddwd %%ymm0, %%ymm10, %%ymm10\n vpmaddwd %%ymm0, %%ymm11, %%ymm11\n"
        "vpmaddwd %%ymm0, %%ymm12, %%ymm12\n vpmaddwd %%ymm0, %%ymm13, %%ymm13\n"
        "vpaddd %%ymm8, %%ymm2, %%ymm2\n vpaddd %%ymm9, %%ymm3, %%ymm3\n"
        "vpaddd %%ymm10, %%ymm4, %%ymm4\n vpaddd %%ymm11, %%ymm5, %%ymm5\n"
        "vpaddd %%ymm12, %%ymm6, %%ymm6\n vpaddd %%ymm13, %%ymm7, %%ymm7\n"
        "dec %[n]\n jnz 1b\n vzeroupper\n"
        : [n] "+r"(n)
        : [ones] "m"(ones), [bytes] "m"(bytes)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "cc");
  }
  double t = now() - t0;
  return (double)iters * 6 * 32 * 2 * omp_get_max_threads() / t / 1e9;
}
#elif defined(__aarch64__)
/* 16 independent fmla chains on q registers (4 lanes; latency 4 x up to 4 pipes), in asm. */
static double fma_peak_once(long iters) {
  double t0 = now();
#pragma omp parallel
  {
    long n = iters;
    __asm__ volatile(
        "fmov v0.4s, #1.0\n movi v1.4s, #0\n"
        "mov v2.16b, v0.16b\n mov v3.16b, v0.16b\n mov v4.16b, v0.16b\n mov v5.16b, v0.16b\n"
        "mov v6.16b, v0.16b\n mov v7.16b, v0.16b\n mov v16.16b, v0.16b\n mov v17.16b, v0.16b\n"
        "mov v18.16b, v0.16b\n mov v19.16b, v0.16b\n mov v20.16b, v0.16b\n"
        "mov v21.16b, v0.16b\n mov v22.16b, v0.16b\n mov v23.16b, v0.16b\n"
        "mov v24.16b, v0.16b\n mov v25.16b, v0.16b\n"
        "1:\n"
        "fmla v2.4s, v0.4s, v1.4s\n fmla v3.4s, v0.4s, v1.4s\n fmla v4.4s, v0.4s, v1.4s\n"
        "fmla v5.4s, v0.4s, v1.4s\n fmla v6.4s, v0.4s, v1.4s\n fmla v7.4s, v0.4s, v1.4s\n"
        "fmla v16.4s, v0.4s, v1.4s\n fmla v17.4s, v0.4s, v1.4s\n fmla v18.4s, v0.4s, v1.4s\n"
        "fmla v19.4s, v0.4s, v1.4s\n fmla v20.4s, v0.4s, v1.4s\n fmla v21.4s, v0.4s, v1.4s\n"
        "fmla v22.4s, v0.4s, v1.4s\n fmla v23.4s, v0.4s, v1.4s\n fmla v24.4s, v0.4s, v1.4s\n"
        "fmla v25.4s, v0.4s, v1.4s\n"
        "subs %[n], %[n], #1\n b.ne 1b\n"
        : [n] "+r"(n)
        :
        : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20", "v21",
          "v22", "v23", "v24", "v25", "cc");
  }
  double t = now() - t0;
  return (double)iters * 16 * 4 * 2 * omp_get_max_threads() / t / 1e9;
}

/* 16 smlal/smlal2 per pass into 8 accumulators (8 int8 multiply-adds each into int16 lanes):
 * the multiply-accumulate of the NEON ternary kernel (2 ops per multiply-add). */
static double int8_peak_once(long iters) {
  double t0 = now();
#pragma omp parallel
  {
    long n = iters;
    __asm__ volatile(
        "movi v0.16b, #2\n movi v1.16b, #1\n"
        "movi v2.8h, #0\n movi v3.8h, #0\n movi v4.8h, #0\n movi v5.8h, #0\n"
        "movi v6.8h, #0\n movi v7.8h, #0\n movi v16.8h, #0\n movi v17.8h, #0\n"
        "1:\n"
        "smlal v2.8h, v0.8b, v1.8b\n smlal2 v3.8h, v0.16b, v1.16b\n"
        "smlal v4.8h, v0.8b, v1.8b\n smlal2 v5.8h, v0.16b, v1.16b\n"
        "smlal v6.8h, v0.8b, v1.8b\n smlal2 v7.8h, v0.16b, v1.16b\n"
        "smlal v16.8h, v0.8b, v1.8b\n smlal2 v17.8h, v0.16b, v1.16b\n"
        "smlal v2.8h, v0.8b, v1.8b\n smlal2 v3.8h, v0.16b, v1.16b\n"
        "smlal v4.8h, v0.8b, v1.8b\n smlal2 v5.8h, v0.16b, v1.16b\n"
        "smlal v6.8h, v0.8b, v1.8b\n smlal2 v7.8h, v0.16b, v1.16b\n"
        "smlal v16.8h, v0.8b, v1.8b\n smlal2 v17.8h, v0.16b, v1.16b\n"
        "subs %[n], %[n], #1\n b.ne 1b\n"
        : [n] "+r"(n)
        :
        : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "cc");
  }
  double t = now() - t0;
  return (double)iters * 16 * 8 * 2 * omp_get_max_threads() / t / 1e9;
}
#else
static double fma_peak_once(long iters) {
  (void)iters;
  return NAN;
}
static double int8_peak_once(long iters) {
  (void)iters;
  return NAN;
}
#endif

static double best(double (*f)(long), long iters) {
  double b = 0;
  for (int r = 0; r < reps; r++) {
    double v = f(iters);
    if (v > b) b = v;
  }
  return b;
}

/* ---- the OpenBLAS baseline, opened at run time if present ---- */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };
typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int M, int N, int K, float alpha,
                               const float *A, int lda, const float *B, int ldb, float beta,
                               float *C, int ldc);
static cblas_sgemm_fn blas_sgemm;
static const char *blas_name;

static void open_blas(void) {
  const char *name = getenv("FLASHLM_BENCH_BLAS");
  if (!name || !*name) name = "libopenblas.so.0";
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    printf("no OpenBLAS baseline: %s (set FLASHLM_BENCH_BLAS or install libopenblas0)\n",
           dlerror());
    return;
  }
  blas_sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
  void (*threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
  if (threads) threads(omp_get_max_threads());
  blas_name = name;
  if (!blas_sgemm) printf("no OpenBLAS baseline: %s has no cblas_sgemm\n", name);
}

/* ---- GEMM and ternary at one linear's shape: T tokens, in K, out N ---- */
typedef struct {
  const char *name;
  int T, K, N;
} shape;

/* GFLOP/s of ours (and, if blas is non-NULL and OpenBLAS is open, of cblas_sgemm on the same
 * operands, alternating with ours rep by rep so that machine noise hits both), best of reps. */
static double time_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc, double *blas) {
  const fl_kernels *k = fl_kernels_get();
  double b = INFINITY, bb = INFINITY;
  k->gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc); /* warm-up */
  int with_blas = blas && blas_sgemm;
  if (with_blas)
    blas_sgemm(CBLAS_ROW_MAJOR, ta ? CBLAS_TRANS : CBLAS_NO_TRANS,
               tb ? CBLAS_TRANS : CBLAS_NO_TRANS, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    k->gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    double t = now() - t0;
    if (t < b) b = t;
    if (!with_blas) continue;
    t0 = now();
    blas_sgemm(CBLAS_ROW_MAJOR, ta ? CBLAS_TRANS : CBLAS_NO_TRANS,
               tb ? CBLAS_TRANS : CBLAS_NO_TRANS, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    t = now() - t0;
    if (t < bb) bb = t;
  }
  if (blas) *blas = with_blas ? 2.0 * M * N * K / bb / 1e9 : NAN;
  return 2.0 * M * N * K / b / 1e9;
}

static void bench_shape(const shape *s, double peak) {
  const fl_kernels *k = fl_kernels_get();
  int T = s->T, K = s->K, N = s->N, Kp = fl_ternary_kpad(K);
  float *x = randf((size_t)T * K, 1.0f), *W = randf((size_t)N * K, 0.05f);
  float *y = randf((size_t)T * N, 1.0f), *dy = randf((size_t)T * N, 1.0f);
  float *dx = randf((size_t)T * K, 1.0f), *dW = randf((size_t)N * K, 1.0f);
  /* forward y = x W^T; backward dx = dy W, dW += dy^T x */
  double ofwd, obdx, obdw;
  double fwd = time_gemm(0, 1, T, N, K, x, K, W, K, 0.0f, y, N, &ofwd);
  double bdx = time_gemm(0, 0, T, K, N, dy, N, W, K, 0.0f, dx, K, &obdx);
  double bdw = time_gemm(1, 0, N, K, T, dy, N, x, K, 1.0f, dW, K, &obdw);
  int8_t *q = aligned_alloc(64, (size_t)T * Kp);
  float *xs = malloc(sizeof(float) * T);
  uint8_t *w = aligned_alloc(64, fl_ternary_packed_bytes(N, K) + 64);
  fl_ternary_pack(w, NULL, W, fl_ternary_scale(W, (size_t)N * K), N, K);
  k->quant_act(q, xs, x, T, K);
  double bt = INFINITY, bq = INFINITY;
  k->ternary_matmul(y, N, q, xs, w, 0.01f, T, N, K);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    k->ternary_matmul(y, N, q, xs, w, 0.01f, T, N, K);
    double t1 = now();
    k->quant_act(q, xs, x, T, K);
    double t2 = now();
    if (t1 - t0 < bt) bt = t1 - t0;
    if (t2 - t1 < bq) bq = t2 - t1;
  }
  double tern = 2.0 * T * N * K / bt / 1e9;
  printf(
      "%-22s %5d %5d %5d | %7.1f %7.1f %7.1f | %5.0f%% | %7.1f %5.2fx | %6.2f | %4.2f %4.2f "
      "%4.2f\n",
      s->name, T, K, N, fwd, bdx, bdw, 100.0 * fwd / peak, tern, tern / fwd, bq * 1e3, fwd / ofwd,
      bdx / obdx, bdw / obdw);
  free(x), free(W), free(y), free(dy), free(dx), free(dW), free(q), free(xs), free(w);
}

static void kernels(void) {
  static const shape shapes[] = {
      {"v6.1 up", 8192, 192, 384},           {"v6.1 down", 8192, 384, 192},
      {"v6.1 head", 8192, 192, 1024},        {"v7-ts qkv(each)", 4096, 512, 512},
      {"v7-ts gate/up", 4096, 512, 1376},    {"v7-ts down", 4096, 1376, 512},
      {"v7-ts head chunk", 512, 512, 32000},
  };
  double fma0 = best(fma_peak_once, 20000000), int8 = best(int8_peak_once, 20000000);
  printf(
      "kernels '%s', %d threads, %s; baselines: FMA peak %.1f GFLOP/s, int8 maddubs %.1f GOP/s\n",
      fl_kernels_get()->name, omp_get_max_threads(),
      omp_get_max_threads() > 1 ? "wall time" : "thread CPU time", fma0, int8);
  open_blas();
  printf("%-22s %5s %5s %5s | %7s %7s %7s | %6s | %7s %6s | %6s | %14s\n", "shape", "T", "in",
         "out", "xW^T", "dyW", "dy^Tx", "%peak", "ternary", "/gemm", "quant", "GEMM / OpenBLAS");
  printf("%-22s %17s | %23s | %6s | %7s %6s | %6s | %14s\n", "", "", "fp32 GEMM GFLOP/s", "fwd",
         "GOP/s", "", "ms", blas_sgemm ? "xW^T dyW dy^Tx" : "(not found)");
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) bench_shape(&shapes[i], fma0);
  /* causal attention at the v7-ts shape: 2 products of T(T+1)/2 x hd per head forward, 5 back */
  int B = 16, T = 256, H = 8, hd = 64, C = H * hd;
  float *q = randf((size_t)B * T * 3 * C, 1.0f), *o = randf((size_t)B * T * C, 1.0f);
  float *dout = randf((size_t)B * T * C, 1.0f), *dq = randf((size_t)B * T * 3 * C, 1.0f);
  float *lse = randf((size_t)B * H * T, 1.0f);
  const fl_kernels *k = fl_kernels_get();
  double bf = INFINITY, bb = INFINITY, pairs = (double)B * H * T * (T + 1) / 2;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    k->attention_forward(o, lse, q, q + C, q + 2 * C, 3 * C, B, T, H, hd);
    double t1 = now();
    k->attention_backward(dq, dq + C, dq + 2 * C, dout, q, q + C, q + 2 * C, o, lse, 3 * C, B, T, H,
                          hd);
    double t2 = now();
    if (t1 - t0 < bf) bf = t1 - t0;
    if (t2 - t1 < bb) bb = t2 - t1;
  }
  printf(
      "attention B%d T%d H%d hd%d: forward %.1f GFLOP/s (%.2f ms), backward %.1f GFLOP/s (%.2f "
      "ms)\n",
      B, T, H, hd, 4 * pairs * hd / bf / 1e9, bf * 1e3, 10 * pairs * hd / bb / 1e9, bb * 1e3);
  free(q), free(o), free(dout), free(dq), free(lse);
  double fma1 = best(fma_peak_once, 20000000);
  printf("FMA peak again after the shapes: %.1f GFLOP/s (a drop means the machine got busier)\n",
         fma1);
}

/* ---- the ternary linears' dx: fp32 GEMM dy W_eff against the integer dX (int16 dy x signs) ---- */
#if defined(FLASHLM_HAVE_AVX2)
/* the two x86 products (library internals, reachable from the static archive) */
void fl_dx16_matmul_avx2(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta);
void fl_dx16_matmul_vnni(float *dx, int ldx, const int16_t *q, const float *a, const int8_t *panel,
                         int T, int N, int K, float beta);
int fl_dx16_vnni_usable(void);
#endif

typedef void (*dx16_fn)(float *, int, const int16_t *, const float *, const int8_t *, int, int, int,
                        float);

static double time_dx16(dx16_fn f, float *dx, const int16_t *q, const float *a, const int8_t *p,
                        int T, int N, int K) {
  double b = INFINITY;
  f(dx, N, q, a, p, T, N, K, 0.0f);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    f(dx, N, q, a, p, T, N, K, 0.0f);
    double t = now() - t0;
    b = t < b ? t : b;
  }
  return 2.0 * T * N * K / b / 1e9;
}

static void dx16_bench(void) {
  static const shape shapes[] = {{"v6.1 up", 4096, 192, 384},
                                 {"v6.1 down", 4096, 384, 192},
                                 {"v7-ts qkv", 4096, 512, 1536},
                                 {"v7-ts down", 4096, 1376, 512}};
  const fl_kernels *k = fl_kernels_get();
  double fma0 = best(fma_peak_once, 20000000);
  printf("dx = dy W_eff, '%s', %d threads, %s; FMA peak %.1f GFLOP/s\n", k->name,
         omp_get_max_threads(), omp_get_max_threads() > 1 ? "wall time" : "thread CPU time", fma0);
  printf("%-12s %5s %5s %5s | %8s | %8s %8s %8s | %8s\n", "shape", "T", "in", "out", "fp32",
         "table", "avx2", "vnni", "quant");
  printf("%-12s %17s | %8s | %26s | %8s\n", "", "", "GFLOP/s", "int16 GOP/s (2 per MAC)", "ms");
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const shape *s = &shapes[i];
    int T = s->T, in = s->K, rows = s->N, Kq = fl_dx16_kpad(rows);
    float *W = randf((size_t)rows * in, 0.05f), *dy = randf((size_t)T * rows, 1.0f);
    float *dx = randf((size_t)T * in, 1.0f), *cs = randf(rows, 1.0f), *a = randf(T, 1.0f);
    for (size_t j = 0; j < (size_t)rows * in; j++)
      W[j] = W[j] > 0.01f ? 0.02f : W[j] < -0.01f ? -0.02f : 0;
    int8_t *p = aligned_alloc(64, fl_dx16_panel_bytes(rows, in) + 64);
    int16_t *q = aligned_alloc(64, sizeof(int16_t) * (size_t)T * Kq + 64);
    fl_dx16_panel(p, W, rows, in);
    double fp = time_gemm(0, 0, T, in, rows, dy, rows, W, in, 0.0f, dx, in, NULL), bq = INFINITY;
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      k->dx16_quant(q, a, dy, rows, cs, T, rows);
      double t = now() - t0;
      bq = t < bq ? t : bq;
    }
    double tab = time_dx16(k->dx16_matmul, dx, q, a, p, T, in, rows), av = NAN, vn = NAN;
#if defined(FLASHLM_HAVE_AVX2)
    if (fl_kernels_simd()) av = time_dx16(fl_dx16_matmul_avx2, dx, q, a, p, T, in, rows);
    if (fl_kernels_simd() && fl_dx16_vnni_usable())
      vn = time_dx16(fl_dx16_matmul_vnni, dx, q, a, p, T, in, rows);
#endif
    printf("%-12s %5d %5d %5d | %8.1f | %8.1f %8.1f %8.1f | %8.3f\n", s->name, T, in, rows, fp, tab,
           av, vn, bq * 1e3);
    free(W), free(dy), free(dx), free(cs), free(a), free(p), free(q);
  }
}

/* ---- whole model: forward + backward tokens/s ---- */
static void model(const char *name, fl_spec s, int B) {
  fl_model *m;
  if (fl_model_create(&m, &s, B)) {
    printf("%s: %s\n", name, fl_last_error());
    return;
  }
  float *p = fl_model_params(m);
  size_t n = fl_model_num_params(m);
  float *r = randf(n, 0.03f);
  memcpy(p, r, n * sizeof(float));
  free(r);
  int *tok = malloc(sizeof(int) * B * (s.seq_len + 1));
  for (int i = 0; i < B * (s.seq_len + 1); i++) tok[i] = (i * 7919) % s.vocab;
  float loss;
  double bt = INFINITY;
  int steps = reps < 3 ? reps : 3;
  fl_model_forward_backward(m, tok, B, &loss);
  for (int i = 0; i < steps; i++) {
    double t0 = now();
    fl_model_forward_backward(m, tok, B, &loss);
    double t = now() - t0;
    if (t < bt) bt = t;
  }
  double d = s.d, f = s.ffn, L = s.n_layers, T = s.seq_len;
  double lin = s.arch == FL_ARCH_TRANSFORMER ? L * (4 * d * d + 3 * d * f) : L * 2 * d * f;
  double att = s.arch == FL_ARCH_TRANSFORMER ? L * 2 * d * T : 0; /* QK^T and PV, causal half */
  double flops = 6 * (lin + d * s.vocab) + 3 * 2 * att;           /* per token, fwd + bwd */
  double tps = B * s.seq_len / bt;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf(
      "%-10s %-7s B%-3d T%-4d %10.0f tokens/s  %6.1f GFLOP/s  (%.1f MFLOP/token, step %.3f s, "
      "peak RSS so far %.0f MB)\n",
      name, s.ternary ? "ternary" : "float", B, s.seq_len, tps, tps * flops / 1e9, flops / 1e6, bt,
      ru.ru_maxrss / 1024.0);
  free(tok);
  fl_model_free(m);
}

static const char *only; /* third argument: run only the model of this name */

static void models(void) {
  fl_spec v61 = {.arch = FL_ARCH_FFN,
                 .vocab = 1024,
                 .d = 192,
                 .n_layers = 6,
                 .ffn = 384,
                 .seq_len = 256,
                 .ternary = 1,
                 .norm_eps = 1e-5};
  fl_spec v7ts = {.arch = FL_ARCH_TRANSFORMER,
                  .vocab = 32000,
                  .d = 512,
                  .n_layers = 6,
                  .n_heads = 8,
                  .ffn = 1376,
                  .seq_len = 256,
                  .ternary = 1,
                  .rope_theta = 10000,
                  .norm_eps = 1e-5};
  double fma0 = best(fma_peak_once, 20000000);
  printf("model forward+backward, kernels '%s', %d threads, FMA peak %.1f GFLOP/s\n",
         fl_kernels_get()->name, omp_get_max_threads(), fma0);
  if (!only || !strcmp(only, "v6.1")) model("v6.1", v61, 32);
  if (!only || !strcmp(only, "v7-ts")) model("v7-ts", v7ts, 16);
  v7ts.ternary = 0;
  if (!only || !strcmp(only, "v7-ts-float")) model("v7-ts", v7ts, 16);
}

/* `peak [reps]`: the FMA peak alone, as JSON, for the trainer benchmark's MFU
 * (tests/bench/compare_pytorch.py): {"gflops": best, "threads": n, "runs": [...]}. */
static void peak_json(void) {
  double b = 0;
  printf("{\"threads\": %d, \"runs\": [", omp_get_max_threads());
  for (int r = 0; r < reps; r++) {
    double v = fma_peak_once(20000000);
    printf("%s%.1f", r ? ", " : "", v);
    if (v > b) b = v;
  }
  printf("], \"gflops\": %.1f}\n", b);
}

/* ---- attention against the GEMM rate ---- */
/* `attention [reps]`: causal attention, forward and backward, at the v7-ts (B16 T256 H8) and
 * v7-main (B4 T1024 H12) shapes, hd 64, against the fp32 GEMM of the same model's q projection
 * (B*T x d x d, the forward x W^T) measured in the same run. FLOPs: 2 products of T(T+1)/2 x hd
 * per head forward, 5 backward (S is recomputed), 2 per multiply-add; the model's FLOP count
 * leaves the recomputation out, so the backward's share of a step is the figure here x 4/5. */
static void attention_shape(int B, int T, int H, int hd) {
  const fl_kernels *k = fl_kernels_get();
  int C = H * hd, N = B * T;
  float *q = randf((size_t)N * 3 * C, 1.0f), *o = randf((size_t)N * C, 1.0f);
  float *dout = randf((size_t)N * C, 1.0f), *dq = randf((size_t)N * 3 * C, 1.0f);
  float *lse = randf((size_t)B * H * T, 1.0f), *W = randf((size_t)C * C, 0.05f);
  double gemm = time_gemm(0, 1, N, C, C, o, C, W, C, 0.0f, dout, C, NULL);
  free(dout);
  dout = randf((size_t)N * C, 1.0f);
  double bf = INFINITY, bb = INFINITY, pairs = (double)B * H * T * (T + 1) / 2;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    k->attention_forward(o, lse, q, q + C, q + 2 * C, 3 * C, B, T, H, hd);
    double t1 = now();
    k->attention_backward(dq, dq + C, dq + 2 * C, dout, q, q + C, q + 2 * C, o, lse, 3 * C, B, T, H,
                          hd);
    double t2 = now();
    if (t1 - t0 < bf) bf = t1 - t0;
    if (t2 - t1 < bb) bb = t2 - t1;
  }
  double fwd = 4 * pairs * hd / bf / 1e9, bwd = 10 * pairs * hd / bb / 1e9;
  printf("B%-2d T%-5d H%-2d hd%d | %7.1f %7.1f | %7.1f | %4.2f %4.2f | %8.1f %8.1f\n", B, T, H, hd,
         fwd, bwd, gemm, fwd / gemm, bwd / gemm, bf * 1e3, bb * 1e3);
  free(q), free(o), free(dout), free(dq), free(lse), free(W);
}

static void attention_bench(void) {
  double fma0 = best(fma_peak_once, 20000000);
  printf("attention, kernels '%s', %d threads, %s, FMA peak %.1f GFLOP/s\n", fl_kernels_get()->name,
         omp_get_max_threads(), omp_get_max_threads() > 1 ? "wall time" : "thread CPU time", fma0);
  printf("%-21s | %15s | %7s | %9s | %17s\n", "shape", "fwd GFLOP/s bwd", "GEMM", "/GEMM",
         "fwd ms   bwd ms");
  attention_shape(16, 256, 8, 64);
  attention_shape(4, 1024, 12, 64);
}

/* ---- allreduce: the ring on loopback against a plain TCP stream ---- */
/* `allreduce [reps]`: for each size, the median (and best) over reps of one allreduce_sum as
 * bus bandwidth (NCCL's definition: 2(w-1)/w * bytes / time, the bytes each rank sends and
 * receives per unit time, comparable across world sizes), with w processes on loopback; and, as
 * the ceiling, one TCP stream between two processes with the ring's socket options moving the
 * same bytes (bytes / time). Each timed call starts after a barrier;
 * rank 0's wall time. The CPU time rank 0's process spent in the call (the stream: the
 * receiver's) is the figure that a machine busy with other work disturbs least. Lines "RESULT
 * impl world bytes median_s best_s median_cpu_s" are for tests/bench/allreduce-benchmark.sh. */
static const size_t AR_MB[] = {1, 4, 16, 64, 256};
#define AR_SIZES    (sizeof AR_MB / sizeof AR_MB[0])
#define AR_MAX_REPS 64

static double clock_s(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double wall(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* times[size][rep] (wall) and cpus[size][rep] (this process's CPU time), filled by rank 0
 * (shared memory). */
static void ring_rank(int rank, int world, fl_listener *l, const char *const *peers,
                      double (*times)[AR_MAX_REPS], double (*cpus)[AR_MAX_REPS]) {
  static const char secret[] = "benchmark secret (not secret)";
  fl_comm *c;
  if (fl_comm_create(&c, l, peers, secret, sizeof secret, rank, world, 120000)) {
    fprintf(stderr, "rank %d: %s\n", rank, fl_last_error());
    return;
  }
  fl_listener_close(l);
  size_t most = AR_MB[AR_SIZES - 1] << 18; /* floats */
  float *x = malloc(most * sizeof(float));
  for (size_t i = 0; i < most; i++) x[i] = 1e-3f * (float)(i % 1000);
  for (size_t s = 0; s < AR_SIZES; s++) {
    size_t n = AR_MB[s] << 18;
    if (fl_comm_allreduce_sum(c, x, n)) break; /* warm-up: pages touched, windows open */
    for (int r = 0; r < reps; r++) {
      if (fl_comm_barrier(c)) break;
      double t0 = wall(), c0 = cpu();
      if (fl_comm_allreduce_sum(c, x, n)) {
        fprintf(stderr, "rank %d: %s\n", rank, fl_last_error());
        break;
      }
      if (rank == 0) times[s][r] = wall() - t0, cpus[s][r] = cpu() - c0;
    }
  }
  free(x);
  fl_comm_free(c);
}

/* The ring's options for a neighbour on the same host: TCP_NODELAY, 256 KB buffers set after
 * the connection is made (src/comm/net.c). */
static void set_sock(int fd) {
  int one = 1, buf = 256 << 10;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}

/* One stream: the receiver asks ("go"), the sender sends the bytes, the receiver times. */
static void stream_pair(double (*times)[AR_MAX_REPS], double (*cpus)[AR_MAX_REPS]) {
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) ||
      getsockname(ls, (struct sockaddr *)&a, &al)) {
    perror("stream listen");
    return;
  }
  size_t most = AR_MB[AR_SIZES - 1] << 20;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) { /* sender */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) _exit(1);
    set_sock(fd);
    char *buf = malloc(most), go;
    memset(buf, 1, most);
    for (size_t s = 0; s < AR_SIZES; s++)
      for (int r = 0; r <= reps; r++) {
        if (recv(fd, &go, 1, MSG_WAITALL) != 1) _exit(1);
        size_t n = AR_MB[s] << 20, off = 0;
        while (off < n) {
          ssize_t k = send(fd, buf + off, n - off, 0);
          if (k <= 0) _exit(1);
          off += (size_t)k;
        }
      }
    _exit(0);
  }
  int fd = accept(ls, NULL, NULL);
  set_sock(fd);
  char *buf = malloc(most), go = 1;
  memset(buf, 0, most);
  for (size_t s = 0; s < AR_SIZES; s++)
    for (int r = 0; r <= reps; r++) { /* rep 0 is the warm-up */
      size_t n = AR_MB[s] << 20, off = 0;
      double t0 = wall(), c0 = cpu();
      if (send(fd, &go, 1, 0) != 1) break;
      while (off < n) {
        ssize_t k = recv(fd, buf + off, n - off, 0);
        if (k <= 0) break;
        off += (size_t)k;
      }
      if (r) times[s][r - 1] = wall() - t0, cpus[s][r - 1] = cpu() - c0;
    }
  close(fd);
  close(ls);
  waitpid(pid, NULL, 0);
  free(buf);
}

static void ring_world(int world, double (*times)[AR_MAX_REPS], double (*cpus)[AR_MAX_REPS]) {
  fl_listener *l[8];
  char text[8][32];
  const char *peers[8];
  for (int r = 0; r < world; r++) {
    int port;
    if (fl_listen(&l[r], &port, "127.0.0.1", 0)) {
      fprintf(stderr, "%s\n", fl_last_error());
      return;
    }
    snprintf(text[r], sizeof text[r], "127.0.0.1:%d", port);
    peers[r] = text[r];
  }
  fflush(stdout);
  pid_t pid[8];
  for (int r = 0; r < world; r++) {
    pid[r] = fork();
    if (pid[r] == 0) {
      ring_rank(r, world, l[r], peers, times, cpus);
      _exit(0);
    }
  }
  for (int r = 0; r < world; r++) fl_listener_close(l[r]);
  for (int r = 0; r < world; r++) waitpid(pid[r], NULL, 0);
}

static void allreduce_bench(void) {
  static const int worlds[] = {2, 4};
  if (reps > AR_MAX_REPS) reps = AR_MAX_REPS;
  size_t bytes = sizeof(double) * AR_SIZES * AR_MAX_REPS * 6;
  double *shm = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) return;
  double(*times[3])[AR_MAX_REPS], (*cpus[3])[AR_MAX_REPS];
  for (int k = 0; k < 3; k++) {
    times[k] = (double(*)[AR_MAX_REPS])(shm + k * AR_SIZES * AR_MAX_REPS);
    cpus[k] = (double(*)[AR_MAX_REPS])(shm + (3 + k) * AR_SIZES * AR_MAX_REPS);
  }
  stream_pair(times[0], cpus[0]);
  for (int k = 0; k < 2; k++) ring_world(worlds[k], times[1 + k], cpus[1 + k]);
  printf(
      "allreduce on loopback, processes, median (best) of %d; GB/s: stream = bytes/time, "
      "ring = bus bandwidth 2(w-1)/w * bytes/time\n",
      reps);
  printf("%8s | %17s | %17s | %17s\n", "size", "TCP stream", "ring 2 ranks", "ring 4 ranks");
  for (size_t s = 0; s < AR_SIZES; s++) {
    double bytes_s = (double)(AR_MB[s] << 20), med[3], bst[3];
    for (int k = 0; k < 3; k++) {
      bst[k] = INFINITY;
      for (int r = 0; r < reps; r++) bst[k] = fmin(bst[k], times[k][s][r]);
      med[k] = median(times[k][s], reps);
    }
    double f[3] = {1.0, 1.0, 1.5}; /* 2(w-1)/w */
    printf("%5zu MB |", AR_MB[s]);
    for (int k = 0; k < 3; k++)
      printf(" %6.2f (%6.2f)  |", f[k] * bytes_s / med[k] / 1e9, f[k] * bytes_s / bst[k] / 1e9);
    printf("\n");
  }
  printf("%8s | %17s | %17s | %17s   (CPU ms per call, median, rank 0's process)\n", "", "", "",
         "");
  for (size_t s = 0; s < AR_SIZES; s++) {
    printf("%5zu MB |", AR_MB[s]);
    for (int k = 0; k < 3; k++) printf(" %13.2f ms |", 1e3 * median(cpus[k][s], reps));
    printf("\n");
  }
  static const char *impl[3] = {"stream", "ring", "ring"};
  static const int world[3] = {2, 2, 4};
  for (int k = 0; k < 3; k++)
    for (size_t s = 0; s < AR_SIZES; s++) {
      double bst = INFINITY;
      for (int r = 0; r < reps; r++) bst = fmin(bst, times[k][s][r]);
      printf("RESULT %s %d %zu %.6f %.6f %.6f\n", impl[k], world[k], AR_MB[s] << 20,
             median(times[k][s], reps), bst, median(cpus[k][s], reps));
    }
  munmap(shm, bytes);
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "kernels";
  if (argc > 2) reps = atoi(argv[2]) > 0 ? atoi(argv[2]) : reps;
  if (argc > 3) only = argv[3];
  if (!strcmp(what, "kernels") || !strcmp(what, "all")) kernels();
  if (!strcmp(what, "model") || !strcmp(what, "all")) models();
  if (!strcmp(what, "peak")) peak_json();
  if (!strcmp(what, "allreduce")) allreduce_bench();
  if (!strcmp(what, "attention")) attention_bench();
  if (!strcmp(what, "dx16")) dx16_bench();
  return 0;
}
