/**
 * Small helpers over Hadoop's {@link org.apache.hadoop.fs.FileSystem} that behave the same on a
 * local disk, HDFS and object stores ({@code s3a://}): the one atomic, durable way to publish a
 * file or a set of files ({@link flashlm.fs.AtomicFiles}), a lock file that names its owner
 * ({@link flashlm.fs.LockFile}), reading small files back, sha256 of a file, and a serializable
 * {@link org.apache.hadoop.conf.Configuration} to ship to Spark tasks.
 */
package flashlm.fs;
