/* Internal declarations of the communication layer (src/comm/): SHA-256 and HMAC for the
 * handshake, socket helpers and the handshake shared by net.c and ring.c. Not part of the API
 * (flashlm.h has that); the C tests include it to check the pieces on their own. */
#ifndef FLASHLM_COMM_H
#define FLASHLM_COMM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "flashlm.h"

/* ---- SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) -------------------------------------- */
#define FL_SHA256_BYTES 32
typedef struct {
  uint32_t h[8];
  uint64_t len; /* bytes hashed so far */
  size_t fill;  /* bytes waiting in buf */
  uint8_t buf[64];
} fl_sha256_ctx;
void fl_sha256_init(fl_sha256_ctx *c);
void fl_sha256_update(fl_sha256_ctx *c, const void *data, size_t n);
void fl_sha256_final(uint8_t out[FL_SHA256_BYTES], fl_sha256_ctx *c);
void fl_sha256(uint8_t out[FL_SHA256_BYTES], const void *data, size_t n);
/* HMAC-SHA256 of the concatenation of n_parts parts (part i: part_lens[i] bytes). */
void fl_hmac_sha256(uint8_t out[FL_SHA256_BYTES], const void *key, size_t key_len,
                    const void *const *parts, const size_t *part_lens, int n_parts);
/* 1 if the n bytes are equal, in time independent of where they differ. */
int fl_equal_const_time(const void *a, const void *b, size_t n);

/* ---- sockets (net.c) ----------------------------------------------------------------------- */
/* Longest "host:port" text kept for error messages (an IPv6 literal in brackets fits). */
#define FL_ADDR_TEXT 96

/* Milliseconds of the monotonic clock. */
int64_t fl_now_ms(void);
/* Resolves "host:port" ("[v6]:port" for an IPv6 literal) into sa; FL_EINVAL naming the text if
 * it does not parse or resolve. */
int fl_resolve(struct sockaddr_storage *sa, socklen_t *len, const char *hostport);
/* "1.2.3.4:5678" or "[::1]:5678". */
void fl_addr_text(char out[FL_ADDR_TEXT], const struct sockaddr *sa);
/* Fills n bytes from the kernel's random source; FL_ESTATE if it fails. */
int fl_random(void *out, size_t n);

/* The connections of one rank in the ring, made by fl_ring_handshake. */
typedef struct {
  int right, left;               /* connected sockets (non-blocking), -1 if not made */
  char right_addr[FL_ADDR_TEXT]; /* the right neighbour as given */
  char left_addr[FL_ADDR_TEXT];  /* the left neighbour as seen (its ephemeral port) */
  char notes[512];               /* connections refused while waiting, "" if none */
} fl_ring_links;
/* Within deadline_ms (fl_now_ms clock): connects to the right neighbour rank (rank+1)%world at
 * right (retrying while it refuses), accepts from the listening socket listen_fd until the left
 * neighbour (rank-1)%world has authenticated, and authenticates both with secret (both sides
 * prove knowledge of the secret by HMACs of the other's random nonce; the secret never goes on
 * the wire). Both handshakes progress together (the whole ring connects at once without
 * deadlock). Connections that fail authentication are closed and listed in links->notes. On
 * failure no socket is left open and the error text names the peer. */
int fl_ring_handshake(fl_ring_links *links, int listen_fd, const char *right, const uint8_t *secret,
                      size_t secret_len, int rank, int world, int64_t deadline_ms);
/* TCP_NODELAY and O_NONBLOCK on a socket. */
void fl_socket_tune(int fd);
/* Small socket buffers on a connection within one host (see net.c); others keep autotuning. */
void fl_socket_buffers(int fd);
/* The listening socket of a listener. */
int fl_listener_fd(const fl_listener *l);

#endif
