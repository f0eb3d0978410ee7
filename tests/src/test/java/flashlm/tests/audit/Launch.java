package flashlm.tests.audit;

import flashlm.jobs.Launcher;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** {@code bin/flashlm ...} in this JVM, on the shared session: exit status, stdout, stderr. */
record Launch(int status, String out, String err) {
  /** {@code bin/flashlm audit ARGS} with the shipped conf/audit.yaml. */
  static Launch audit(String... args) {
    String[] all = new String[args.length + 3];
    all[0] = "audit";
    all[1] = "--conf";
    all[2] = "../conf/audit.yaml";
    System.arraycopy(args, 0, all, 3, args.length);
    return run(all);
  }

  /** Runs the launcher with {@code args}, capturing what the command prints. */
  static synchronized Launch run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    int status;
    // Commands print their reports to System.out, as they do under bin/flashlm.
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      status = Launcher.run(null, args, System.out, new PrintStream(err, true,
          StandardCharsets.UTF_8));
    } finally {
      System.setOut(stdout);
    }
    Launch l = new Launch(status, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
    System.err.print(l.err());
    return l;
  }
}
