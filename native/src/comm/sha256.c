/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the communicator's mutual
 * authentication. Small and portable; speed does not matter (a few short messages per
 * connection). */
#include <string.h>

#include "comm/comm.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* One 64-byte block into the state. */
static void compress(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void fl_sha256_init(fl_sha256_ctx *c) {
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, H0, sizeof H0);
  c->len = 0;
  c->fill = 0;
}

void fl_sha256_update(fl_sha256_ctx *c, const void *data, size_t n) {
  const uint8_t *p = data;
  c->len += n;
  while (n > 0) {
    if (c->fill == 0 && n >= 64) { /* whole blocks straight from the input */
      compress(c->h, p);
      p += 64, n -= 64;
      continue;
    }
    size_t take = 64 - c->fill < n ? 64 - c->fill : n;
    memcpy(c->buf + c->fill, p, take);
    c->fill += take, p += take, n -= take;
    if (c->fill == 64) compress(c->h, c->buf), c->fill = 0;
  }
}

void fl_sha256_final(uint8_t out[FL_SHA256_BYTES], fl_sha256_ctx *c) {
  uint64_t bits = c->len * 8;
  uint8_t pad[72] = {0x80};
  size_t padn = (c->fill < 56 ? 56 : 120) - c->fill; /* to 56 mod 64, then the 8-byte length */
  for (int i = 0; i < 8; i++) pad[padn + i] = (uint8_t)(bits >> (56 - 8 * i));
  fl_sha256_update(c, pad, padn + 8);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(c->h[i] >> (24 - 8 * j));
}

void fl_sha256(uint8_t out[FL_SHA256_BYTES], const void *data, size_t n) {
  fl_sha256_ctx c;
  fl_sha256_init(&c);
  fl_sha256_update(&c, data, n);
  fl_sha256_final(out, &c);
}

/* HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)), K0 the key padded to 64 bytes (hashed
 * first if longer). The message comes in parts so callers need not concatenate. */
void fl_hmac_sha256(uint8_t out[FL_SHA256_BYTES], const void *key, size_t key_len,
                    const void *const *parts, const size_t *part_lens, int n_parts) {
  uint8_t k0[64] = {0}, pad[64], inner[FL_SHA256_BYTES];
  if (key_len > 64)
    fl_sha256(k0, key, key_len);
  else if (key_len)
    memcpy(k0, key, key_len);
  fl_sha256_ctx c;
  for (int i = 0; i < 64; i++) pad[i] = k0[i] ^ 0x36;
  fl_sha256_init(&c);
  fl_sha256_update(&c, pad, 64);
  for (int i = 0; i < n_parts; i++) fl_sha256_update(&c, parts[i], part_lens[i]);
  fl_sha256_final(inner, &c);
  for (int i = 0; i < 64; i++) pad[i] = k0[i] ^ 0x5c;
  fl_sha256_init(&c);
  fl_sha256_update(&c, pad, 64);
  fl_sha256_update(&c, inner, sizeof inner);
  fl_sha256_final(out, &c);
}

int fl_equal_const_time(const void *a, const void *b, size_t n) {
  const volatile uint8_t *x = a, *y = b;
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++) d |= x[i] ^ y[i];
  return d == 0;
}
