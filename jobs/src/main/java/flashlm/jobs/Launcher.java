package flashlm.jobs;

import flashlm.config.ConfigException;
import flashlm.jobs.CommandLine.UsageException;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/flashlm <command> [--conf FILE] [--set key=value ...] [--print-submit]}: runs a job
 * on embedded Spark ({@code local[*]}) or prints the {@code spark-submit} line that runs the same
 * job on a cluster.
 */
public final class Launcher {
  /** Whether a command ran to its end without Spark in this JVM (see {@link ClassList}). */
  private static volatile boolean ranWithoutSpark;

  private Launcher() {}

  public static void main(String[] args) {
    int status = run(null, args, System.out, System.err);
    ClassList.finish(status == 0 && ranWithoutSpark);
    System.exit(status);
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

  /**
   * Runs one invocation and returns the process exit status (0 ok, 1 failed, 2 usage); the entry
   * point for embedding the launcher (tests, notebooks). {@code command} may be null (then it is
   * the first argument).
   */
  public static int run(String command, String[] args, PrintStream out, PrintStream err) {
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
          + " failed: " + describe(e));
      if (isBug(e) || "1".equals(System.getenv("FLASHLM_DEBUG"))) {
        e.printStackTrace(err);
      } else {
        err.println("(FLASHLM_DEBUG=1 prints the stack trace)");
      }
      return 1;
    }
  }

  /**
   * What went wrong, once: the message of the project's own exception in the cause chain (it
   * names the file, row or key), else of the outermost exception that is not a wrapper; not
   * Spark's wrappers, whose messages repeat the task's whole stack trace.
   */
  static String describe(Throwable e) {
    List<Throwable> chain = chain(e);
    for (Throwable t : chain) {
      if (t.getClass().getName().startsWith("flashlm.") && t.getMessage() != null) {
        return t.getMessage();
      }
    }
    for (Throwable t : chain) {
      if (!isWrapper(t)) {
        return t.getMessage() != null ? t.getMessage() : t.toString();
      }
    }
    Throwable root = chain.get(chain.size() - 1);
    return root.getMessage() != null ? root.getMessage() : root.toString();
  }

  /** Whether {@code t} only carries its cause: Spark's and the JDK's wrappers, or no text. */
  private static boolean isWrapper(Throwable t) {
    String name = t.getClass().getName();
    return t.getCause() != null && (name.startsWith("org.apache.spark.")
        || name.startsWith("scala.") || t instanceof ExecutionException
        || t instanceof InvocationTargetException || t.getMessage() == null
        || t.getMessage().equals(t.getCause().toString()));
  }

  /** Whether the innermost cause is a programming error, whose stack trace is the point. */
  static boolean isBug(Throwable e) {
    List<Throwable> chain = chain(e);
    Throwable root = chain.get(chain.size() - 1);
    return root instanceof NullPointerException || root instanceof ClassCastException
        || root instanceof IndexOutOfBoundsException || root instanceof ArithmeticException
        || root instanceof UnsupportedOperationException
        || (root instanceof Error && !(root instanceof OutOfMemoryError));
  }

  private static List<Throwable> chain(Throwable e) {
    List<Throwable> chain = new ArrayList<>();
    for (Throwable t = e; t != null && chain.size() < 32 && !chain.contains(t); t = t.getCause()) {
      chain.add(t);
    }
    return chain;
  }

  private static void execute(Command c, CommandLine cl) throws Exception {
    c.check(cl);
    if (!c.usesSpark(cl)) {
      c.run(cl, null);
      ranWithoutSpark = true;
      return;
    }
    // Stop only a session this call created on embedded Spark; never one that spark-submit or a
    // test harness owns.
    boolean embedded = !SparkSessions.masterChosen() && SparkSession.getDefaultSession().isEmpty();
    String master = cl.master() != null || SparkSessions.masterChosen() ? cl.master()
        : c.defaultMaster(cl);
    SparkSession spark = SparkSessions.getOrCreate("flashlm-" + c.name(), master);
    StageProgress.attach(spark, System.err);
    try {
      c.run(cl, spark);
    } finally {
      if (embedded) {
        spark.stop();
      }
    }
  }
}
