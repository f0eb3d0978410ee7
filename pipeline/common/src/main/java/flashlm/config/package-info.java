/**
 * Configuration files: JSON or YAML read with Jackson into validated records.
 *
 * <p>Every job and model config of the project is a Java record whose compact constructor fills
 * defaults and validates values, throwing {@link flashlm.config.ConfigException} with the
 * offending key. {@link flashlm.config.Configs} reads a file, applies {@code --set key=value}
 * overrides, rejects unknown keys and names the file and key in every error.
 */
package flashlm.config;
