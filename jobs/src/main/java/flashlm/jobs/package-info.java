/**
 * Entry points: the {@code bin/flashlm} launcher (embedded Spark) and one {@code spark-submit}
 * main class per job.
 *
 * <p>Every job is a {@link flashlm.jobs.Command}; {@link flashlm.jobs.Launcher} parses {@code
 * <command> [--conf FILE] [--set key=value ...] [--print-submit]}, builds the SparkSession (local
 * unless {@code spark-submit} chose a master) and runs the command. The {@code *Job} classes are
 * what {@code spark-submit --class} names; they share the launcher's argument handling.
 */
package flashlm.jobs;
