package flashlm.jobs;

import flashlm.config.ConfigException;
import flashlm.jobs.CommandLine.UsageException;
import java.io.PrintStream;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/flashlm <command> [--conf FILE] [--set key=value ...] [--print-submit]}: runs a job
 * on embedded Spark ({@code local[*]}) or prints the {@code spark-submit} line that runs the same
 * job on a cluster.
 */
public final class Launcher {
  private Launcher() {}

  public static void main(String[] args) {
    System.exit(run(null, args, System.out, System.err));
  }

  /**
   * The entry point of the {@code *Job} classes under {@code spark-submit}: runs {@code command}
   * and throws on failure so that spark-submit reports it (no {@code System.exit} in a driver).
   */
  static void runJob(String command, String[] args) throws Exception {
    CommandLine cl = CommandLine.parse(command, args);
    Command c = Commands.find(cl.command());
    execute(c, cl);
  }

  /** Runs one invocation and returns the process exit status (0 ok, 1 failed, 2 usage). */
  static int run(String command, String[] args, PrintStream out, PrintStream err) {
    CommandLine cl;
    try {
      cl = CommandLine.parse(command, args);
      if (cl.command() == null || cl.command().equals("help")) {
        Commands.usage(out);
        return cl.command() == null && !cl.help() ? 2 : 0;
      }
      Command c = Commands.find(cl.command());
      if (cl.help()) {
        Commands.usage(c, out);
        return 0;
      }
      if (cl.printSubmit()) {
        out.println(SubmitLine.of(c, cl));
        return 0;
      }
      execute(c, cl);
      return 0;
    } catch (UsageException e) {
      err.println("flashlm: " + e.getMessage());
      err.println("Run 'bin/flashlm help' for the commands and options.");
      return 2;
    } catch (ConfigException e) {
      err.println("flashlm: config error: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      err.println("flashlm: " + (command != null ? command : args.length > 0 ? args[0] : "")
          + " failed: " + e);
      e.printStackTrace(err);
      return 1;
    }
  }

  private static void execute(Command c, CommandLine cl) throws Exception {
    if (!c.usesSpark()) {
      c.run(cl, null);
      return;
    }
    // Stop only a session this call created on embedded Spark; never one that spark-submit or a
    // test harness owns.
    boolean embedded = !SparkSessions.masterChosen() && SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = SparkSessions.getOrCreate("flashlm-" + c.name(), cl.master());
    try {
      c.run(cl, spark);
    } finally {
      if (embedded) {
        spark.stop();
      }
    }
  }
}
