/* NEON kernels for aarch64 (NEON is part of the ARMv8-A baseline, so no extra flags): the fp32
 * GEMM register tile under the shared driver, the ternary x int8 product and the integer dX
 * product (int16 x ternary signs). The other
 * entries of the table are the reference kernels (compiled for aarch64 with -O3, which
 * vectorises their plain loops). Checked against the reference by the C tests under qemu
 * (`make cross-aarch64`); not yet measured on ARM hardware. */
#include <arm_neon.h>
#include <string.h>

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

/* ================= integer dX: int16 dy x int8 signs (flashlm.h, "integer dX") ================
 * Tiles of 4 tokens x 16 columns (one panel): vld2q_s8 splits a pair's 32 bytes into the signs
 * of rows 2p and 2p+1 (16 columns each), widened to int16, and vmlal_lane_s16 adds each times
 * the token's q[2p] or q[2p+1] into 16 int32 accumulators per token. Exact, so the reference's
 * bits. */
enum { NDXR = 4 };

static void dx16_matmul_neon(float *dx, int ldx, const int16_t *q, const float *a,
                             const int8_t *panel, int T, int N, int K, float beta) {
  int Kq = fl_dx16_kpad(K), P = Kq / 2, nb = (N + 15) / 16, add = beta != 0.0f;
  int tiles = (T + NDXR - 1) / NDXR;
#pragma omp parallel for schedule(static)
  for (int tile = 0; tile < tiles; tile++) {
    int t0 = tile * NDXR, m = T - t0 < NDXR ? T - t0 : NDXR;
    const int16_t *r[NDXR];
    for (int i = 0; i < NDXR; i++) r[i] = q + (size_t)(t0 + (i < m ? i : m - 1)) * Kq;
    for (int jb = 0; jb < nb; jb++) {
      const int8_t *w = panel + (size_t)jb * P * 32;
      int32x4_t c[NDXR][4];
      for (int i = 0; i < NDXR; i++)
        for (int v = 0; v < 4; v++) c[i][v] = vdupq_n_s32(0);
      for (int p = 0; p < P; p++) {
        int8x16x2_t b = vld2q_s8(w + 32 * p);
        int16x8_t e0 = vmovl_s8(vget_low_s8(b.val[0])), e1 = vmovl_high_s8(b.val[0]);
        int16x8_t o0 = vmovl_s8(vget_low_s8(b.val[1])), o1 = vmovl_high_s8(b.val[1]);
        for (int i = 0; i < NDXR; i++) {
          int32_t pair;
          memcpy(&pair, r[i] + 2 * p, 4);
          int16x4_t x = vreinterpret_s16_s32(vdup_n_s32(pair)); /* lane 0: q[2p], 1: q[2p+1] */
          c[i][0] = vmlal_lane_s16(vmlal_lane_s16(c[i][0], vget_low_s16(e0), x, 0),
                                   vget_low_s16(o0), x, 1);
          c[i][1] = vmlal_lane_s16(vmlal_lane_s16(c[i][1], vget_high_s16(e0), x, 0),
                                   vget_high_s16(o0), x, 1);
          c[i][2] = vmlal_lane_s16(vmlal_lane_s16(c[i][2], vget_low_s16(e1), x, 0),
                                   vget_low_s16(o1), x, 1);
          c[i][3] = vmlal_lane_s16(vmlal_lane_s16(c[i][3], vget_high_s16(e1), x, 0),
                                   vget_high_s16(o1), x, 1);
        }
      }
      int n = N - 16 * jb < 16 ? N - 16 * jb : 16;
      for (int i = 0; i < m; i++) {
        float32x4_t sc = vdupq_n_f32(a[t0 + i]), u = vdupq_n_f32(FL_DX16_STEP);
        float y[16], *o = dx + (size_t)(t0 + i) * ldx + 16 * jb;
        for (int v = 0; v < 4; v++)
          vst1q_f32(y + 4 * v, vmulq_f32(vmulq_f32(vcvtq_f32_s32(c[i][v]), u), sc));
        for (int j = 0; j < n; j++) o[j] = add ? o[j] + y[j] : y[j];
      }
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
  NEON.dx16_matmul = dx16_matmul_neon;
}

const fl_kernels *fl_kernels_neon(void) { return &NEON; }
