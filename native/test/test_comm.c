/* Communication tests: SHA-256 / HMAC-SHA256 against the FIPS 180-2 and RFC 4231 vectors, and
 * the ring on loopback with 2, 3, 4 and 8 ranks as threads and as forked processes: allreduce
 * against a float64 reference, bit-identical across runs, ranks and the two modes; broadcast,
 * barrier and the small float64/int64 allreduces; and the failures: a wrong secret, strangers
 * on the listener, mismatched calls, a peer that closes (is killed) or stops answering
 * (SIGSTOP) mid-transfer, a communicator closed from another thread. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm.h"
#include "test.h"

/* A sum of w fp32 values in any order is within (w-1) roundings of the exact sum: each add
 * rounds by at most 2^-24 of a partial sum, and a partial sum is at most sum |x|. */
#define TOL_FP32_ADD 0x1p-24
/* Generous timeout for runs that must succeed (the cores are shared), short one for faults. */
#define OK_TIMEOUT_MS    20000
#define FAULT_TIMEOUT_MS 1000
/* How late after the fault a rank may fail: the timeout, plus scheduling on a busy machine. */
#define FAULT_SLACK_MS 1500
/* A run that does not finish in this long is a hang: the test fails instead of waiting. */
#define WATCHDOG_S 60

static const uint8_t SECRET[32] = "flashlm test secret, 32 bytes!!";

static void hex(char *out, const uint8_t *d, size_t n) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_digest(const char *what, const uint8_t *d, const char *want) {
  char got[65];
  hex(got, d, 32);
  T_CHECK(strcmp(got, want) == 0, "%s: got %s want %s", what, got, want);
}

void test_comm_sha256(void) {
  uint8_t d[32];
  fl_sha256(d, "abc", 3);
  check_digest("sha256 abc", d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  fl_sha256(d, m2, strlen(m2));
  check_digest("sha256 448 bits", d,
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  fl_sha256(d, "", 0);
  check_digest("sha256 empty", d,
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  /* one million 'a', fed in pieces of odd sizes (the block buffer's every path) */
  char a[1000];
  memset(a, 'a', sizeof a);
  fl_sha256_ctx c;
  fl_sha256_init(&c);
  size_t left = 1000000, piece = 1;
  while (left) {
    size_t k = piece < left ? piece : left;
    fl_sha256_update(&c, a, k);
    left -= k, piece = piece * 7 % 997 + 1;
  }
  fl_sha256_final(d, &c);
  check_digest("sha256 million a", d,
               "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

void test_comm_hmac(void) {
  static const struct {
    size_t klen;
    uint8_t kbyte; /* 0: the key is 1, 2, ..., klen */
    const char *key, *data;
    size_t dlen;
    uint8_t dbyte;
    const char *mac;
  } V[] = {
      /* RFC 4231 test cases 1, 2, 3, 4, 6, 7 (5 truncates the output) */
      {20, 0x0b, NULL, "Hi There", 0, 0,
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {4, 0, "Jefe", "what do ya want for nothing?", 0, 0,
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {20, 0xaa, NULL, NULL, 50, 0xdd,
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {25, 0, NULL, NULL, 50, 0xcd,
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {131, 0xaa, NULL, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {131, 0xaa, NULL,
       "This is a test using a larger than block-size key and a larger than "
       "block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
       0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (size_t v = 0; v < sizeof V / sizeof V[0]; v++) {
    uint8_t key[131], data[64], d[32];
    for (size_t i = 0; i < V[v].klen; i++)
      key[i] = V[v].key ? (uint8_t)V[v].key[i] : V[v].kbyte ? V[v].kbyte : (uint8_t)(i + 1);
    const void *msg = V[v].data;
    size_t len = V[v].data ? strlen(V[v].data) : V[v].dlen;
    if (!V[v].data) memset(data, V[v].dbyte, len), msg = data;
    /* the message in two parts, split in the middle: the same as one */
    const void *parts[2] = {msg, (const uint8_t *)msg + len / 2};
    size_t lens[2] = {len / 2, len - len / 2};
    fl_hmac_sha256(d, key, V[v].klen, parts, lens, 2);
    char what[40];
    snprintf(what, sizeof what, "hmac RFC 4231 vector %zu", v);
    check_digest(what, d, V[v].mac);
  }
}

/* ---------------------------------------------------------------- ring harness */
enum { THREADS = 0, PROCESSES = 1 };
#define MAX_RANKS 8
#define MAX_SIZES 8

typedef struct rank_ctx rank_ctx;
struct rank_ctx {
  /* inputs */
  int rank, world, mode, timeout_ms;
  fl_listener *listener;
  const char *const *peers;
  const uint8_t *secret;
  const void *arg;
  volatile int *shared; /* a few flags all ranks and the test see (shared memory) */
  /* outputs (in shared memory) */
  int rc, create_rc;
  char err[600], notes[512];
  int64_t fail_ms; /* fl_now_ms() when the failing call returned */
  fl_comm *comm;   /* the rank's communicator while it runs (threads: the test may close it) */
  int calls_done;
  uint8_t digest[MAX_SIZES][2][32]; /* per size, two runs */
  double max_ratio;                 /* rank 0: largest |got - ref| / tolerance over all sizes */
  long bad;
  char first_bad[160];
};

typedef void (*rank_fn)(rank_ctx *c);

static char peer_text[MAX_RANKS][32];
static const char *peer_ptr[MAX_RANKS];

/* Creates the rank's communicator; on failure records the error and returns NULL. */
static fl_comm *join(rank_ctx *c) {
  fl_comm *comm;
  c->create_rc =
      fl_comm_create(&comm, c->listener, c->peers, c->secret, 32, c->rank, c->world, c->timeout_ms);
  snprintf(c->notes, sizeof c->notes, "%s", c->create_rc ? "" : fl_comm_notes(comm));
  if (c->create_rc) {
    c->rc = c->create_rc;
    c->fail_ms = fl_now_ms();
    snprintf(c->err, sizeof c->err, "%s", fl_last_error());
    return NULL;
  }
  c->comm = comm;
  return comm;
}

/* Records a failed call. */
static void failed(rank_ctx *c, int rc) {
  c->rc = rc;
  c->fail_ms = fl_now_ms();
  snprintf(c->err, sizeof c->err, "%s", fl_last_error());
}

typedef struct {
  rank_fn fn;
  const void *arg;
} job;

static void *run_job(void *p) {
  rank_ctx *c = p;
  const job *j = c->arg;
  c->arg = j->arg;
  j->fn(c);
  return NULL;
}

/* Options of a ring run: the communicators' timeout; before(peers, before_arg), if given, runs
 * once the listeners are open and before the ranks start; during(ctx, pids, during_arg) while
 * they run (pids: the processes, NULL for threads). */
typedef struct {
  int timeout_ms;
  void (*before)(const char *const *peers, void *);
  void *before_arg;
  void (*during)(rank_ctx *ctx, pid_t *pids, void *);
  void *during_arg;
} ring_opts;

static const ring_opts RUN_OK = {.timeout_ms = OK_TIMEOUT_MS};
static const ring_opts RUN_FAULT = {.timeout_ms = FAULT_TIMEOUT_MS};

/* Runs fn on world ranks (threads or processes) over loopback; the contexts (shared memory)
 * are returned for checking; free with ring_done. */
static rank_ctx *ring_run(int world, int mode, rank_fn fn, const void *arg, const ring_opts *o) {
  int timeout_ms = o->timeout_ms;
  size_t bytes = sizeof(rank_ctx) * MAX_RANKS + 4096;
  rank_ctx *ctx = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (ctx == MAP_FAILED) {
    fprintf(stderr, "mmap failed\n");
    exit(2);
  }
  volatile int *shared = (volatile int *)(ctx + MAX_RANKS);
  fl_listener *ls[MAX_RANKS];
  for (int r = 0; r < world; r++) {
    int port;
    if (fl_listen(&ls[r], &port, "127.0.0.1", 0)) {
      fprintf(stderr, "listen failed: %s\n", fl_last_error());
      exit(2);
    }
    snprintf(peer_text[r], sizeof peer_text[r], "127.0.0.1:%d", port);
    peer_ptr[r] = peer_text[r];
  }
  if (o->before) o->before(peer_ptr, o->before_arg);
  job j = {fn, arg};
  for (int r = 0; r < world; r++)
    ctx[r] = (rank_ctx){.rank = r,
                        .world = world,
                        .mode = mode,
                        .timeout_ms = timeout_ms,
                        .listener = ls[r],
                        .peers = peer_ptr,
                        .secret = SECRET,
                        .arg = &j,
                        .shared = shared};
  pthread_t th[MAX_RANKS];
  pid_t pids[MAX_RANKS];
  fflush(stdout), fflush(stderr);
  for (int r = 0; r < world; r++) {
    if (mode == THREADS) {
      pthread_create(&th[r], NULL, run_job, &ctx[r]);
      continue;
    }
    pids[r] = fork();
    if (pids[r] == 0) {
      run_job(&ctx[r]);
      _exit(0);
    }
  }
  if (mode == PROCESSES) /* the children have their copies; threads share these */
    for (int r = 0; r < world; r++) fl_listener_close(ls[r]);
  if (o->during) o->during(ctx, mode == PROCESSES ? pids : NULL, o->during_arg);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WATCHDOG_S;
  int64_t stop = fl_now_ms() + WATCHDOG_S * 1000;
  for (int r = 0; r < world; r++) {
    if (mode == THREADS) {
      if (pthread_timedjoin_np(th[r], NULL, &until)) {
        fprintf(stderr, "rank %d of %d (thread) still runs after %d s: the ring hangs\n", r, world,
                WATCHDOG_S);
        exit(1); /* a thread cannot be killed: stop the runner rather than hang it */
      }
      continue;
    }
    int status;
    while (waitpid(pids[r], &status, WNOHANG) == 0) {
      if (fl_now_ms() > stop) {
        T_CHECK(0, "rank %d of %d (process) still runs after %d s: killed", r, world, WATCHDOG_S);
        kill(pids[r], SIGKILL);
      }
      usleep(2000);
    }
  }
  if (mode == THREADS)
    for (int r = 0; r < world; r++) fl_listener_close(ls[r]);
  return ctx;
}

static void ring_done(rank_ctx *ctx) { munmap(ctx, sizeof(rank_ctx) * MAX_RANKS + 4096); }

/* ---------------------------------------------------------------- allreduce */
/* Rank r's input element i: uniform in [-1, 1), different for every (rank, element, seed); cheap,
 * because the 64 MB cases draw it for every rank twice and once more for the reference. */
static inline float input(int r, size_t i, uint64_t seed) {
  uint64_t z = (i + ((uint64_t)r << 40) + seed * 0x632be59bd9b4e019ULL) * 0x9e3779b97f4a7c15ULL;
  z ^= z >> 29;
  z *= 0xbf58476d1ce4e5b9ULL;
  return (float)((int64_t)(z >> 40) - (1 << 23)) * (1.0f / (1 << 23));
}

/* A fingerprint of n floats' bits, to compare results across runs, ranks and processes (SHA-256
 * costs seconds over the 64 MB cases; this is not an adversarial setting). */
static void fingerprint(uint8_t out[32], const float *x, size_t n) {
  uint64_t h[4] = {1, 2, 3, (uint64_t)n};
  const uint32_t *w = (const uint32_t *)x;
  for (size_t i = 0; i < n; i++) h[i & 3] = (h[i & 3] ^ w[i]) * 0x100000001b3ULL + (h[i & 3] >> 31);
  memcpy(out, h, 32);
}

typedef struct {
  size_t sizes[MAX_SIZES];
  int nsizes;
} sizes_arg;

static void allreduce_rank(rank_ctx *c) {
  const sizes_arg *a = c->arg;
  fl_comm *comm = join(c);
  if (!comm) return;
  size_t most = 0;
  for (int s = 0; s < a->nsizes; s++) most = a->sizes[s] > most ? a->sizes[s] : most;
  float *x = malloc((most ? most : 1) * sizeof(float));
  for (int s = 0; s < a->nsizes && !c->rc; s++) {
    size_t n = a->sizes[s];
    for (int run = 0; run < 2 && !c->rc; run++) {
      for (size_t i = 0; i < n; i++) x[i] = input(c->rank, i, n);
      int rc = fl_comm_allreduce_sum(comm, x, n);
      if (rc) {
        failed(c, rc);
        break;
      }
      fingerprint(c->digest[s][run], x, n);
    }
    if (c->rank != 0 || c->rc) continue;
    for (size_t i = 0; i < n; i++) { /* against the float64 sum of the same inputs */
      double ref = 0, mag = 0;
      for (int r = 0; r < c->world; r++) {
        float v = input(r, i, n);
        ref += v, mag += fabs(v);
      }
      double tol = (c->world - 1) * TOL_FP32_ADD * mag, d = fabs(x[i] - ref);
      if (tol > 0 && d / tol > c->max_ratio) c->max_ratio = d / tol;
      if (d > tol && !c->bad++)
        snprintf(c->first_bad, sizeof c->first_bad, "size %zu element %zu: got %.9g want %.9g", n,
                 i, x[i], ref);
    }
  }
  free(x);
  fl_comm_free(comm);
}

/* Digests of each world size's results in the first mode run, to compare the second mode's. */
static uint8_t mode_digest[MAX_RANKS + 1][MAX_SIZES][32];
static int mode_digest_n[MAX_RANKS + 1];

static void allreduce_case(int world, int mode, const sizes_arg *a) {
  rank_ctx *ctx = ring_run(world, mode, allreduce_rank, a, &RUN_OK);
  const char *m = mode == THREADS ? "threads" : "processes";
  for (int r = 0; r < world; r++)
    T_CHECK(ctx[r].rc == 0, "allreduce %d %s: rank %d failed (%d): %s", world, m, r, ctx[r].rc,
            ctx[r].err);
  T_CHECK(ctx[0].bad == 0,
          "allreduce %d %s: %ld elements outside (w-1) fp32 roundings of the "
          "float64 sum; max %.2fx tolerance; first: %s",
          world, m, ctx[0].bad, ctx[0].max_ratio, ctx[0].first_bad);
  if (t_verbose)
    printf("    allreduce %d ranks (%s): max error %.3fx the fp32 rounding bound\n", world, m,
           ctx[0].max_ratio);
  for (int s = 0; s < a->nsizes && ctx[0].rc == 0; s++) {
    char what[96];
    snprintf(what, sizeof what, "allreduce %d %s size %zu run 2 vs run 1", world, m, a->sizes[s]);
    t_same(what, ctx[0].digest[s][1], ctx[0].digest[s][0], 32, 1);
    for (int r = 1; r < world; r++) {
      snprintf(what, sizeof what, "allreduce %d %s size %zu rank %d vs rank 0", world, m,
               a->sizes[s], r);
      t_same(what, ctx[r].digest[s][0], ctx[0].digest[s][0], 32, 1);
    }
    if (s < mode_digest_n[world]) {
      snprintf(what, sizeof what, "allreduce %d size %zu %s vs the other mode", world, a->sizes[s],
               m);
      t_same(what, ctx[0].digest[s][0], mode_digest[world][s], 32, 1);
    }
    if (!mode_digest_n[world]) memcpy(mode_digest[world][s], ctx[0].digest[s][0], 32);
  }
  if (!mode_digest_n[world]) mode_digest_n[world] = a->nsizes;
  ring_done(ctx);
}

/* Sizes: 0, 1, 7 (fewer elements than 8 ranks: empty segments), a prime (never divisible by
 * the world size), and 64 MB of floats in some worlds (the large case costs about a second on
 * two shared cores per world, so each mode runs it in two worlds). */
static void allreduce_worlds(int mode) {
  static const int worlds[] = {2, 3, 4, 8};
  for (int k = 0; k < 4; k++) {
    int w = worlds[k];
    sizes_arg a = {{0, 1, 7, 100003}, 4};
    int big = mode == THREADS ? (w == 2 || w == 3) : (w == 4 || w == 8);
    if (big) a.sizes[a.nsizes++] = 16u << 20;
    allreduce_case(w, mode, &a);
  }
}

void test_comm_allreduce_threads(void) { allreduce_worlds(THREADS); }
void test_comm_allreduce_processes(void) { allreduce_worlds(PROCESSES); }

/* ---------------------------------------------------------------- broadcast, barrier, small */
static void bad(rank_ctx *c, const char *fmt, ...) {
  if (c->bad++) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->first_bad, sizeof c->first_bad, fmt, ap);
  va_end(ap);
}

static void collectives_rank(rank_ctx *c) {
  fl_comm *comm = join(c);
  if (!comm) return;
  int w = c->world, r = c->rank, rc = 0;
  /* broadcasts: a few bytes from the last rank, 1 MB + 3 from rank 0 (forwarded as it arrives),
   * nothing */
  uint8_t small[7];
  size_t big_n = (1 << 20) + 3;
  uint8_t *big = malloc(big_n);
  for (int i = 0; i < 7; i++) small[i] = (uint8_t)(r * 16 + i);
  for (size_t i = 0; i < big_n; i++) big[i] = (uint8_t)(r == 0 ? i * 31 + 7 : 0xee);
  if ((rc = fl_comm_broadcast(comm, small, 7, w - 1)) ||
      (rc = fl_comm_broadcast(comm, big, big_n, 0)) || (rc = fl_comm_broadcast(comm, NULL, 0, 1))) {
    failed(c, rc);
    goto out;
  }
  for (int i = 0; i < 7; i++)
    if (small[i] != (uint8_t)((w - 1) * 16 + i))
      bad(c, "broadcast small: byte %d is %d", i, small[i]);
  for (size_t i = 0; i < big_n; i++)
    if (big[i] != (uint8_t)(i * 31 + 7)) {
      bad(c, "broadcast 1 MB: byte %zu is %d", i, big[i]);
      break;
    }
  /* barrier: ranks enter at different times; none leaves before all have entered */
  usleep(30000 * r);
  c->shared[r] = 1;
  __sync_synchronize();
  if ((rc = fl_comm_barrier(comm))) {
    failed(c, rc);
    goto out;
  }
  for (int k = 0; k < w; k++)
    if (!c->shared[k]) bad(c, "left the barrier before rank %d entered it", k);
  /* small allreduces: int64 sum, max, min; float64 sum */
  int64_t v[3] = {r + 1, (int64_t)r * 1000000000000LL, -r};
  int64_t s[3] = {v[0], v[1], v[2]}, mx[3] = {v[0], v[1], v[2]}, mn[3] = {v[0], v[1], v[2]};
  double d[2] = {0.5 * r, 1e308}; /* the second overflows: the sum is IEEE's */
  if ((rc = fl_comm_allreduce(comm, s, FL_DT_I64, FL_OP_SUM, 3)) ||
      (rc = fl_comm_allreduce(comm, mx, FL_DT_I64, FL_OP_MAX, 3)) ||
      (rc = fl_comm_allreduce(comm, mn, FL_DT_I64, FL_OP_MIN, 3)) ||
      (rc = fl_comm_allreduce(comm, d, FL_DT_F64, FL_OP_SUM, 2))) {
    failed(c, rc);
    goto out;
  }
  int64_t W = w;
  if (s[0] != W * (W + 1) / 2 || s[1] != W * (W - 1) / 2 * 1000000000000LL ||
      s[2] != -W * (W - 1) / 2)
    bad(c, "int64 sum: %lld %lld %lld", (long long)s[0], (long long)s[1], (long long)s[2]);
  if (mx[0] != W || mx[1] != (W - 1) * 1000000000000LL || mx[2] != 0)
    bad(c, "int64 max: %lld %lld %lld", (long long)mx[0], (long long)mx[1], (long long)mx[2]);
  if (mn[0] != 1 || mn[1] != 0 || mn[2] != 1 - W)
    bad(c, "int64 min: %lld %lld %lld", (long long)mn[0], (long long)mn[1], (long long)mn[2]);
  if (d[0] != 0.25 * W * (W - 1) || d[1] != INFINITY)
    bad(c, "float64 sum: %.17g %.17g", d[0], d[1]);
  /* an unsupported type is refused before anything is sent: the ring stays usable */
  float f = 1.0f;
  if (fl_comm_allreduce(comm, &f, FL_DT_F32, FL_OP_MAX, 1) != FL_EINVAL)
    bad(c, "float32 max was not refused");
  if ((rc = fl_comm_allreduce_sum(comm, &f, 1)))
    failed(c, rc);
  else if (f != (float)w)
    bad(c, "float32 sum after the refusal: %g", f);
out:
  free(big);
  fl_comm_free(comm);
}

void test_comm_collectives(void) {
  for (int w = 2; w <= 4; w++) {
    rank_ctx *ctx = ring_run(w, THREADS, collectives_rank, NULL, &RUN_OK);
    for (int r = 0; r < w; r++) {
      T_CHECK(ctx[r].rc == 0, "collectives %d ranks: rank %d failed: %s", w, r, ctx[r].err);
      T_CHECK(ctx[r].bad == 0, "collectives %d ranks: rank %d: %s", w, r, ctx[r].first_bad);
    }
    ring_done(ctx);
  }
}

void test_comm_world_one(void) {
  fl_comm *c;
  int rc = fl_comm_create(&c, NULL, NULL, NULL, 0, 0, 1, 1000);
  T_CHECK(rc == 0, "world 1 create: %s", fl_last_error());
  if (rc) return;
  float x[3] = {1, 2, 3};
  uint8_t b[2] = {4, 5};
  T_CHECK(fl_comm_allreduce_sum(c, x, 3) == 0 && x[0] == 1 && x[2] == 3, "world 1 allreduce");
  T_CHECK(fl_comm_broadcast(c, b, 2, 0) == 0 && b[1] == 5, "world 1 broadcast");
  T_CHECK(fl_comm_barrier(c) == 0, "world 1 barrier");
  T_CHECK(fl_comm_rank(c) == 0 && fl_comm_world(c) == 1, "world 1 rank/world");
  fl_comm_close(c);
  fl_comm_close(c); /* idempotent */
  T_CHECK(fl_comm_barrier(c) == FL_ESTATE, "a closed communicator must refuse calls");
  fl_comm_free(c);
  fl_comm_free(NULL);
  fl_comm_close(NULL);
}

void test_comm_rejects_bad_arguments(void) {
  fl_comm *c;
  fl_listener *l;
  int port;
  T_CHECK(fl_listen(&l, &port, "127.0.0.1", 0) == 0 && port > 0, "listen: %s", fl_last_error());
  const char *peers[2] = {"127.0.0.1:1", "nohostport"};
  T_CHECK(fl_comm_create(&c, l, peers, SECRET, 32, 2, 2, 1000) == FL_EINVAL && c == NULL,
          "rank 2 of 2 accepted");
  T_CHECK(fl_comm_create(&c, l, peers, SECRET, 8, 0, 2, 1000) == FL_EINVAL &&
              strstr(fl_last_error(), "at least 16"),
          "short secret: %s", fl_last_error());
  T_CHECK(fl_comm_create(&c, l, peers, SECRET, 32, 0, 2, 0) == FL_EINVAL, "timeout 0 accepted");
  T_CHECK(fl_comm_create(&c, l, peers, SECRET, 32, 0, 2, 1000) == FL_EINVAL &&
              strstr(fl_last_error(), "nohostport"),
          "bad address: %s", fl_last_error());
  T_CHECK(fl_listen(&l, &port, "127.0.0.1", 70000) == FL_EINVAL, "port 70000 accepted");
  fl_listener_close(l);
}

/* ---------------------------------------------------------------- authentication */
static void wrong_secret_rank(rank_ctx *c) {
  static const uint8_t OTHER[32] = "a different secret of 32 bytes!";
  if (c->rank == *(const int *)c->arg) c->secret = OTHER;
  fl_comm *comm = join(c);
  fl_comm_free(comm);
}

void test_comm_refuses_a_wrong_secret(void) {
  int wrong = 1;
  int64_t t0 = fl_now_ms();
  rank_ctx *ctx = ring_run(2, THREADS, wrong_secret_rank, &wrong, &RUN_FAULT);
  for (int r = 0; r < 2; r++) {
    T_CHECK(ctx[r].rc == FL_EAUTH, "rank %d: expected FL_EAUTH, got %d: %s", r, ctx[r].rc,
            ctx[r].err);
    T_CHECK(strstr(ctx[r].err, peer_text[1 - r]) && strstr(ctx[r].err, "authentication with"),
            "rank %d's error must name %s: %s", r, peer_text[1 - r], ctx[r].err);
    T_CHECK(ctx[r].fail_ms - t0 < FAULT_TIMEOUT_MS, "rank %d took %lld ms to refuse", r,
            (long long)(ctx[r].fail_ms - t0));
  }
  ring_done(ctx);
}

/* Strangers on rank 0's listener before the ring forms: a protocol-speaking intruder without
 * the secret, a program speaking something else, and one that says nothing. */
typedef struct {
  int fd[3];
  char addr[3][FL_ADDR_TEXT];
} strangers;

static int stranger(strangers *s, int i, const char *hostport) {
  struct sockaddr_storage sa;
  socklen_t len;
  fl_resolve(&sa, &len, hostport);
  s->fd[i] = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s->fd[i], (struct sockaddr *)&sa, len)) return -1;
  struct sockaddr_storage me;
  socklen_t ml = sizeof me;
  getsockname(s->fd[i], (struct sockaddr *)&me, &ml);
  fl_addr_text(s->addr[i], (struct sockaddr *)&me);
  return s->fd[i];
}

static void strangers_connect(const char *const *peers, void *arg) {
  strangers *s = arg;
  uint8_t hello[52 + 32] = "FLRING1", http[84] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  hello[11] = 1, hello[19] = 2; /* "rank 1 of 2 connecting to rank 0", then a made-up answer */
  int fd = stranger(s, 0, peers[0]);
  T_CHECK(fd >= 0 && send(fd, hello, sizeof hello, 0) == (ssize_t)sizeof hello, "intruder send");
  fd = stranger(s, 1, peers[0]);
  T_CHECK(fd >= 0 && send(fd, http, sizeof http, 0) == (ssize_t)sizeof http, "http send");
  T_CHECK(stranger(s, 2, peers[0]) >= 0, "silent connect");
}

static void small_allreduce_rank(rank_ctx *c) {
  fl_comm *comm = join(c);
  if (!comm) return;
  float x[5] = {1, 2, 3, 4, (float)c->rank};
  int rc = fl_comm_allreduce_sum(comm, x, 5);
  if (rc)
    failed(c, rc);
  else if (x[0] != c->world || x[4] != c->world * (c->world - 1) / 2)
    bad(c, "sum %g %g", x[0], x[4]);
  fl_comm_free(comm);
}

void test_comm_refuses_strangers_and_still_connects(void) {
  strangers s;
  rank_ctx *ctx = ring_run(
      2, THREADS, small_allreduce_rank, NULL,
      &(ring_opts){.timeout_ms = OK_TIMEOUT_MS, .before = strangers_connect, .before_arg = &s});
  for (int r = 0; r < 2; r++)
    T_CHECK(ctx[r].rc == 0 && ctx[r].bad == 0, "rank %d: %s %s", r, ctx[r].err, ctx[r].first_bad);
  const char *notes = ctx[0].notes;
  T_CHECK(strstr(notes, s.addr[0]) && strstr(notes, "wrong secret"),
          "rank 0's notes must name the intruder %s as failing authentication: '%s'", s.addr[0],
          notes);
  T_CHECK(strstr(notes, s.addr[1]) && strstr(notes, "bad hello"),
          "rank 0's notes must name the HTTP client %s: '%s'", s.addr[1], notes);
  if (t_verbose) printf("    notes: %s\n", notes);
  for (int i = 0; i < 3; i++) close(s.fd[i]);
  ring_done(ctx);
}

/* ---------------------------------------------------------------- faults */
/* Every rank runs 1M-float allreduces until one fails. */
static void allreduce_loop_rank(rank_ctx *c) {
  fl_comm *comm = join(c);
  if (!comm) return;
  size_t n = 1 << 20;
  float *x = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) x[i] = input(c->rank, i, 1);
  for (;;) {
    int rc = fl_comm_allreduce_sum(comm, x, n);
    if (rc) {
      failed(c, rc);
      break;
    }
    __atomic_add_fetch(&c->calls_done, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < n; i++) x[i] *= 0.25f; /* keep the values bounded */
  }
  free(x);
  if (c->mode == THREADS) { /* the test may close it from its thread: wait until it has */
    while (!c->shared[MAX_RANKS]) usleep(1000);
  }
  fl_comm_free(comm);
}

/* Waits until every rank has finished two allreduces (or one has failed). */
static void wait_running(rank_ctx *ctx, int world) {
  int64_t stop = fl_now_ms() + WATCHDOG_S * 1000;
  for (;;) {
    int ready = 1;
    for (int r = 0; r < world; r++)
      if (__atomic_load_n(&ctx[r].calls_done, __ATOMIC_SEQ_CST) < 2 && !ctx[r].rc) ready = 0;
    if (ready || fl_now_ms() > stop) return;
    usleep(1000);
  }
}

/* Waits until every rank but `except` has failed. */
static void wait_failed(rank_ctx *ctx, int world, int except) {
  int64_t stop = fl_now_ms() + WATCHDOG_S * 1000;
  for (;;) {
    int all = 1;
    for (int r = 0; r < world; r++)
      if (r != except && !__atomic_load_n(&ctx[r].rc, __ATOMIC_SEQ_CST)) all = 0;
    if (all || fl_now_ms() > stop) return;
    usleep(1000);
  }
}

typedef struct {
  int sig, victim;
  int64_t at;
} fault;

static void inject(rank_ctx *ctx, pid_t *pids, void *arg) {
  fault *f = arg;
  wait_running(ctx, ctx[0].world);
  f->at = fl_now_ms();
  kill(pids[f->victim], f->sig);
  if (f->sig == SIGSTOP) { /* let the others time out, then end the stopped process */
    wait_failed(ctx, ctx[0].world, f->victim);
    kill(pids[f->victim], SIGKILL);
  }
}

static void fault_case(int sig) {
  int w = 3;
  fault f = {sig, 2, 0};
  const char *how = sig == SIGKILL ? "killed" : "stopped";
  rank_ctx *ctx =
      ring_run(w, PROCESSES, allreduce_loop_rank, NULL,
               &(ring_opts){.timeout_ms = FAULT_TIMEOUT_MS, .during = inject, .during_arg = &f});
  for (int r = 0; r < w; r++) {
    if (r == f.victim) continue;
    int64_t late = ctx[r].fail_ms - f.at;
    T_CHECK(ctx[r].rc == FL_ECOMM || ctx[r].rc == FL_ETIMEOUT, "rank %d, rank %d %s: rc %d: %s", r,
            f.victim, how, ctx[r].rc, ctx[r].err);
    T_CHECK(late <= FAULT_TIMEOUT_MS + FAULT_SLACK_MS,
            "rank %d failed %lld ms after rank %d was "
            "%s (timeout %d ms)",
            r, (long long)late, f.victim, how, FAULT_TIMEOUT_MS);
    int left = (r + w - 1) % w, right = (r + 1) % w;
    char l[64], rt[64];
    snprintf(l, sizeof l, "rank %d (%s)", left, peer_text[left]);
    snprintf(rt, sizeof rt, "rank %d (%s)", right, peer_text[right]);
    T_CHECK(strstr(ctx[r].err, l) || strstr(ctx[r].err, rt),
            "rank %d's error must name a neighbour: %s", r, ctx[r].err);
    if (t_verbose) printf("    rank %d after %lld ms: %s\n", r, (long long)late, ctx[r].err);
  }
  /* The first rank to notice names the victim; a rank that learns of the failure from that
   * rank's closing names that rank instead (both are neighbours of the victim here). */
  char v[64];
  snprintf(v, sizeof v, "rank %d (%s)", f.victim, peer_text[f.victim]);
  int named = 0;
  for (int r = 0; r < w; r++)
    if (r != f.victim && strstr(ctx[r].err, v)) {
      named++;
      if (sig == SIGSTOP)
        T_CHECK(ctx[r].rc == FL_ETIMEOUT && strstr(ctx[r].err, " for 1.0 s"), "rank %d: %s", r,
                ctx[r].err);
      else
        T_CHECK(ctx[r].rc == FL_ECOMM, "rank %d: %s", r, ctx[r].err);
    }
  T_CHECK(named > 0, "no rank named the %s %s: %s | %s", how, v, ctx[0].err, ctx[1].err);
  ring_done(ctx);
}

void test_comm_peer_killed_mid_transfer_fails_the_others(void) { fault_case(SIGKILL); }
void test_comm_peer_that_stops_answering_fails_the_others(void) { fault_case(SIGSTOP); }

static void close_rank1(rank_ctx *ctx, pid_t *pids, void *arg) {
  (void)pids, (void)arg;
  wait_running(ctx, 2);
  fl_comm_close(ctx[1].comm);
  fl_comm_close(ctx[1].comm); /* idempotent */
  ctx[0].shared[MAX_RANKS] = 1;
}

void test_comm_close_from_another_thread_ends_a_blocked_call(void) {
  rank_ctx *ctx = ring_run(2, THREADS, allreduce_loop_rank, NULL,
                           &(ring_opts){.timeout_ms = OK_TIMEOUT_MS, .during = close_rank1});
  T_CHECK(ctx[1].rc == FL_ESTATE && strstr(ctx[1].err, "closed"), "rank 1 (closed): %d %s",
          ctx[1].rc, ctx[1].err);
  T_CHECK(ctx[0].rc == FL_ECOMM && strstr(ctx[0].err, peer_text[1]), "rank 0: %d %s", ctx[0].rc,
          ctx[0].err);
  ring_done(ctx);
}

static void mismatch_rank(rank_ctx *c) {
  fl_comm *comm = join(c);
  if (!comm) return;
  float x[10] = {0};
  int rc =
      c->rank == 1 ? fl_comm_broadcast(comm, x, sizeof x, 0) : fl_comm_allreduce_sum(comm, x, 10);
  if (rc) failed(c, rc);
  fl_comm_free(comm);
}

void test_comm_mismatched_calls_fail_naming_both(void) {
  int64_t t0 = fl_now_ms();
  rank_ctx *ctx = ring_run(3, THREADS, mismatch_rank, NULL, &RUN_FAULT);
  for (int r = 0; r < 3; r++) {
    T_CHECK(ctx[r].rc != 0, "rank %d did not fail", r);
    T_CHECK(ctx[r].fail_ms - t0 < FAULT_TIMEOUT_MS, "rank %d took %lld ms", r,
            (long long)(ctx[r].fail_ms - t0));
  }
  T_CHECK(strstr(ctx[2].err, "allreduce") && strstr(ctx[2].err, "broadcast") &&
              strstr(ctx[2].err, "rank 1"),
          "rank 2 must name its call and rank 1's: %s", ctx[2].err);
  if (t_verbose) printf("    rank 2: %s\n", ctx[2].err);
  ring_done(ctx);
}

/* ---------------------------------------------------------------- connecting */
typedef struct {
  fl_listener *l;
  const char *const *peers;
  int rank, rc;
  char err[300];
} late_rank;

static void *late_main(void *p) {
  late_rank *a = p;
  fl_comm *c;
  a->rc = fl_comm_create(&c, a->l, a->peers, SECRET, 32, a->rank, 2, OK_TIMEOUT_MS);
  if (!a->rc) {
    float x[7] = {1};
    a->rc = fl_comm_allreduce_sum(c, x, 7);
    if (!a->rc && x[0] != 2) a->rc = -1;
  }
  snprintf(a->err, sizeof a->err, "%s", fl_last_error());
  fl_comm_free(c);
  return NULL;
}

/* Rank 1 starts listening 300 ms after rank 0 tries to connect: rank 0 retries. */
void test_comm_connect_retries_until_the_neighbour_listens(void) {
  late_rank a[2] = {{.rank = 0}, {.rank = 1}};
  int p0, p1;
  fl_listen(&a[1].l, &p1, "127.0.0.1", 0);
  fl_listener_close(a[1].l); /* the port is free again: rank 1 reopens it later */
  fl_listen(&a[0].l, &p0, "127.0.0.1", 0);
  char t0[32], t1[32];
  snprintf(t0, sizeof t0, "127.0.0.1:%d", p0);
  snprintf(t1, sizeof t1, "127.0.0.1:%d", p1);
  const char *peers[2] = {t0, t1};
  a[0].peers = a[1].peers = peers;
  pthread_t th[2];
  pthread_create(&th[0], NULL, late_main, &a[0]);
  usleep(300000);
  int rc = fl_listen(&a[1].l, &p1, "127.0.0.1", p1);
  T_CHECK(rc == 0, "reopening port %d: %s", p1, fl_last_error());
  if (rc)
    a[1].l = NULL;
  else
    pthread_create(&th[1], NULL, late_main, &a[1]);
  pthread_join(th[0], NULL);
  if (!rc) pthread_join(th[1], NULL);
  for (int r = 0; r < 2 && !rc; r++) T_CHECK(a[r].rc == 0, "rank %d: %s", r, a[r].err);
  fl_listener_close(a[0].l);
  fl_listener_close(a[1].l);
}

/* The same ring over IPv6 loopback, where the host has it ("[::1]:port" addresses). */
void test_comm_ipv6_loopback(void) {
  late_rank a[2] = {{.rank = 0}, {.rank = 1}};
  char t[2][64];
  const char *peers[2] = {t[0], t[1]};
  for (int r = 0; r < 2; r++) {
    int port;
    if (fl_listen(&a[r].l, &port, "::1", 0)) {
      if (t_verbose) printf("    no IPv6 loopback here (%s): skipped\n", fl_last_error());
      if (r) fl_listener_close(a[0].l);
      return;
    }
    snprintf(t[r], sizeof t[r], "[::1]:%d", port);
    a[r].peers = peers;
  }
  pthread_t th[2];
  for (int r = 0; r < 2; r++) pthread_create(&th[r], NULL, late_main, &a[r]);
  for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
  for (int r = 0; r < 2; r++) {
    T_CHECK(a[r].rc == 0, "IPv6 rank %d: %s", r, a[r].err);
    fl_listener_close(a[r].l);
  }
}
