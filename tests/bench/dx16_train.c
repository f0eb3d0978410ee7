/* Trains one model twice from the same start on the same batches, with the BitLinears' dx and
 * dW in int16 (model.backward_dx and backward_dw int16, the defaults) and both in fp32, and
 * prints both loss curves (not a test: the C test test_model_int16_trains_like_fp32 checks a
 * small model; this one runs the v6.1 shape). The data is a learnable token stream: each token follows from the one before by a
 * fixed permutation 7 times in 8, else at random (entropy floor about 0.97 nats at vocab 1024).
 *
 *   gcc -O2 -fopenmp -Inative/include tests/bench/dx16_train.c \
 *     native/target/build/linux-x86_64/libflashlm.a -lm -o target/bench/dx16_train
 *   target/bench/dx16_train [STEPS] [BATCH]      (default 300 steps of 8 rows, v6.1 shape) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

int main(int argc, char **argv) {
  int steps = argc > 1 ? atoi(argv[1]) : 300, B = argc > 2 ? atoi(argv[2]) : 8;
  fl_spec s = {.arch = FL_ARCH_FFN, .vocab = 1024, .d = 192, .n_layers = 6, .ffn = 384,
               .seq_len = 256, .ternary = 1, .norm_eps = 1e-5};
  int T = s.seq_len, V = s.vocab, *perm = malloc(sizeof(int) * V);
  for (int i = 0; i < V; i++) perm[i] = (int)((i * 389L + 17) % V);
  int *tok = malloc(sizeof(int) * (size_t)steps * B * (T + 1));
  for (int r = 0; r < steps * B; r++) {
    int *row = tok + (size_t)r * (T + 1);
    row[0] = (int)(next() % V);
    for (int t = 1; t <= T; t++) row[t] = next() % 8 ? perm[row[t - 1]] : (int)(next() % V);
  }
  fl_model *m[2];
  float *curve[2];
  for (int k = 0; k < 2; k++) {
    s.backward_dx = k ? FL_DX_FP32 : FL_DX_INT16;
    s.backward_dw = k ? FL_DW_FP32 : FL_DW_INT16;
    if (fl_model_create(&m[k], &s, B)) return fprintf(stderr, "%s\n", fl_last_error()), 1;
    curve[k] = malloc(sizeof(float) * steps);
  }
  size_t n = fl_model_num_params(m[0]);
  float *p = fl_model_params(m[0]);
  for (size_t i = 0; i < n; i++) { /* N(0, 0.02) by Box-Muller; norms get 1 below */
    double u1 = ((next() >> 11) + 1.0) / 9007199254740993.0, u2 = (next() >> 11) / 9007199254740992.0;
    p[i] = (float)(0.02 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
  }
  for (int i = 0; i < fl_model_num_tensors(m[0]); i++) {
    const char *name;
    size_t off;
    int nd, shape[2], decay;
    fl_model_tensor(m[0], i, &name, &off, &nd, shape, &decay);
    if (nd == 1)
      for (int j = 0; j < shape[0]; j++) p[off + j] = 1.0f;
  }
  memcpy(fl_model_params(m[1]), p, n * sizeof(float));
  for (int k = 0; k < 2; k++) {
    float *mom = calloc(2 * n, sizeof(float));
    for (int step = 0; step < steps; step++) {
      fl_model_zero_grads(m[k]);
      if (fl_model_forward_backward(m[k], tok + (size_t)step * B * (T + 1), B, &curve[k][step]))
        return fprintf(stderr, "%s\n", fl_last_error()), 1;
      fl_adamw(fl_model_params(m[k]), fl_model_grads(m[k]), mom, mom + n, n, 2e-3f, 0.9f, 0.95f,
               1e-8f, 0.0f, step + 1);
    }
    free(mom);
  }
  printf("step   loss int16   loss fp32   (dX and dW; mean of the 20 steps up to here)\n");
  for (int step = 19; step < steps; step += 20) {
    double a = 0, b = 0;
    for (int i = step - 19; i <= step; i++) a += curve[0][i] / 20, b += curve[1][i] / 20;
    printf("%4d   %12.4f   %12.4f   %+.4f\n", step + 1, a, b, a - b);
  }
  return 0;
}
