/* The fp32 FMA peak of this machine, for the trainer benchmark's MFU (compare_pytorch.py).
 * Built by tests/bench/train-benchmark.sh: gcc -O2 -mavx2 -mfma -fopenmp fma_peak.c -o fma_peak
 *   OMP_NUM_THREADS=2 fma_peak [reps]   prints {"gflops": best of reps, "threads": n, "runs": [..]}
 * Every OpenMP thread runs 12 independent chains of 8-wide FMAs held in registers (FMA latency 4 x
 * 2 pipes needs at least 8 in flight), written in asm so the compiler can neither drop nor fold
 * them; 2 FLOPs per lane per FMA. No memory traffic: this is the ceiling no kernel can pass. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define ITERS 20000000L

static double once(void) {
  double t0 = omp_get_wtime();
#pragma omp parallel
  {
    long n = ITERS;
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
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "cc");
  }
  double t = omp_get_wtime() - t0;
  return (double)ITERS * 12 * 8 * 2 * omp_get_max_threads() / t / 1e9;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 5;
  double best = 0;
  printf("{\"threads\": %d, \"runs\": [", omp_get_max_threads());
  for (int r = 0; r < reps; r++) {
    double g = once();
    printf("%s%.1f", r ? ", " : "", g);
    if (g > best) best = g;
  }
  printf("], \"gflops\": %.1f}\n", best);
  return 0;
}
