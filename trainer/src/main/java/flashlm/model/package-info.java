/**
 * Models over one flat parameter buffer: {@link flashlm.model.ModelSpec} (the architecture),
 * {@link flashlm.model.ParamLayout} (named views into the flat parameter and gradient buffers,
 * the same layout the C model uses), {@link flashlm.model.TrainableModel} (what the training
 * loop calls: forward and backward into the flat gradient), {@link flashlm.model.Init} (seeded
 * initialisation) and {@link flashlm.model.NativeModel} (the C model through {@code jni}).
 */
package flashlm.model;
