/* Inference tests (src/model/decode.c): the one-row attention against the table's block
 * attention (bit for bit) and a double-precision sum; the KV-cache decoder against the training
 * model's forward on the same weights: the same logits bit for bit at every step of a greedy
 * generation, on the reference and the SIMD kernels, transformer and ffn, ternary and fp32,
 * learnable alpha on and off; window scores against the training loss; packed weights that are
 * the wrong size or corrupt, and contexts that do not fit, refused. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* One-row attention (ref) against a double-precision softmax: rounding of hd-term dot products
 * and n-term sums only. */
#define TOL_ATT_ROW 1e-5
/* Window score against the training model's mean loss: the same per-row losses, summed in
 * another order (double). */
#define TOL_SCORE 1e-6
/* bf16 embedding against fp32: 8 bits of mantissa in the embedding and the tied head. */
#define TOL_BF16 3e-2

static fl_spec spec_of(int arch, int ternary, int alpha) {
  /* seq_len 70: attention crosses a block of FL_ATT_KB = 64 keys */
  fl_spec s = {.arch = arch,
               .vocab = 37,
               .d = 16,
               .n_layers = 2,
               .n_heads = 2,
               .ffn = 24,
               .seq_len = 70,
               .ternary = ternary,
               .learnable_alpha = alpha,
               .rope_theta = 10000.0,
               .norm_eps = 1e-5};
  return s;
}

/* A model with random weights (matrices N(0, std^2), norms in [0.7, 1.3), alphas of both signs
 * and one exactly 0 when the spec has them). */
static float fixed_alpha(int i) {
  static const float ALPHAS[] = {0.7f, -1.3f, 1.6f, 0.0f, 2.1f};
  return ALPHAS[i % 5];
}

static fl_model *random_model(const fl_spec *s, float std) {
  fl_model *m;
  int rc = fl_model_create(&m, s, 1);
  T_CHECK(rc == FL_OK, "fl_model_create: %s", fl_last_error());
  if (rc) return NULL;
  t_fill_model(m, std, fixed_alpha);
  return m;
}

static fl_infer *load(const fl_model *model, int emb) {
  const fl_spec *s = fl_model_spec(model);
  size_t bytes = fl_packed_bytes(s, emb);
  void *packed = t_bytes(bytes);
  fl_infer *m = NULL;
  int rc = fl_packed_from_params(packed, bytes, s, emb, fl_model_params((fl_model *)model),
                                 fl_model_num_params(model));
  T_CHECK(rc == FL_OK, "fl_packed_from_params: %s", fl_last_error());
  if (!rc) {
    rc = fl_infer_create(&m, s, emb, packed, bytes);
    T_CHECK(rc == FL_OK, "fl_infer_create: %s", fl_last_error());
  }
  t_free(packed);
  return m;
}

static int argmax(const float *x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

/* The head's gemv against one row of the same table's gemm, bit for bit: odd row counts (the
 * scalar tail), K across the gemm's FL_GEMM_KC slices, and a vocabulary large enough for the
 * gemm's wide path (the one a 32K head takes). */
void test_gemv_rows_matches_gemm(void) {
  const fl_kernels *k = t_simd();
  fl_gemv_rows_fn gemv = k ? fl_gemv_rows_for(k) : NULL;
  if (!gemv) return; /* no twin: the decoder calls the gemm itself */
  static const int N[] = {1, 3, 7, 8, 31, 33, 255, 1023, 20000};
  static const int K[] = {1, 7, 16, 255, 256, 257, 512, 600};
  static const float ALPHA[] = {1.0f, 0.7f};
  for (size_t ni = 0; ni < sizeof N / sizeof *N; ni++)
    for (size_t ki = 0; ki < sizeof K / sizeof *K; ki++) {
      int n = N[ni], kk = K[ki];
      if (n == 20000 && kk != 512) continue; /* the wide path once, at a head's d */
      float *x = t_floats(kk), *rows = t_floats((size_t)n * kk), *want = t_floats(n);
      float *got = t_floats(n);
      t_fill(x, kk, -2, 2);
      t_fill(rows, (size_t)n * kk, -0.1f, 0.1f);
      for (int ai = 0; ai < 2; ai++) {
        k->gemm(0, 1, 1, n, kk, ALPHA[ai], x, kk, rows, kk, 0.0f, want, n);
        gemv(got, x, rows, n, kk, ALPHA[ai]);
        char what[96];
        snprintf(what, sizeof what, "%s gemv = gemm row, n %d K %d alpha %g", k->name, n, kk,
                 ALPHA[ai]);
        t_same(what, got, want, sizeof(float) * n, sizeof(float));
      }
      t_free(x);
      t_free(rows);
      t_free(want);
      t_free(got);
    }
}

void test_attention_row(void) {
  static const int HD[] = {8, 64};
  const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
  for (int ti = 0; ti < 2; ti++) {
    const fl_kernels *k = tables[ti];
    if (!k) continue;
    fl_attention_row_fn row = fl_attention_row_for(k);
    for (int hi = 0; hi < 2; hi++)
      for (int si = 0; si < N_SIZES; si++) {
        int n = SIZES[si], hd = HD[hi], ldk = n + 5;
        float *q = t_floats((size_t)n * hd), *kk = t_floats((size_t)n * hd);
        float *v = t_floats((size_t)n * hd), *out = t_floats((size_t)n * hd);
        float *lse = t_floats(n), *kt = t_floats((size_t)hd * ldk), *got = t_floats(hd);
        t_fill(q, (size_t)n * hd, -1.5f, 1.5f);
        t_fill(kk, (size_t)n * hd, -1.5f, 1.5f);
        t_fill(v, (size_t)n * hd, -1, 1);
        for (int j = 0; j < n; j++)
          for (int c = 0; c < hd; c++) kt[(size_t)c * ldk + j] = kk[(size_t)j * hd + c];
        const float *qn = q + (size_t)(n - 1) * hd, *want = out + (size_t)(n - 1) * hd;
        T_CHECK(k->attention_forward(out, lse, q, kk, v, hd, 1, n, 1, hd) == FL_OK, "%s",
                fl_last_error());
        row(got, qn, kt, ldk, v, hd, n, hd);
        char what[96];
        snprintf(what, sizeof what, "%s attention row = block's last row, n %d hd %d", k->name, n,
                 hd);
        t_same(what, got, want, sizeof(float) * hd, sizeof(float));
        double s[1023], dmax = -INFINITY, l = 0, exact[64];
        for (int j = 0; j < n; j++) {
          s[j] = 0;
          for (int c = 0; c < hd; c++) s[j] += (double)qn[c] * kk[(size_t)j * hd + c];
          s[j] /= sqrt((double)hd);
          dmax = fmax(dmax, s[j]);
        }
        for (int c = 0; c < hd; c++) exact[c] = 0;
        for (int j = 0; j < n; j++) {
          double p = exp(s[j] - dmax);
          l += p;
          for (int c = 0; c < hd; c++) exact[c] += p * v[(size_t)j * hd + c];
        }
        for (int c = 0; c < hd; c++) exact[c] /= l;
        snprintf(what, sizeof what, "%s attention row vs double, n %d hd %d", k->name, n, hd);
        t_close_d(what, got, exact, hd, TOL_ATT_ROW);
        t_free(q), t_free(kk), t_free(v), t_free(out), t_free(lse), t_free(kt), t_free(got);
      }
  }
}

/* Greedy generation, both ways: the training model's fl_model_last_logits over the whole prefix
 * at every step, and the decoder's cache (prompt as one prefill, then a token at a time). */
static void greedy_both(const fl_kernels *k, const fl_spec *s) {
  fl_model *model = random_model(s, 0.3f);
  if (!model) return;
  fl_model_use_kernels(model, k);
  fl_infer *m = load(model, FL_EMB_F32);
  if (!m) {
    fl_model_free(model);
    return;
  }
  fl_infer_use_kernels(m, k);
  int V = s->vocab, T = s->seq_len, prompt = 5, tok[256], diffs = 0;
  float *want = t_floats(V), *got = t_floats(V);
  for (int i = 0; i < prompt; i++) tok[i] = (int)(t_next() % V);
  int rc = fl_infer_forward(m, tok, prompt, got);
  T_CHECK(rc == FL_OK, "prefill: %s", fl_last_error());
  for (int len = prompt; !rc && len <= T; len++) {
    T_CHECK(fl_model_last_logits(model, tok, 1, len, want) == FL_OK, "%s", fl_last_error());
    if (memcmp(got, want, sizeof(float) * V) != 0 && diffs++ == 0) {
      char what[128];
      snprintf(what, sizeof what, "%s decode logits = forward's, %s %s alpha %d, length %d",
               k->name, s->arch ? "ffn" : "transformer", s->ternary ? "ternary" : "fp32",
               s->learnable_alpha, len);
      t_same(what, got, want, sizeof(float) * V, sizeof(float));
    }
    if (len == T) break;
    tok[len] = argmax(want, V);
    T_CHECK(argmax(got, V) == tok[len], "greedy token %d differs", len);
    rc = fl_infer_forward(m, tok + len, 1, got);
    T_CHECK(rc == FL_OK, "decode at %d: %s", len, fl_last_error());
  }
  T_CHECK(diffs == 0, "%s: logits differed at %d of %d steps", k->name, diffs, T - prompt + 1);
  T_CHECK(fl_infer_position(m) == T, "position %d after %d tokens", fl_infer_position(m), T);
  t_free(want), t_free(got);
  fl_infer_free(m);
  fl_model_free(model);
}

void test_infer_matches_model(void) {
  const fl_kernels *tables[2] = {fl_kernels_ref(), t_simd()};
  for (int ti = 0; ti < 2; ti++)
    for (int arch = 0; arch < 2; arch++)
      for (int ternary = 0; ternary < 2; ternary++)
        for (int alpha = 0; alpha < 2; alpha++) {
          if (!tables[ti]) continue;
          fl_spec s = spec_of(arch, ternary, alpha);
          greedy_both(tables[ti], &s);
        }
}

void test_infer_score_matches_loss(void) {
  for (int arch = 0; arch < 2; arch++)
    for (int ternary = 0; ternary < 2; ternary++) {
      fl_spec s = spec_of(arch, ternary, 0);
      int T = s.seq_len, V = s.vocab, tok[71];
      fl_model *model = random_model(&s, 0.3f);
      fl_infer *m = model ? load(model, FL_EMB_F32) : NULL;
      if (!m) {
        fl_model_free(model);
        return;
      }
      for (int i = 0; i <= T; i++) tok[i] = (int)(t_next() % V);
      float loss;
      double nll, part, sum = 0;
      T_CHECK(fl_model_loss(model, tok, 1, &loss) == FL_OK, "%s", fl_last_error());
      T_CHECK(fl_infer_score(m, tok, T, 0, &nll) == FL_OK, "%s", fl_last_error());
      double want = (double)loss * T;
      T_CHECK(fabs(nll - want) <= TOL_SCORE * fabs(want), "score %.9g vs loss*T %.9g", nll, want);
      /* a suffix: the per-position losses of the positions scored */
      float *logits = t_floats(V);
      for (int t = 40; t < T; t++) {
        fl_model_last_logits(model, tok, 1, t + 1, logits);
        double mx = logits[0], z = 0;
        for (int v = 1; v < V; v++) mx = fmax(mx, logits[v]);
        for (int v = 0; v < V; v++) z += exp(logits[v] - mx);
        sum += mx + log(z) - logits[tok[t + 1]];
      }
      T_CHECK(fl_infer_score(m, tok, T, 40, &part) == FL_OK, "%s", fl_last_error());
      T_CHECK(fabs(part - sum) <= 1e-5 * fabs(sum), "suffix score %.9g vs %.9g", part, sum);
      T_CHECK(fl_infer_position(m) == T, "cache holds %d, not the window", fl_infer_position(m));
      t_free(logits);
      fl_infer_free(m);
      fl_model_free(model);
    }
}

void test_infer_refuses_bad_input(void) {
  fl_spec s = spec_of(FL_ARCH_TRANSFORMER, 1, 0);
  fl_model *model = random_model(&s, 0.3f);
  if (!model) return;
  size_t bytes = fl_packed_bytes(&s, FL_EMB_F32);
  uint8_t *packed = t_bytes(bytes);
  fl_infer *m = NULL;
  size_t np = fl_model_num_params(model);
  T_CHECK(fl_packed_from_params(packed, bytes, &s, FL_EMB_F32, fl_model_params(model), np - 1) ==
              FL_EINVAL,
          "a short parameter count accepted");
  T_CHECK(fl_packed_from_params(packed, bytes, &s, FL_EMB_F32, fl_model_params(model), np) == FL_OK,
          "%s", fl_last_error());
  T_CHECK(fl_infer_create(&m, &s, FL_EMB_F32, packed, bytes - 1) == FL_EINVAL && !m &&
              strstr(fl_last_error(), "needs"),
          "short weights accepted: %s", fl_last_error());
  T_CHECK(fl_infer_create(&m, &s, 5, packed, bytes) == FL_EINVAL, "embedding type 5 accepted");
  /* the first linear (q of layer 0) starts after the embedding and a norm: its scale, then
   * codes; code 3 in the first weight */
  size_t q0 = (size_t)s.vocab * s.d * 4 + (size_t)s.d * 4 + 4;
  uint8_t keep = packed[q0];
  packed[q0] |= 3;
  T_CHECK(fl_infer_create(&m, &s, FL_EMB_F32, packed, bytes) == FL_EINVAL && !m &&
              strstr(fl_last_error(), "corrupt"),
          "code 3 accepted: %s", fl_last_error());
  packed[q0] = keep;
  T_CHECK(fl_infer_create(&m, &s, FL_EMB_F32, packed, bytes) == FL_OK, "%s", fl_last_error());
  if (m) {
    int tok[80] = {0};
    float *logits = t_floats(s.vocab);
    tok[2] = s.vocab;
    T_CHECK(fl_infer_forward(m, tok, 3, logits) == FL_EINVAL && fl_infer_position(m) == 0 &&
                strstr(fl_last_error(), "position 2"),
            "bad token: %s", fl_last_error());
    tok[2] = 0;
    T_CHECK(fl_infer_forward(m, tok, 60, logits) == FL_OK, "%s", fl_last_error());
    T_CHECK(fl_infer_forward(m, tok, 11, logits) == FL_EINVAL && fl_infer_position(m) == 60 &&
                strstr(fl_last_error(), "slide"),
            "context overflow: %s", fl_last_error());
    T_CHECK(fl_infer_forward(m, tok, 10, NULL) == FL_OK && fl_infer_position(m) == 70, "%s",
            fl_last_error());
    fl_infer_reset(m);
    T_CHECK(fl_infer_position(m) == 0, "reset");
    double nll;
    T_CHECK(fl_infer_score(m, tok, 71, 0, &nll) == FL_EINVAL, "window above seq_len accepted");
    T_CHECK(fl_infer_score(m, tok, 5, 5, &nll) == FL_EINVAL, "empty scored range accepted");
    t_free(logits);
    fl_infer_free(m);
  }
  fl_infer_free(NULL);
  t_free(packed);
  fl_model_free(model);
}

void test_infer_bf16_embedding(void) {
  fl_spec s = spec_of(FL_ARCH_FFN, 1, 0);
  T_CHECK(fl_packed_bytes(&s, FL_EMB_BF16) + (size_t)s.vocab * s.d * 2 ==
              fl_packed_bytes(&s, FL_EMB_F32),
          "bf16 saves 2 bytes per embedding value");
  fl_model *model = random_model(&s, 0.3f);
  fl_infer *a = model ? load(model, FL_EMB_F32) : NULL,
           *b = model ? load(model, FL_EMB_BF16) : NULL;
  if (a && b) {
    int tok[4] = {1, 2, 3, 4};
    float *la = t_floats(s.vocab), *lb = t_floats(s.vocab);
    T_CHECK(fl_infer_forward(a, tok, 4, la) == FL_OK && fl_infer_forward(b, tok, 4, lb) == FL_OK,
            "%s", fl_last_error());
    t_close("bf16 embedding logits vs fp32", lb, la, s.vocab, TOL_BF16);
    t_free(la), t_free(lb);
  }
  fl_infer_free(a), fl_infer_free(b);
  fl_model_free(model);
}
