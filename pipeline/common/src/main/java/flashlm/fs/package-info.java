/**
 * Small helpers over Hadoop's {@link org.apache.hadoop.fs.FileSystem} that behave the same on a
 * local disk, HDFS and object stores ({@code s3a://}): atomic writes of small files, reading them
 * back, sha256 of a file, and a serializable {@link org.apache.hadoop.conf.Configuration} to ship
 * to Spark tasks.
 */
package flashlm.fs;
