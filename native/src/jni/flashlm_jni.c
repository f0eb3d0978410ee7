/* The JNI binding of flashlm.jni.Native: the only file that includes jni.h. Every entry point
 * returns a status code (0 = ok, else an FL_E* code with fl_last_error() set on this thread);
 * nothing here throws, exits or prints. Java turns a non-zero code into an exception carrying
 * Native.lastError(). Arrays and buffers are checked before use (null, length, ranges in bytes
 * without overflow), and handles (models, listeners, communicators) against the live objects
 * (below). */
#include <dlfcn.h>
#include <jni.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flashlm.h"

#define JFN(name) JNIEXPORT jint JNICALL Java_flashlm_jni_Native_##name

JNIEXPORT jstring JNICALL Java_flashlm_jni_Native_lastError(JNIEnv *env, jclass cls) {
  return (*env)->NewStringUTF(env, fl_last_error());
}

JNIEXPORT jstring JNICALL Java_flashlm_jni_Native_kernelsName(JNIEnv *env, jclass cls) {
  return (*env)->NewStringUTF(env, fl_kernels_get()->name);
}

JFN(setNumThreads)(JNIEnv *env, jclass cls, jint n) { return fl_set_num_threads(n); }

JNIEXPORT jint JNICALL Java_flashlm_jni_Native_numThreads(JNIEnv *env, jclass cls) {
  return fl_num_threads();
}

/* FL_OK if the Java array a holds at least n elements, else FL_EINVAL naming it. */
static int need(JNIEnv *env, jarray a, jlong n, const char *what) {
  if (!a) return fl_error(FL_EINVAL, "%s array is null", what);
  jsize len = (*env)->GetArrayLength(env, a);
  if (len < n)
    return fl_error(FL_EINVAL, "%s array holds %d elements, need %lld", what, (int)len,
                    (long long)n);
  return FL_OK;
}

/* ---- live objects: a handle (a pointer in a jlong) is looked up among the objects of its kind
 * (model, listener, communicator) this file created and has not freed, so a freed or made-up
 * handle, or one of another kind, is FL_ESTATE instead of a use of freed memory. An object is
 * marked busy for the length of a call: a second call at the same time (a model or a
 * communicator takes one call at a time) or a free during a call is FL_ESTATE too. The list is
 * short (a model and a communicator per trainer), so a linear search under one lock costs
 * nothing next to a call. ---- */
enum { KIND_MODEL, KIND_LISTENER, KIND_COMM, KIND_INFER };
static const char *KIND_NAME[] = {"model", "listener", "communicator", "inference model"};

typedef struct live_obj {
  void *p;
  int kind, busy;
} live_obj;

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static live_obj *live;
static int n_live, cap_live;

/* Index of handle h of kind in live, or -1; the caller holds live_lock. */
static int find_live(jlong h, int kind) {
  for (int i = 0; i < n_live; i++)
    if ((jlong)(intptr_t)live[i].p == h && live[i].kind == kind) return i;
  return -1;
}

static int add_live(void *p, int kind) {
  int rc = FL_OK;
  pthread_mutex_lock(&live_lock);
  if (n_live == cap_live) {
    int cap = cap_live ? 2 * cap_live : 16;
    live_obj *a = realloc(live, sizeof *a * cap);
    if (a)
      live = a, cap_live = cap;
    else
      rc = fl_error(FL_ENOMEM, "cannot grow the table of live objects");
  }
  if (!rc) live[n_live++] = (live_obj){p, kind, 0};
  pthread_mutex_unlock(&live_lock);
  return rc;
}

static int stale(jlong h, int kind) {
  return fl_error(FL_ESTATE, "%s handle 0x%llx is not a live %s (freed, or never created)",
                  KIND_NAME[kind], (unsigned long long)h, KIND_NAME[kind]);
}

static int busy(jlong h, int kind) {
  return fl_error(FL_ESTATE,
                  "%s handle 0x%llx is in use by another call (a %s takes one call at "
                  "a time)",
                  KIND_NAME[kind], (unsigned long long)h, KIND_NAME[kind]);
}

/* Marks the object of h busy and stores it in *out; release() ends the call. */
static int acquire_obj(jlong h, int kind, void **out) {
  pthread_mutex_lock(&live_lock);
  int i = find_live(h, kind), rc = i < 0 ? stale(h, kind) : live[i].busy ? busy(h, kind) : FL_OK;
  if (!rc) live[i].busy = 1, *out = live[i].p;
  pthread_mutex_unlock(&live_lock);
  return rc;
}

static void release_obj(void *p, int kind) {
  pthread_mutex_lock(&live_lock);
  int i = find_live((jlong)(intptr_t)p, kind);
  if (i >= 0) live[i].busy = 0;
  pthread_mutex_unlock(&live_lock);
}

/* Removes h from the live objects and returns it in *out (NULL for h == 0, a no-op); a handle
 * that is not live, or busy, is FL_ESTATE (nothing is freed twice). */
static int take_live(jlong h, int kind, void **out) {
  *out = NULL;
  if (h == 0) return FL_OK;
  pthread_mutex_lock(&live_lock);
  int i = find_live(h, kind), rc = i < 0 ? stale(h, kind) : live[i].busy ? busy(h, kind) : FL_OK;
  if (!rc) *out = live[i].p, live[i] = live[--n_live];
  pthread_mutex_unlock(&live_lock);
  return rc;
}

static int acquire(jlong h, fl_model **out) { return acquire_obj(h, KIND_MODEL, (void **)out); }
static void release(fl_model *m) { release_obj(m, KIND_MODEL); }

/* ---- model ---- */
JFN(modelCreate)
(JNIEnv *env, jclass cls, jlongArray out, jint arch, jint vocab, jint d, jint n_layers,
 jint n_heads, jint ffn, jint seq_len, jboolean ternary, jboolean learnable_alpha, jint backward_dx,
 jint backward_dw, jdouble rope_theta, jdouble norm_eps, jint max_batch) {
  fl_spec s = {.arch = arch,
               .vocab = vocab,
               .d = d,
               .n_layers = n_layers,
               .n_heads = n_heads,
               .ffn = ffn,
               .seq_len = seq_len,
               .ternary = ternary ? 1 : 0,
               .learnable_alpha = learnable_alpha ? 1 : 0,
               .backward_dx = backward_dx,
               .backward_dw = backward_dw,
               .rope_theta = rope_theta,
               .norm_eps = norm_eps};
  int rc = need(env, out, 1, "handle");
  fl_model *m = NULL;
  if (rc || (rc = fl_model_create(&m, &s, max_batch))) return rc;
  if ((rc = add_live(m, KIND_MODEL))) {
    fl_model_free(m);
    return rc;
  }
  jlong h = (jlong)(intptr_t)m;
  (*env)->SetLongArrayRegion(env, out, 0, 1, &h);
  return FL_OK;
}

/* 0 is a no-op; a handle that is not live, or busy, is FL_ESTATE (nothing is freed twice). */
JFN(modelFree)(JNIEnv *env, jclass cls, jlong h) {
  void *m;
  int rc = take_live(h, KIND_MODEL, &m);
  fl_model_free(m);
  return rc;
}

JFN(modelNumParams)(JNIEnv *env, jclass cls, jlong h, jlongArray out) {
  fl_model *m;
  int rc = need(env, out, 1, "output");
  if (rc || (rc = acquire(h, &m))) return rc;
  jlong n = (jlong)fl_model_num_params(m);
  (*env)->SetLongArrayRegion(env, out, 0, 1, &n);
  release(m);
  return FL_OK;
}

/* A direct ByteBuffer over the model's parameters (grads = 0) or gradients (grads = 1); NULL for
 * a handle that is not live (or, with an OutOfMemoryError pending, if the JVM cannot make one). */
JNIEXPORT jobject JNICALL Java_flashlm_jni_Native_modelByteBuffer(JNIEnv *env, jclass cls, jlong h,
                                                                  jboolean grads) {
  fl_model *m;
  if (acquire(h, &m)) return NULL;
  float *p = grads ? fl_model_grads(m) : fl_model_params(m);
  jlong bytes = (jlong)(fl_model_num_params(m) * sizeof(float));
  jobject b = (*env)->NewDirectByteBuffer(env, p, bytes);
  release(m);
  return b;
}

JFN(modelNumTensors)(JNIEnv *env, jclass cls, jlong h, jintArray out) {
  fl_model *m;
  int rc = need(env, out, 1, "output");
  if (rc || (rc = acquire(h, &m))) return rc;
  jint n = fl_model_num_tensors(m);
  (*env)->SetIntArrayRegion(env, out, 0, 1, &n);
  release(m);
  return FL_OK;
}

/* Tensor i: its name, and info = {offset, ndim, shape0, shape1, decay}. */
JFN(modelTensor)(JNIEnv *env, jclass cls, jlong h, jint i, jobjectArray name, jlongArray info) {
  fl_model *m;
  const char *nm;
  size_t off;
  int nd, shape[2], decay;
  int rc = need(env, name, 1, "tensor name");
  if (rc || (rc = need(env, info, 5, "tensor info")) || (rc = acquire(h, &m))) return rc;
  rc = fl_model_tensor(m, i, &nm, &off, &nd, shape, &decay);
  release(m);
  if (rc) return rc;
  jstring s = (*env)->NewStringUTF(env, nm);
  if (!s) return fl_error(FL_ENOMEM, "cannot create a Java string for tensor %d", i);
  (*env)->SetObjectArrayElement(env, name, 0, s);
  jlong v[5] = {(jlong)off, nd, shape[0], shape[1], decay};
  (*env)->SetLongArrayRegion(env, info, 0, 5, v);
  return FL_OK;
}

JFN(modelZeroGrads)(JNIEnv *env, jclass cls, jlong h) {
  fl_model *m;
  int rc = acquire(h, &m);
  if (rc) return rc;
  fl_model_zero_grads(m);
  release(m);
  return FL_OK;
}

/* Copies the first n ints of a Java array into *out (the model may run for seconds: no critical
 * section). */
static int copy_ints(JNIEnv *env, jintArray a, jlong n, int **out) {
  int rc = need(env, a, n, "token");
  if (rc) return rc;
  int *c = malloc(sizeof(int) * (n ? (size_t)n : 1)); /* n <= the array's length < 2^31 */
  if (!c) return fl_error(FL_ENOMEM, "cannot copy %lld token ids", (long long)n);
  (*env)->GetIntArrayRegion(env, a, 0, (jsize)n, (jint *)c);
  *out = c;
  return FL_OK;
}

/* backward: 1 forward+backward, 0 loss only; loss[0] receives the mean cross-entropy. */
static int run(JNIEnv *env, fl_model *m, jintArray tokens, jint batch, jboolean backward,
               jfloatArray loss) {
  if (batch <= 0) return fl_error(FL_EINVAL, "batch %d must be positive", batch);
  int *tok = NULL, rc = need(env, loss, 1, "loss");
  if (rc || (rc = copy_ints(env, tokens, (jlong)batch * (fl_model_spec(m)->seq_len + 1), &tok)))
    return rc;
  float l = 0.0f;
  rc = backward ? fl_model_forward_backward(m, tok, batch, &l) : fl_model_loss(m, tok, batch, &l);
  free(tok);
  if (!rc) (*env)->SetFloatArrayRegion(env, loss, 0, 1, &l);
  return rc;
}

JFN(modelRun)
(JNIEnv *env, jclass cls, jlong h, jintArray tokens, jint batch, jboolean backward,
 jfloatArray loss) {
  fl_model *m;
  int rc = acquire(h, &m);
  if (rc) return rc;
  rc = run(env, m, tokens, batch, backward, loss);
  release(m);
  return rc;
}

static int last_logits(JNIEnv *env, fl_model *m, jintArray tokens, jint batch, jint len,
                       jfloatArray out) {
  if (batch <= 0 || len <= 0)
    return fl_error(FL_EINVAL, "batch %d and len %d must be positive", batch, len);
  jlong n = (jlong)batch * fl_model_spec(m)->vocab; /* both < 2^31: no overflow in 64 bits */
  int *tok = NULL, rc = need(env, out, n, "logits");
  if (rc || (rc = copy_ints(env, tokens, (jlong)batch * len, &tok))) return rc;
  float *logits = malloc(sizeof(float) * (size_t)n); /* n <= the logits array's length */
  if (!logits) {
    free(tok);
    return fl_error(FL_ENOMEM, "cannot allocate %lld logits", (long long)n);
  }
  rc = fl_model_last_logits(m, tok, batch, len, logits);
  if (!rc) (*env)->SetFloatArrayRegion(env, out, 0, (jsize)n, logits);
  free(tok);
  free(logits);
  return rc;
}

JFN(modelLastLogits)
(JNIEnv *env, jclass cls, jlong h, jintArray tokens, jint batch, jint len, jfloatArray out) {
  fl_model *m;
  int rc = acquire(h, &m);
  if (rc) return rc;
  rc = last_logits(env, m, tokens, batch, len, out);
  release(m);
  return rc;
}

/* ---- kernels over direct FloatBuffers (Native.adamw etc. check in Java, then call these) ----
 * The floats [offset, offset + count) of buf, or NULL with the error set. The Java signatures
 * admit only FloatBuffer, so the JNI capacity is in floats; the range is checked in bytes, every
 * step without overflow: offset, count >= 0, offset*4 and count*4 computed with overflow checks,
 * then offset*4 <= capacity bytes and count*4 <= capacity bytes - offset*4. */
static float *floats(JNIEnv *env, jobject buf, jlong offset, jlong count, const char *what) {
  if (!buf) {
    fl_error(FL_EINVAL, "%s is null", what);
    return NULL;
  }
  char *p = (*env)->GetDirectBufferAddress(env, buf);
  jlong cap = (*env)->GetDirectBufferCapacity(env, buf);
  if (!p || cap < 0) {
    fl_error(FL_EINVAL, "%s is not a direct buffer", what);
    return NULL;
  }
  uint64_t cap_bytes, off_bytes, len_bytes;
  if (offset < 0 || count < 0 || __builtin_mul_overflow((uint64_t)cap, sizeof(float), &cap_bytes) ||
      __builtin_mul_overflow((uint64_t)offset, sizeof(float), &off_bytes) ||
      __builtin_mul_overflow((uint64_t)count, sizeof(float), &len_bytes) || off_bytes > cap_bytes ||
      len_bytes > cap_bytes - off_bytes) {
    fl_error(FL_EINVAL, "%s: offset %lld count %lld outside its %lld floats (%llu bytes)", what,
             (long long)offset, (long long)count, (long long)cap, (unsigned long long)cap * 4);
    return NULL;
  }
  return (float *)(p + off_bytes);
}

JFN(adamw0)
(JNIEnv *env, jclass cls, jobject p, jobject g, jobject m, jobject v, jlong offset, jlong count,
 jfloat lr, jfloat b1, jfloat b2, jfloat eps, jfloat wd, jlong step) {
  float *pp = floats(env, p, offset, count, "params");
  float *gp = pp ? floats(env, g, offset, count, "grads") : NULL;
  float *mp = gp ? floats(env, m, offset, count, "adam m") : NULL;
  float *vp = mp ? floats(env, v, offset, count, "adam v") : NULL;
  if (!vp) return FL_EINVAL;
  if (step < 1 || step > INT32_MAX)
    return fl_error(FL_EINVAL, "adamw step %lld must be >= 1", (long long)step);
  fl_adamw(pp, gp, mp, vp, (size_t)count, lr, b1, b2, eps, wd, (int)step);
  return FL_OK;
}

JFN(sgdMomentum0)
(JNIEnv *env, jclass cls, jobject p, jobject g, jobject buf, jlong offset, jlong count, jfloat lr,
 jfloat mu, jfloat wd) {
  float *pp = floats(env, p, offset, count, "params");
  float *gp = pp ? floats(env, g, offset, count, "grads") : NULL;
  float *bp = gp ? floats(env, buf, offset, count, "momentum") : NULL;
  if (!bp) return FL_EINVAL;
  fl_sgd_momentum(pp, gp, bp, (size_t)count, lr, mu, wd);
  return FL_OK;
}

JFN(sumSquares0)(JNIEnv *env, jclass cls, jobject x, jlong offset, jlong count, jdoubleArray out) {
  int rc = need(env, out, 1, "output");
  if (rc) return rc;
  float *xp = floats(env, x, offset, count, "buffer");
  if (!xp) return FL_EINVAL;
  jdouble s = fl_sum_squares(xp, (size_t)count);
  (*env)->SetDoubleArrayRegion(env, out, 0, 1, &s);
  return FL_OK;
}

JFN(scale0)(JNIEnv *env, jclass cls, jobject x, jlong offset, jlong count, jfloat factor) {
  float *xp = floats(env, x, offset, count, "buffer");
  if (!xp) return FL_EINVAL;
  fl_scale(xp, (size_t)count, factor);
  return FL_OK;
}

/* ---- communication (flashlm.h, "communication"): listeners and ring communicators ----------
 * A call on a communicator may block for up to its timeout; it holds no JNI critical section,
 * and commClose may be called from another thread meanwhile to end it promptly. */

/* handle[0] receives the listener, port[0] the port bound; host NULL or "" = every IPv4
 * interface. */
JFN(listen)
(JNIEnv *env, jclass cls, jlongArray handle, jintArray port, jstring host, jint want_port) {
  int rc = need(env, handle, 1, "handle");
  if (rc || (rc = need(env, port, 1, "port"))) return rc;
  const char *h = host ? (*env)->GetStringUTFChars(env, host, NULL) : NULL;
  if (host && !h) return fl_error(FL_ENOMEM, "cannot read the host name");
  fl_listener *l = NULL;
  int p = 0;
  rc = fl_listen(&l, &p, h, want_port);
  if (h) (*env)->ReleaseStringUTFChars(env, host, h);
  if (rc) return rc;
  if ((rc = add_live(l, KIND_LISTENER))) {
    fl_listener_close(l);
    return rc;
  }
  jlong v = (jlong)(intptr_t)l;
  jint pv = p;
  (*env)->SetLongArrayRegion(env, handle, 0, 1, &v);
  (*env)->SetIntArrayRegion(env, port, 0, 1, &pv);
  return FL_OK;
}

/* 0 is a no-op; a handle that is not live, or busy, is FL_ESTATE. */
JFN(listenerClose)(JNIEnv *env, jclass cls, jlong h) {
  void *l;
  int rc = take_live(h, KIND_LISTENER, &l);
  fl_listener_close(l);
  return rc;
}

/* The peers' "host:port" texts as C strings (world of them), or FL_EINVAL/FL_ENOMEM; free with
 * free_peers. */
static int get_peers(JNIEnv *env, jobjectArray peers, jint world, char ***out) {
  int rc = need(env, peers, world, "peer address");
  if (rc) return rc;
  char **p = calloc((size_t)world, sizeof *p);
  if (!p) return fl_error(FL_ENOMEM, "cannot copy %d peer addresses", world);
  for (jint i = 0; i < world && !rc; i++) {
    jstring s = (*env)->GetObjectArrayElement(env, peers, i);
    if (!s) {
      rc = fl_error(FL_EINVAL, "the address of rank %d is null", i);
      break;
    }
    const char *c = (*env)->GetStringUTFChars(env, s, NULL);
    if (!c || !(p[i] = strdup(c))) rc = fl_error(FL_ENOMEM, "cannot copy a peer address");
    if (c) (*env)->ReleaseStringUTFChars(env, s, c);
    (*env)->DeleteLocalRef(env, s);
  }
  *out = p;
  return rc;
}

static void free_peers(char **p, jint world) {
  for (jint i = 0; p && i < world; i++) free(p[i]);
  free(p);
}

/* out[0] receives the communicator of rank `rank` of `world` (see fl_comm_create); listener may
 * be 0 when world is 1. */
JFN(commCreate)
(JNIEnv *env, jclass cls, jlongArray out, jlong listener, jobjectArray peers, jbyteArray secret,
 jint rank, jint world, jint timeout_ms) {
  int rc = need(env, out, 1, "handle");
  if (rc) return rc;
  if (world < 1) return fl_error(FL_EINVAL, "rank %d of world %d: need world >= 1", rank, world);
  if ((rc = need(env, secret, 0, "secret"))) return rc;
  jsize slen = (*env)->GetArrayLength(env, secret);
  void *l = NULL;
  if (listener && (rc = acquire_obj(listener, KIND_LISTENER, &l))) return rc;
  char **p = NULL;
  uint8_t *key = malloc(slen ? (size_t)slen : 1);
  fl_comm *c = NULL;
  if (!key) rc = fl_error(FL_ENOMEM, "cannot copy the secret");
  if (!rc) rc = get_peers(env, peers, world, &p);
  if (!rc) {
    (*env)->GetByteArrayRegion(env, secret, 0, slen, (jbyte *)key);
    rc = fl_comm_create(&c, l, (const char *const *)p, key, (size_t)slen, rank, world, timeout_ms);
    explicit_bzero(key, (size_t)slen); /* the run's secret stays in no freed memory */
  }
  if (l) release_obj(l, KIND_LISTENER);
  free_peers(p, world);
  free(key);
  if (!rc && (rc = add_live(c, KIND_COMM))) fl_comm_free(c);
  if (rc) return rc;
  jlong v = (jlong)(intptr_t)c;
  (*env)->SetLongArrayRegion(env, out, 0, 1, &v);
  return FL_OK;
}

/* Shuts the connections (see fl_comm_close); safe while another thread is in a call on it. */
JFN(commClose)(JNIEnv *env, jclass cls, jlong h) {
  pthread_mutex_lock(&live_lock); /* held so that no free runs meanwhile */
  int i = find_live(h, KIND_COMM), rc = i < 0 ? stale(h, KIND_COMM) : FL_OK;
  if (!rc) fl_comm_close(live[i].p);
  pthread_mutex_unlock(&live_lock);
  return rc;
}

/* 0 is a no-op; a handle that is not live, or in a call, is FL_ESTATE. */
JFN(commFree)(JNIEnv *env, jclass cls, jlong h) {
  void *c;
  int rc = take_live(h, KIND_COMM, &c);
  fl_comm_free(c);
  return rc;
}

/* The connections refused while the ring was made, or NULL (and lastError) for a bad handle. */
JNIEXPORT jstring JNICALL Java_flashlm_jni_Native_commNotes0(JNIEnv *env, jclass cls, jlong h) {
  void *c;
  if (acquire_obj(h, KIND_COMM, &c)) return NULL;
  jstring s = (*env)->NewStringUTF(env, fl_comm_notes(c));
  release_obj(c, KIND_COMM);
  return s;
}

JFN(commAllreduceSum0)(JNIEnv *env, jclass cls, jlong h, jobject x, jlong offset, jlong count) {
  float *xp = floats(env, x, offset, count, "buffer");
  if (!xp) return FL_EINVAL;
  void *c;
  int rc = acquire_obj(h, KIND_COMM, &c);
  if (rc) return rc;
  rc = fl_comm_allreduce_sum(c, xp, (size_t)count);
  release_obj(c, KIND_COMM);
  return rc;
}

/* The elements of a double[] or long[] (8 bytes each) reduced with op over ranks, in place. */
static int allreduce8(JNIEnv *env, jlong h, jarray x, int dtype, jint op) {
  int rc = need(env, x, 0, "values");
  if (rc) return rc;
  jsize n = (*env)->GetArrayLength(env, x);
  uint64_t *buf = malloc(n ? (size_t)n * 8 : 8);
  if (!buf) return fl_error(FL_ENOMEM, "cannot copy %d values", (int)n);
  if (dtype == FL_DT_F64)
    (*env)->GetDoubleArrayRegion(env, x, 0, n, (jdouble *)buf);
  else
    (*env)->GetLongArrayRegion(env, x, 0, n, (jlong *)buf);
  void *c;
  if (!(rc = acquire_obj(h, KIND_COMM, &c))) {
    rc = fl_comm_allreduce(c, buf, dtype, op, (size_t)n);
    release_obj(c, KIND_COMM);
  }
  if (!rc && dtype == FL_DT_F64)
    (*env)->SetDoubleArrayRegion(env, x, 0, n, (jdouble *)buf);
  else if (!rc)
    (*env)->SetLongArrayRegion(env, x, 0, n, (jlong *)buf);
  free(buf);
  return rc;
}

JFN(commAllreduceDoubles)(JNIEnv *env, jclass cls, jlong h, jdoubleArray x, jint op) {
  return allreduce8(env, h, x, FL_DT_F64, op);
}

JFN(commAllreduceLongs)(JNIEnv *env, jclass cls, jlong h, jlongArray x, jint op) {
  return allreduce8(env, h, x, FL_DT_I64, op);
}

/* x (all of it) on every rank = root's x. */
JFN(commBroadcast)(JNIEnv *env, jclass cls, jlong h, jbyteArray x, jint root) {
  int rc = need(env, x, 0, "bytes");
  if (rc) return rc;
  jsize n = (*env)->GetArrayLength(env, x);
  jbyte *buf = malloc(n ? (size_t)n : 1);
  if (!buf) return fl_error(FL_ENOMEM, "cannot copy %d bytes", (int)n);
  (*env)->GetByteArrayRegion(env, x, 0, n, buf);
  void *c;
  if (!(rc = acquire_obj(h, KIND_COMM, &c))) {
    rc = fl_comm_broadcast(c, buf, (size_t)n, root);
    release_obj(c, KIND_COMM);
  }
  if (!rc) (*env)->SetByteArrayRegion(env, x, 0, n, buf);
  free(buf);
  return rc;
}

JFN(commBarrier)(JNIEnv *env, jclass cls, jlong h) {
  void *c;
  int rc = acquire_obj(h, KIND_COMM, &c);
  if (rc) return rc;
  rc = fl_comm_barrier(c);
  release_obj(c, KIND_COMM);
  return rc;
}

/* ---- inference (flashlm.h, "inference"): packed weights and the KV-cache decoder ----------
 * A model spec crosses as ints {arch, vocab, d, n_layers, n_heads, ffn, seq_len, ternary,
 * learnable_alpha} and doubles {rope_theta, norm_eps}. */
static int spec_from(JNIEnv *env, jintArray ints, jdoubleArray doubles, fl_spec *s) {
  int rc = need(env, ints, 9, "spec");
  if (rc || (rc = need(env, doubles, 2, "spec"))) return rc;
  jint i[9];
  jdouble d[2];
  (*env)->GetIntArrayRegion(env, ints, 0, 9, i);
  (*env)->GetDoubleArrayRegion(env, doubles, 0, 2, d);
  *s = (fl_spec){.arch = i[0],
                 .vocab = i[1],
                 .d = i[2],
                 .n_layers = i[3],
                 .n_heads = i[4],
                 .ffn = i[5],
                 .seq_len = i[6],
                 .ternary = i[7] != 0,
                 .learnable_alpha = i[8] != 0,
                 .rope_theta = d[0],
                 .norm_eps = d[1]};
  return FL_OK;
}

/* The bytes of a direct ByteBuffer and its capacity, or NULL with the error set. */
/* The elements of a byte[], pinned (GetPrimitiveArrayCritical: no JNI call until
 * unpin_bytes); NULL with the error set for a null array. */
static void *pin_bytes(JNIEnv *env, jbyteArray a, size_t *len, const char *what) {
  if (!a) {
    fl_error(FL_EINVAL, "%s is null", what);
    return NULL;
  }
  *len = (size_t)(*env)->GetArrayLength(env, a);
  void *p = (*env)->GetPrimitiveArrayCritical(env, a, NULL);
  if (!p) fl_error(FL_ENOMEM, "%s: cannot pin the array", what);
  return p;
}

/* Unpins; written: copy back the changes (a JVM may have handed out a copy). */
static void unpin_bytes(JNIEnv *env, jbyteArray a, void *p, int written) {
  (*env)->ReleasePrimitiveArrayCritical(env, a, p, written ? 0 : JNI_ABORT);
}

JFN(packedBytes)
(JNIEnv *env, jclass cls, jintArray ints, jdoubleArray doubles, jint emb, jlongArray out) {
  fl_spec s;
  int rc = need(env, out, 1, "output");
  if (rc || (rc = spec_from(env, ints, doubles, &s))) return rc;
  jlong n = (jlong)fl_packed_bytes(&s, emb);
  if (n == 0) return fl_last_error()[0] ? FL_EINVAL : fl_error(FL_ENOMEM, "cannot size the model");
  (*env)->SetLongArrayRegion(env, out, 0, 1, &n);
  return FL_OK;
}

JFN(packFromParams0)
(JNIEnv *env, jclass cls, jintArray ints, jdoubleArray doubles, jint emb, jobject params,
 jlong count, jbyteArray out) {
  fl_spec s;
  size_t len;
  int rc = spec_from(env, ints, doubles, &s);
  if (rc) return rc;
  float *p = floats(env, params, 0, count, "params");
  if (!p) return FL_EINVAL;
  void *o = pin_bytes(env, out, &len, "packed weights");
  if (!o) return out ? FL_ENOMEM : FL_EINVAL;
  rc = fl_packed_from_params(o, len, &s, emb, p, (size_t)count);
  unpin_bytes(env, out, o, 1);
  return rc;
}

JFN(inferCreate)
(JNIEnv *env, jclass cls, jlongArray out, jintArray ints, jdoubleArray doubles, jint emb,
 jbyteArray packed) {
  fl_spec s;
  size_t len;
  fl_infer *m = NULL;
  int rc = need(env, out, 1, "handle");
  if (rc || (rc = spec_from(env, ints, doubles, &s))) return rc;
  void *p = pin_bytes(env, packed, &len, "packed weights");
  if (!p) return packed ? FL_ENOMEM : FL_EINVAL;
  rc = fl_infer_create(&m, &s, emb, p, len); /* copies the weights */
  unpin_bytes(env, packed, p, 0);
  if (rc) return rc;
  if ((rc = add_live(m, KIND_INFER))) {
    fl_infer_free(m);
    return rc;
  }
  jlong h = (jlong)(intptr_t)m;
  (*env)->SetLongArrayRegion(env, out, 0, 1, &h);
  return FL_OK;
}

JFN(inferFree)(JNIEnv *env, jclass cls, jlong h) {
  void *m;
  int rc = take_live(h, KIND_INFER, &m);
  fl_infer_free(m);
  return rc;
}

JFN(inferPosition)(JNIEnv *env, jclass cls, jlong h, jintArray out) {
  void *m;
  int rc = need(env, out, 1, "output");
  if (rc || (rc = acquire_obj(h, KIND_INFER, &m))) return rc;
  jint pos = fl_infer_position(m);
  (*env)->SetIntArrayRegion(env, out, 0, 1, &pos);
  release_obj(m, KIND_INFER);
  return FL_OK;
}

JFN(inferReset)(JNIEnv *env, jclass cls, jlong h) {
  void *m;
  int rc = acquire_obj(h, KIND_INFER, &m);
  if (rc) return rc;
  fl_infer_reset(m);
  release_obj(m, KIND_INFER);
  return FL_OK;
}

/* Appends tokens[0 .. n-1]; logits (vocab) of the last one unless logits is null. */
JFN(inferForward)(JNIEnv *env, jclass cls, jlong h, jintArray tokens, jint n, jfloatArray logits) {
  void *mv;
  int *tok = NULL, rc = n > 0 ? FL_OK : fl_error(FL_EINVAL, "%d tokens: need at least 1", n);
  if (rc || (rc = acquire_obj(h, KIND_INFER, &mv))) return rc;
  fl_infer *m = mv;
  int V = fl_infer_spec(m)->vocab;
  float *out = NULL;
  if (logits && !(rc = need(env, logits, V, "logits")) && !(out = malloc(sizeof(float) * V)))
    rc = fl_error(FL_ENOMEM, "cannot allocate %d logits", V);
  if (!rc && !(rc = copy_ints(env, tokens, n, &tok))) rc = fl_infer_forward(m, tok, n, out);
  if (!rc && out) (*env)->SetFloatArrayRegion(env, logits, 0, V, out);
  free(tok);
  free(out);
  release_obj(m, KIND_INFER);
  return rc;
}

/* out[0] = the summed NLL of positions [from, n) of the window tokens[0 .. n] (n + 1 ids). */
JFN(inferScore)
(JNIEnv *env, jclass cls, jlong h, jintArray tokens, jint n, jint from, jdoubleArray out) {
  void *m;
  int *tok = NULL, rc = n > 0 ? need(env, out, 1, "output") : fl_error(FL_EINVAL, "empty window");
  if (rc || (rc = acquire_obj(h, KIND_INFER, &m))) return rc;
  double nll = 0;
  if (!(rc = copy_ints(env, tokens, (jlong)n + 1, &tok)))
    rc = fl_infer_score(m, tok, n, from, &nll);
  if (!rc) (*env)->SetDoubleArrayRegion(env, out, 0, 1, &nll);
  free(tok);
  release_obj(m, KIND_INFER);
  return rc;
}

/* ---- optional libraries (NCCL, HCCL): whether the dynamic loader can load one, by the same
 * search a backend would use (dlopen: LD_LIBRARY_PATH, the loader cache, the default paths).
 * FL_EINVAL with the loader's message when it cannot; unloaded again either way. */
JFN(libraryProbe)(JNIEnv *env, jclass cls, jstring name) {
  if (!name) return fl_error(FL_EINVAL, "library name is null");
  const char *n = (*env)->GetStringUTFChars(env, name, NULL);
  if (!n) return fl_error(FL_ENOMEM, "cannot read the library name");
  void *h = dlopen(n, RTLD_LAZY | RTLD_LOCAL);
  int rc = h ? FL_OK : fl_error(FL_EINVAL, "%s", dlerror());
  if (h) dlclose(h);
  (*env)->ReleaseStringUTFChars(env, name, n);
  return rc;
}

/* ---- thread pinning (one rank of a data-parallel run on its NUMA node's cpus) ---- */
JFN(pinThreads)(JNIEnv *env, jclass cls, jintArray cpus) {
  if (!cpus) return fl_error(FL_EINVAL, "pin threads: the cpu array is null");
  jsize n = (*env)->GetArrayLength(env, cpus);
  int *c = NULL;
  int rc = copy_ints(env, cpus, n, &c);
  if (rc) return rc;
  rc = fl_pin_threads(c, (int)n);
  free(c);
  return rc;
}
