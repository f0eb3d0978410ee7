/* NEON kernels for aarch64 (NEON is part of the ARMv8-A baseline, so no extra flags): the fp32
 * GEMM register tile under the shared driver, and the ternary x int8 product. The other
 * entries of the table are the reference kernels (compiled for aarch64 with -O3, which
 * vectorises their plain loops). Checked against the reference by the C tests under qemu
 * (`make cross-aarch64`); not yet measured on ARM hardware. */
#include <arm_neon.h>

#define FL_GEMM_ENTRY fl_gemm_neon
#include "gemm_driver.h"

/* ================= fp32 GEMM tile: 6 rows x 16 columns = 24 q-register accumulators ======== */
static void pack_b_panel(float *dst, int tb, const float *B, int ldb, int pc, int kc, int j,
                         int w) {
  for (int k = 0; k < kc; k++) {
    float *d = dst + k * NR;
    if (!tb && w == NR) {
      const float *src = B + (size_t)(pc + k) * ldb + j;
      for (int q = 0; q < 4; q++) vst1q_f32(d + 4 * q, vld1q_f32(src + 4 * q));
    } else {
      for (int jj = 0; jj < NR; jj++)
        d[jj] = jj >= w ? 0.0f
                : tb    ? B[(size_t)(j + jj) * ldb + pc + k]
                        : B[(size_t)(pc + k) * ldb + j + jj];
    }
  }
}

static void kernel_6x16(int kc, const float *a, size_t rs, size_t ks, const float *b, float *C,
                        int ldc, float alpha, int m, int n, int load_c) {
  const float *ar[MR];
  for (int r = 0; r < MR; r++) ar[r] = a + (size_t)(r < m ? r : m - 1) * rs;
  float32x4_t c[MR][4];
  for (int r = 0; r < MR; r++)
    for (int q = 0; q < 4; q++) c[r][q] = vdupq_n_f32(0.0f);
  size_t kk = 0;
  for (int k = 0; k < kc; k++, kk += ks, b += NR) {
    float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8),
                b3 = vld1q_f32(b + 12);
    for (int r = 0; r < MR; r++) {
      float32x4_t x = vld1q_dup_f32(ar[r] + kk);
      c[r][0] = vfmaq_f32(c[r][0], x, b0), c[r][1] = vfmaq_f32(c[r][1], x, b1);
      c[r][2] = vfmaq_f32(c[r][2], x, b2), c[r][3] = vfmaq_f32(c[r][3], x, b3);
    }
  }
  float32x4_t va = vdupq_n_f32(alpha);
  if (m == MR && n == NR) {
    for (int r = 0; r < MR; r++)
      for (int q = 0; q < 4; q++) {
        float *o = C + (size_t)r * ldc + 4 * q;
        vst1q_f32(o, load_c ? vfmaq_f32(vld1q_f32(o), va, c[r][q]) : vmulq_f32(va, c[r][q]));
      }
    return;
  }
  float tmp[MR][NR];
  for (int r = 0; r < MR; r++)
    for (int q = 0; q < 4; q++) vst1q_f32(tmp[r] + 4 * q, c[r][q]);
  for (int r = 0; r < m; r++)
    for (int jj = 0; jj < n; jj++) {
      float *o = C + (size_t)r * ldc + jj;
      *o = load_c ? fmaf(alpha, tmp[r][jj], *o) : alpha * tmp[r][jj];
    }
}

/* ================= ternary x int8 ============================================================
 * A 32-byte block holds 4 runs of 32 codes; (byte >> 2r) & 3 minus 1 is the signed weight of
 * run r. Products |w q| <= 127 accumulate in int16 lanes (16 per lane per block: <= 2032), which
 * are widened into int32 every 16 blocks. Exact, like every twin. */
static inline int16x8_t run_dot(int16x8_t acc, uint8x16_t lo, uint8x16_t hi, int shift,
                                const int8_t *x) {
  const uint8x16_t m3 = vdupq_n_u8(3);
  const int8x16_t one = vdupq_n_s8(1);
  int8x16_t w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshlq_u8(lo, vdupq_n_s8(-shift)), m3)), one);
  int8x16_t w1 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshlq_u8(hi, vdupq_n_s8(-shift)), m3)), one);
  int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
  acc = vmlal_s8(acc, vget_low_s8(w0), vget_low_s8(x0));
  acc = vmlal_high_s8(acc, w0, x0);
  acc = vmlal_s8(acc, vget_low_s8(w1), vget_low_s8(x1));
  return vmlal_high_s8(acc, w1, x1);
}

static void ternary_matmul_neon(float *y, int ldy, const int8_t *q, const float *xscale,
                                const uint8_t *w, float wscale, int T, int N, int K) {
  const int Kp = fl_ternary_kpad(K), rb = fl_ternary_row_bytes(K), runs = Kp / 32;
#pragma omp parallel for schedule(static)
  for (int t0 = 0; t0 < T; t0 += 4) {
    int tn = T - t0 < 4 ? T - t0 : 4;
    for (int n = 0; n < N; n++) {
      const uint8_t *wr = w + (size_t)n * rb;
      int32x4_t acc[4];
      int16x8_t p[4];
      for (int r = 0; r < 4; r++) acc[r] = vdupq_n_s32(0), p[r] = vdupq_n_s16(0);
      for (int u = 0; u < runs; u++) {
        int b = u / 4;
        uint8x16_t lo = vld1q_u8(wr + b * 32), hi = vld1q_u8(wr + b * 32 + 16);
        for (int r = 0; r < tn; r++)
          p[r] = run_dot(p[r], lo, hi, 2 * (u % 4), q + (size_t)(t0 + r) * Kp + 32 * u);
        if ((u & 63) == 63 || u == runs - 1)
          for (int r = 0; r < tn; r++) acc[r] = vpadalq_s16(acc[r], p[r]), p[r] = vdupq_n_s16(0);
      }
      for (int r = 0; r < tn; r++)
        y[(size_t)(t0 + r) * ldy + n] = (float)vaddvq_s32(acc[r]) * (wscale * xscale[t0 + r]);
    }
  }
}

/* ================= the table: the reference with the NEON entries ============================= */
static fl_kernels NEON;

/* Filled while the library loads (single-threaded), before any caller can ask for it. */
__attribute__((constructor)) static void init_neon(void) {
  NEON = *fl_kernels_ref();
  NEON.name = "neon";
  NEON.gemm = fl_gemm_neon;
  NEON.ternary_matmul = ternary_matmul_neon;
}

const fl_kernels *fl_kernels_neon(void) { return &NEON; }
