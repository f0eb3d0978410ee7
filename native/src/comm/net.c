/* TCP endpoints of the ring: the listener, address parsing, socket tuning, and the mutual
 * authentication handshake with which every ring connection starts.
 *
 * Handshake (C = the connecting rank r-1, S = the accepting rank r; integers big-endian):
 *   C -> S  hello   "FLRING1\0" | u32 client rank | u32 server rank | u32 world | nonce_c (32)
 *   S -> C  reply   "FLRING1\0" | nonce_s (32) | HMAC(secret, nonce_c | "server" | ranks)
 *   C -> S  answer  HMAC(secret, nonce_s | "client" | ranks)
 *   S -> C  ok      "FLRINGOK"
 * where ranks = the 12 bytes of the three integers of the hello. Each side proves that it knows
 * the secret by answering the other's fresh random nonce; the role in the MAC stops a peer from
 * replaying one side's answer as the other's. The secret itself never goes on the wire. S
 * checks the hello (world and ranks) before it answers; a connection that fails any check is
 * closed, listed in the notes, and S goes on waiting for its real left neighbour. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm.h"
#include "internal.h"

/* Socket buffers for a neighbour on the same host (loopback or this host's own address): data
 * in flight stays in the caches when the buffers are small. Measured on loopback (2 ranks,
 * 64 MB, 2 cores): CPU time per allreduce 23 ms with 256 KB asked for (the kernel doubles it),
 * 25-34 ms with Linux's autotuning, 33-42 ms with 4 MB. A neighbour on another host keeps the
 * autotuning, which grows the buffers to the path's bandwidth-delay product. */
#define FL_LOCAL_SOCK_BUF (256 << 10)
/* Handshake messages. */
#define HELLO_BYTES  52
#define REPLY_BYTES  72
#define ANSWER_BYTES 32
#define OK_BYTES     8
#define NONCE_BYTES  32
static const char MAGIC[8] = "FLRING1"; /* with its terminating zero: 8 bytes */
static const char OK_MSG[8] = {'F', 'L', 'R', 'I', 'N', 'G', 'O', 'K'};
/* At most this many accepted connections are authenticated at once (others wait in the
 * listen backlog), so a few silent strangers cannot keep the real neighbour out. */
#define MAX_PENDING 8

int64_t fl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fl_random(void *out, size_t n) {
  uint8_t *p = out;
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fl_error(FL_ESTATE, "no random bytes from the kernel: %s", strerror(errno));
    p += got, n -= (size_t)got;
  }
  return FL_OK;
}

void fl_addr_text(char out[FL_ADDR_TEXT], const struct sockaddr *sa) {
  char host[INET6_ADDRSTRLEN + 1] = "?", port[16] = "?";
  socklen_t len =
      sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  getnameinfo(sa, len, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
  snprintf(out, FL_ADDR_TEXT, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Splits "host:port" / "[v6]:port" into host and port texts. */
static int split_hostport(char *host, size_t hn, char *port, size_t pn, const char *text) {
  const char *colon = strrchr(text, ':');
  if (!colon || !colon[1]) return 0;
  const char *h = text, *he = colon;
  if (*h == '[') {
    if (he == h || he[-1] != ']') return 0;
    h++, he--;
  }
  if ((size_t)(he - h) >= hn || strlen(colon + 1) >= pn) return 0;
  memcpy(host, h, (size_t)(he - h));
  host[he - h] = 0;
  strcpy(port, colon + 1);
  return 1;
}

int fl_resolve(struct sockaddr_storage *sa, socklen_t *len, const char *hostport) {
  char host[256], port[16];
  if (!hostport || !split_hostport(host, sizeof host, port, sizeof port, hostport))
    return fl_error(FL_EINVAL, "address '%s' is not host:port", hostport ? hostport : "(null)");
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc)
    return fl_error(FL_EINVAL, "address '%s' does not resolve: %s", hostport, gai_strerror(rc));
  memcpy(sa, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return FL_OK;
}

void fl_socket_tune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* 1 if both ends of the connection have the same IP address (the same host). */
static int same_host(int fd) {
  struct sockaddr_storage a, b;
  socklen_t la = sizeof a, lb = sizeof b;
  if (getsockname(fd, (struct sockaddr *)&a, &la) || getpeername(fd, (struct sockaddr *)&b, &lb) ||
      a.ss_family != b.ss_family)
    return 0;
  if (a.ss_family == AF_INET)
    return ((struct sockaddr_in *)&a)->sin_addr.s_addr ==
           ((struct sockaddr_in *)&b)->sin_addr.s_addr;
  if (a.ss_family == AF_INET6)
    return !memcmp(&((struct sockaddr_in6 *)&a)->sin6_addr, &((struct sockaddr_in6 *)&b)->sin6_addr,
                   16);
  return 0;
}

void fl_socket_buffers(int fd) {
  int buf = FL_LOCAL_SOCK_BUF;
  if (same_host(fd)) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
}

/* ---- the listener (API) -------------------------------------------------------------------- */
struct fl_listener {
  int fd, port;
};

int fl_listen(fl_listener **out, int *port, const char *host, int want_port) {
  *out = NULL;
  if (want_port < 0 || want_port > 65535)
    return fl_error(FL_EINVAL, "port %d is not in 0..65535", want_port);
  char portText[16];
  snprintf(portText, sizeof portText, "%d", want_port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res;
  const char *h = host && *host ? host : NULL;
  if (!h) hints.ai_family = AF_INET;
  int rc = getaddrinfo(h, portText, &hints, &res);
  if (rc)
    return fl_error(FL_EINVAL, "listen address '%s' does not resolve: %s", h ? h : "*",
                    gai_strerror(rc));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
  if (fd < 0) {
    freeaddrinfo(res);
    return fl_error(FL_ESTATE, "socket: %s", strerror(errno));
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 64)) {
    int e = errno;
    freeaddrinfo(res);
    close(fd);
    return fl_error(FL_ESTATE, "cannot listen on %s:%d: %s", h ? h : "*", want_port, strerror(e));
  }
  freeaddrinfo(res);
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &len);
  fl_listener *l = malloc(sizeof *l);
  if (!l) {
    close(fd);
    return fl_error(FL_ENOMEM, "cannot allocate a listener");
  }
  l->fd = fd;
  l->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                           : ((struct sockaddr_in *)&sa)->sin_port);
  *port = l->port;
  *out = l;
  return FL_OK;
}

int fl_listener_port(const fl_listener *l) { return l ? l->port : -1; }
int fl_listener_fd(const fl_listener *l) { return l ? l->fd : -1; }

void fl_listener_close(fl_listener *l) {
  if (!l) return;
  close(l->fd);
  free(l);
}

/* ---- the handshake ------------------------------------------------------------------------- */
enum { ST_CONNECTING, ST_WAIT_RETRY, ST_HELLO, ST_REPLY, ST_ANSWER, ST_OK, ST_DONE };

typedef struct {
  int fd, server, state;
  uint8_t out[REPLY_BYTES], in[REPLY_BYTES], nonce[NONCE_BYTES], ranks[12];
  size_t out_len, out_off, in_len, in_off;
  char addr[FL_ADDR_TEXT];
  char err[200];
} hs_t;

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void mac(uint8_t out[FL_SHA256_BYTES], const uint8_t *secret, size_t secret_len,
                const uint8_t *nonce, const char *role, const uint8_t ranks[12]) {
  const void *parts[3] = {nonce, role, ranks};
  size_t lens[3] = {NONCE_BYTES, strlen(role), 12};
  fl_hmac_sha256(out, secret, secret_len, parts, lens, 3);
}

typedef struct {
  const uint8_t *secret;
  size_t secret_len;
  int rank, world;
} hs_ctx;

/* Handles a complete incoming message and queues the next one. 0 on success, -1 with h->err. */
static int hs_message(hs_t *h, const hs_ctx *x) {
  uint8_t m[FL_SHA256_BYTES];
  h->in_off = h->out_off = 0;
  switch (h->state) {
  case ST_HELLO: /* client: hello sent; server: hello received */
    if (!h->server) {
      h->state = ST_REPLY, h->in_len = REPLY_BYTES, h->out_len = 0;
      return 0;
    }
    if (memcmp(h->in, MAGIC, 8)) {
      snprintf(h->err, sizeof h->err, "not a flashlm ring peer (bad hello)");
      return -1;
    }
    uint32_t cr = get32(h->in + 8), sr = get32(h->in + 12), w = get32(h->in + 16);
    uint32_t left = (uint32_t)((x->rank + x->world - 1) % x->world);
    if (w != (uint32_t)x->world || sr != (uint32_t)x->rank || cr != left) {
      snprintf(h->err, sizeof h->err,
               "says it is rank %u of %u connecting to rank %u; expected rank %u of %d", cr, w, sr,
               left, x->world);
      return -1;
    }
    memcpy(h->ranks, h->in + 8, 12);
    memcpy(h->out, MAGIC, 8);
    if (fl_random(h->nonce, NONCE_BYTES)) {
      snprintf(h->err, sizeof h->err, "%s", fl_last_error());
      return -1;
    }
    memcpy(h->out + 8, h->nonce, NONCE_BYTES);
    mac(h->out + 40, x->secret, x->secret_len, h->in + 20, "server", h->ranks);
    h->state = ST_ANSWER, h->out_len = REPLY_BYTES, h->in_len = ANSWER_BYTES;
    return 0;
  case ST_REPLY: /* client: the server's reply received */
    mac(m, x->secret, x->secret_len, h->nonce, "server", h->ranks);
    if (memcmp(h->in, MAGIC, 8) || !fl_equal_const_time(m, h->in + 40, FL_SHA256_BYTES)) {
      snprintf(h->err, sizeof h->err, "its answer does not prove the secret");
      return -1;
    }
    mac(h->out, x->secret, x->secret_len, h->in + 8, "client", h->ranks);
    h->state = ST_OK, h->out_len = ANSWER_BYTES, h->in_len = OK_BYTES;
    return 0;
  case ST_ANSWER: /* server: the client's answer received */
    mac(m, x->secret, x->secret_len, h->nonce, "client", h->ranks);
    if (!fl_equal_const_time(m, h->in, FL_SHA256_BYTES)) {
      snprintf(h->err, sizeof h->err, "failed authentication (wrong secret)");
      return -1;
    }
    memcpy(h->out, OK_MSG, OK_BYTES);
    h->state = ST_OK, h->out_len = OK_BYTES, h->in_len = 0;
    return 0;
  case ST_OK: /* server: ok sent; client: ok received */
    if (!h->server && memcmp(h->in, OK_MSG, OK_BYTES)) {
      snprintf(h->err, sizeof h->err, "sent a bad final handshake message");
      return -1;
    }
    h->state = ST_DONE;
    return 0;
  }
  return -1;
}

/* Moves the handshake as far as the socket allows. Returns 1 when done, 0 when it must wait for
 * *events on h->fd, -1 on failure (h->err). */
static int hs_advance(hs_t *h, const hs_ctx *x, short *events) {
  while (h->state != ST_DONE) {
    if (h->out_off < h->out_len) {
      ssize_t n = send(h->fd, h->out + h->out_off, h->out_len - h->out_off, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return *events = POLLOUT, 0;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return snprintf(h->err, sizeof h->err, "send: %s", strerror(errno)), -1;
      h->out_off += (size_t)n;
    } else if (h->in_off < h->in_len) {
      ssize_t n = recv(h->fd, h->in + h->in_off, h->in_len - h->in_off, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return *events = POLLIN, 0;
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return snprintf(h->err, sizeof h->err, "it closed the connection"), -1;
      if (n < 0) return snprintf(h->err, sizeof h->err, "receive: %s", strerror(errno)), -1;
      h->in_off += (size_t)n;
    } else if (hs_message(h, x)) {
      return -1;
    }
  }
  return 1;
}

static void note(char *notes, size_t cap, const char *addr, const char *why) {
  size_t used = strlen(notes);
  if (used + 4 >= cap) return;
  snprintf(notes + used, cap - used, "%srefused %s: %s", used ? "; " : "", addr, why);
}

/* The connecting side: the handshake with the right neighbour and its connection retries. */
typedef struct {
  hs_t h;
  struct sockaddr_storage sa;
  socklen_t salen;
  int tries, backoff_ms, done;
  int64_t retry_at;
  char last_err[128];
} client_t;

/* Closes a failed connection attempt; the next one starts after a growing pause (the neighbour
 * may not listen yet). */
static void client_retry_later(client_t *c, int err, int64_t now) {
  snprintf(c->last_err, sizeof c->last_err, "%s", strerror(err));
  close(c->h.fd);
  c->h.fd = -1, c->h.state = ST_WAIT_RETRY, c->retry_at = now + c->backoff_ms;
  c->backoff_ms = c->backoff_ms * 2 > 500 ? 500 : c->backoff_ms * 2;
}

/* Starts a non-blocking connect with the hello queued. 0 if under way (or retrying later), -1
 * on a local failure (h.err). */
static int client_start(client_t *c, const hs_ctx *x, int64_t now) {
  hs_t *h = &c->h;
  c->tries++;
  h->fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (h->fd < 0) return snprintf(h->err, sizeof h->err, "socket: %s", strerror(errno)), -1;
  fl_socket_tune(h->fd);
  h->state = ST_CONNECTING;
  h->in_off = h->out_off = h->in_len = 0;
  put32(h->ranks, (uint32_t)x->rank);
  put32(h->ranks + 4, (uint32_t)((x->rank + 1) % x->world));
  put32(h->ranks + 8, (uint32_t)x->world);
  memcpy(h->out, MAGIC, 8);
  memcpy(h->out + 8, h->ranks, 12);
  if (fl_random(h->nonce, NONCE_BYTES))
    return snprintf(h->err, sizeof h->err, "%s", fl_last_error()), -1;
  memcpy(h->out + 20, h->nonce, NONCE_BYTES);
  h->out_len = HELLO_BYTES;
  if (connect(h->fd, (const struct sockaddr *)&c->sa, c->salen) && errno != EINPROGRESS)
    client_retry_later(c, errno, now); /* refused at once */
  return 0;
}

/* Accepts one connection into the pending server handshakes. */
static void accept_one(int listen_fd, hs_t *pend, int *npend) {
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  int fd = accept4(listen_fd, (struct sockaddr *)&from, &len, SOCK_CLOEXEC);
  if (fd < 0) return; /* gone again before we took it */
  hs_t *h = &pend[(*npend)++];
  memset(h, 0, sizeof *h);
  h->fd = fd, h->server = 1, h->state = ST_HELLO, h->in_len = HELLO_BYTES;
  fl_socket_tune(fd);
  fl_addr_text(h->addr, (struct sockaddr *)&from);
}

int fl_ring_handshake(fl_ring_links *links, int listen_fd, const char *right, const uint8_t *secret,
                      size_t secret_len, int rank, int world, int64_t deadline_ms) {
  hs_ctx x = {secret, secret_len, rank, world};
  client_t cl = {.h = {.fd = -1, .state = ST_WAIT_RETRY}, .backoff_ms = 20};
  hs_t pend[MAX_PENDING];
  int npend = 0, left_fd = -1, rc = FL_OK;
  int left = (rank + world - 1) % world, right_rank = (rank + 1) % world;
  links->right = links->left = -1;
  links->notes[0] = 0;
  snprintf(links->right_addr, FL_ADDR_TEXT, "%s", right);
  if (fl_resolve(&cl.sa, &cl.salen, right)) return FL_EINVAL;
  while (!cl.done || left_fd < 0) {
    int64_t now = fl_now_ms();
    if (now >= deadline_ms && !cl.done) {
      rc = fl_error(FL_ETIMEOUT,
                    "rank %d: could not reach rank %d at %s within the timeout "
                    "(%d attempts%s%s)",
                    rank, right_rank, right, cl.tries, *cl.last_err ? ", last: " : "", cl.last_err);
      break;
    }
    if (now >= deadline_ms) {
      rc = fl_error(FL_ETIMEOUT, "rank %d: rank %d did not connect within the timeout%s%s", rank,
                    left, *links->notes ? "; " : "", links->notes);
      break;
    }
    if (!cl.done && cl.h.state == ST_WAIT_RETRY && now >= cl.retry_at &&
        client_start(&cl, &x, now)) {
      rc = fl_error(FL_ESTATE, "rank %d: connecting to rank %d at %s: %s", rank, right_rank, right,
                    cl.h.err);
      break;
    }
    /* Move every handshake as far as its socket allows, and collect what each waits for. */
    struct pollfd p[2 + MAX_PENDING];
    int np = 0, ci = -1, li = -1;
    if (!cl.done && cl.h.fd >= 0) {
      short ev = POLLOUT; /* connecting: writable when the connection is made or refused */
      int r = cl.h.state == ST_CONNECTING ? 0 : hs_advance(&cl.h, &x, &ev);
      if (r < 0) {
        rc = fl_error(FL_EAUTH,
                      "rank %d: authentication with rank %d at %s failed: %s (a "
                      "different secret, or not a peer of this ring?)",
                      rank, right_rank, right, cl.h.err);
        break;
      }
      if (r > 0) {
        cl.done = 1, links->right = cl.h.fd, cl.h.fd = -1;
        continue;
      }
      ci = np, p[np++] = (struct pollfd){cl.h.fd, ev, 0};
    }
    if (left_fd < 0 && npend < MAX_PENDING) /* more wait in the backlog */
      li = np, p[np++] = (struct pollfd){listen_fd, POLLIN, 0};
    for (int i = 0; i < npend; i++) {
      short ev = POLLIN;
      int r = hs_advance(&pend[i], &x, &ev);
      if (r == 0) {
        p[np++] = (struct pollfd){pend[i].fd, ev, 0};
        continue;
      }
      if (r > 0 && left_fd < 0) {
        left_fd = pend[i].fd;
        snprintf(links->left_addr, FL_ADDR_TEXT, "%s", pend[i].addr);
      } else {
        note(links->notes, sizeof links->notes, pend[i].addr,
             r > 0 ? "a second left neighbour" : pend[i].err);
        close(pend[i].fd);
      }
      pend[i--] = pend[--npend];
    }
    if (cl.done && left_fd >= 0) break;
    int64_t wait = deadline_ms - now;
    if (!cl.done && cl.h.state == ST_WAIT_RETRY && cl.retry_at - now < wait)
      wait = cl.retry_at - now;
    int ready = poll(p, (nfds_t)np, wait < 0 ? 0 : (int)wait);
    if (ready < 0 && errno != EINTR) {
      rc = fl_error(FL_ESTATE, "rank %d: poll: %s", rank, strerror(errno));
      break;
    }
    if (ready <= 0) continue;
    if (ci >= 0 && cl.h.state == ST_CONNECTING && p[ci].revents) {
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(cl.h.fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err)
        client_retry_later(&cl, err, fl_now_ms());
      else
        cl.h.state = ST_HELLO;
    }
    if (li >= 0 && (p[li].revents & POLLIN)) accept_one(listen_fd, pend, &npend);
  }
  for (int i = 0; i < npend; i++) close(pend[i].fd);
  if (cl.h.fd >= 0) close(cl.h.fd);
  if (rc) {
    if (links->right >= 0) close(links->right);
    if (left_fd >= 0) close(left_fd);
    links->right = links->left = -1;
    return rc;
  }
  links->left = left_fd;
  fl_socket_buffers(links->left);
  fl_socket_buffers(links->right);
  return FL_OK;
}
