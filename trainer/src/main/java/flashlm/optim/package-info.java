/**
 * The update kernels the optimizer runs over flat buffers (AdamW, SGD with momentum, sum of
 * squares, scaling): the {@link flashlm.optim.Kernels} contract, its plain Java twin {@link
 * flashlm.optim.JavaKernels} and the native ones, {@link flashlm.optim.NativeKernels}.
 */
package flashlm.optim;
