/**
 * The binding to libflashlm, the C kernels, model and data-parallel TCP ring: {@link
 * flashlm.jni.Native} declares every native method (each returns a status code; {@link
 * flashlm.jni.Native#check} turns a failure into a {@link flashlm.jni.NativeException} with the
 * C error text) and {@link
 * flashlm.jni.NativeLoader} extracts the library from the jar once and loads it. This package
 * depends on no other package of the trainer; the native model ({@link
 * flashlm.model.NativeModel}), the native update kernels ({@link
 * flashlm.optim.NativeKernels}) and the ring ({@link flashlm.dist.RingCollective}) are built on
 * it.
 */
package flashlm.jni;
