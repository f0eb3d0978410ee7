/**
 * The binding to libflashlm, the C kernels and model: {@link flashlm.jni.Native} declares every
 * native method (each returns a status code; {@link flashlm.jni.Native#check} turns a failure
 * into a {@link flashlm.jni.NativeException} with the C error text), {@link
 * flashlm.jni.NativeLoader} extracts the library from the jar once and loads it, and {@link
 * flashlm.jni.NativeKernels} implements the trainer's update kernels with it. The native model
 * is {@link flashlm.model.NativeModel}.
 */
package flashlm.jni;
