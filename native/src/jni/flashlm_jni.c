/* The JNI binding of flashlm.jni.Native: the only file that includes jni.h. Every entry point
 * returns a status code (0 = ok, else an FL_E* code with fl_last_error() set on this thread);
 * nothing here throws, exits or prints. Java turns a non-zero code into an exception carrying
 * Native.lastError(). Model handles are fl_model pointers in a jlong. Kernel entry points take
 * direct NIO buffers (any element type; offsets and counts in floats) and check their bounds. */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>

#include "flashlm.h"

#define JFN(name) JNIEXPORT jint JNICALL Java_flashlm_jni_Native_##name
#define MODEL(h) ((fl_model *)(intptr_t)(h))

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

/* ---- model ---- */
JFN(modelCreate)(JNIEnv *env, jclass cls, jlongArray out, jint arch, jint vocab, jint d,
                 jint n_layers, jint n_heads, jint ffn, jint seq_len, jboolean ternary,
                 jboolean learnable_alpha, jdouble rope_theta, jdouble norm_eps, jint max_batch) {
  fl_spec s = {.arch = arch, .vocab = vocab, .d = d, .n_layers = n_layers, .n_heads = n_heads,
               .ffn = ffn, .seq_len = seq_len, .ternary = ternary ? 1 : 0,
               .learnable_alpha = learnable_alpha ? 1 : 0, .rope_theta = rope_theta,
               .norm_eps = norm_eps};
  if ((*env)->GetArrayLength(env, out) < 1) return fl_error(FL_EINVAL, "handle array is empty");
  fl_model *m = NULL;
  int rc = fl_model_create(&m, &s, max_batch);
  if (rc) return rc;
  jlong h = (jlong)(intptr_t)m;
  (*env)->SetLongArrayRegion(env, out, 0, 1, &h);
  return FL_OK;
}

JNIEXPORT void JNICALL Java_flashlm_jni_Native_modelFree(JNIEnv *env, jclass cls, jlong h) {
  fl_model_free(MODEL(h));
}

JNIEXPORT jlong JNICALL Java_flashlm_jni_Native_modelNumParams(JNIEnv *env, jclass cls, jlong h) {
  return (jlong)fl_model_num_params(MODEL(h));
}

/* A direct ByteBuffer over the model's parameters (grads = 0) or gradients (grads = 1). */
JNIEXPORT jobject JNICALL Java_flashlm_jni_Native_modelBuffer(JNIEnv *env, jclass cls, jlong h,
                                                               jboolean grads) {
  fl_model *m = MODEL(h);
  float *p = grads ? fl_model_grads(m) : fl_model_params(m);
  return (*env)->NewDirectByteBuffer(env, p, (jlong)(fl_model_num_params(m) * sizeof(float)));
}

JNIEXPORT jint JNICALL Java_flashlm_jni_Native_modelNumTensors(JNIEnv *env, jclass cls, jlong h) {
  return fl_model_num_tensors(MODEL(h));
}

/* Tensor i: its name, and info = {offset, ndim, shape0, shape1, decay}. */
JFN(modelTensor)(JNIEnv *env, jclass cls, jlong h, jint i, jobjectArray name, jlongArray info) {
  const char *nm;
  size_t off;
  int nd, shape[2], decay;
  int rc = fl_model_tensor(MODEL(h), i, &nm, &off, &nd, shape, &decay);
  if (rc) return rc;
  if ((*env)->GetArrayLength(env, name) < 1 || (*env)->GetArrayLength(env, info) < 5)
    return fl_error(FL_EINVAL, "tensor output arrays too short");
  jstring s = (*env)->NewStringUTF(env, nm);
  if (!s) return fl_error(FL_ENOMEM, "cannot create a Java string for tensor %d", i);
  (*env)->SetObjectArrayElement(env, name, 0, s);
  jlong v[5] = {(jlong)off, nd, shape[0], shape[1], decay};
  (*env)->SetLongArrayRegion(env, info, 0, 5, v);
  return FL_OK;
}

JNIEXPORT void JNICALL Java_flashlm_jni_Native_modelZeroGrads(JNIEnv *env, jclass cls, jlong h) {
  fl_model_zero_grads(MODEL(h));
}

/* Copies n ints of a Java array (the model may run for seconds: no critical section). */
static int *copy_ints(JNIEnv *env, jintArray a, jsize n) {
  if ((*env)->GetArrayLength(env, a) < n) {
    fl_error(FL_EINVAL, "token array holds %d ids, need %d", (int)(*env)->GetArrayLength(env, a), (int)n);
    return NULL;
  }
  int *c = malloc(sizeof(int) * (n ? n : 1));
  if (!c) {
    fl_error(FL_ENOMEM, "cannot copy %d token ids", (int)n);
    return NULL;
  }
  (*env)->GetIntArrayRegion(env, a, 0, n, (jint *)c);
  return c;
}

/* backward: 1 forward+backward, 0 loss only; loss[0] receives the mean cross-entropy. */
JFN(modelRun)(JNIEnv *env, jclass cls, jlong h, jintArray tokens, jint batch, jboolean backward,
              jfloatArray loss) {
  fl_model *m = MODEL(h);
  if (batch <= 0) return fl_error(FL_EINVAL, "batch %d must be positive", batch);
  int *tok = copy_ints(env, tokens, (jsize)batch * (fl_model_spec(m)->seq_len + 1));
  if (!tok) return FL_EINVAL;
  float l = 0.0f;
  int rc = backward ? fl_model_forward_backward(m, tok, batch, &l) : fl_model_loss(m, tok, batch, &l);
  free(tok);
  if (!rc) (*env)->SetFloatArrayRegion(env, loss, 0, 1, &l);
  return rc;
}

JFN(modelLastLogits)(JNIEnv *env, jclass cls, jlong h, jintArray tokens, jint batch, jint len,
                     jfloatArray out) {
  fl_model *m = MODEL(h);
  int V = fl_model_spec(m)->vocab;
  if (batch <= 0 || len <= 0) return fl_error(FL_EINVAL, "batch %d and len %d must be positive", batch, len);
  if ((*env)->GetArrayLength(env, out) < (jsize)batch * V)
    return fl_error(FL_EINVAL, "logits array too short: need batch*vocab = %d", batch * V);
  int *tok = copy_ints(env, tokens, (jsize)batch * len);
  if (!tok) return FL_EINVAL;
  float *logits = malloc(sizeof(float) * batch * V);
  if (!logits) {
    free(tok);
    return fl_error(FL_ENOMEM, "cannot allocate %d logits", batch * V);
  }
  int rc = fl_model_last_logits(m, tok, batch, len, logits);
  if (!rc) (*env)->SetFloatArrayRegion(env, out, 0, batch * V, logits);
  free(tok);
  free(logits);
  return rc;
}

/* ---- kernels over direct buffers ---- */
static float *floats(JNIEnv *env, jobject buf, jlong offset, jlong count, const char *what) {
  float *p = (*env)->GetDirectBufferAddress(env, buf);
  jlong cap = (*env)->GetDirectBufferCapacity(env, buf);
  if (!p || cap < 0) {
    fl_error(FL_EINVAL, "%s is not a direct buffer", what);
    return NULL;
  }
  if (offset < 0 || count < 0 || offset + count > cap) {
    fl_error(FL_EINVAL, "%s: range [%lld, %lld) outside its %lld elements", what, (long long)offset,
             (long long)(offset + count), (long long)cap);
    return NULL;
  }
  return p + offset;
}

JFN(adamw)(JNIEnv *env, jclass cls, jobject p, jobject g, jobject m, jobject v, jlong offset,
           jlong count, jfloat lr, jfloat b1, jfloat b2, jfloat eps, jfloat wd, jlong step) {
  float *pp = floats(env, p, offset, count, "params"), *gp = floats(env, g, offset, count, "grads");
  float *mp = floats(env, m, offset, count, "adam m"), *vp = floats(env, v, offset, count, "adam v");
  if (!pp || !gp || !mp || !vp) return FL_EINVAL;
  if (step < 1 || step > INT32_MAX) return fl_error(FL_EINVAL, "adamw step %lld must be >= 1", (long long)step);
  fl_adamw(pp, gp, mp, vp, (size_t)count, lr, b1, b2, eps, wd, (int)step);
  return FL_OK;
}

JFN(sgdMomentum)(JNIEnv *env, jclass cls, jobject p, jobject g, jobject buf, jlong offset,
                 jlong count, jfloat lr, jfloat mu, jfloat wd) {
  float *pp = floats(env, p, offset, count, "params"), *gp = floats(env, g, offset, count, "grads");
  float *bp = floats(env, buf, offset, count, "momentum");
  if (!pp || !gp || !bp) return FL_EINVAL;
  fl_sgd_momentum(pp, gp, bp, (size_t)count, lr, mu, wd);
  return FL_OK;
}

JFN(sumSquares)(JNIEnv *env, jclass cls, jobject x, jlong offset, jlong count, jdoubleArray out) {
  float *xp = floats(env, x, offset, count, "buffer");
  if (!xp) return FL_EINVAL;
  jdouble s = fl_sum_squares(xp, (size_t)count);
  (*env)->SetDoubleArrayRegion(env, out, 0, 1, &s);
  return FL_OK;
}

JFN(scale)(JNIEnv *env, jclass cls, jobject x, jlong offset, jlong count, jfloat factor) {
  float *xp = floats(env, x, offset, count, "buffer");
  if (!xp) return FL_EINVAL;
  fl_scale(xp, (size_t)count, factor);
  return FL_OK;
}
