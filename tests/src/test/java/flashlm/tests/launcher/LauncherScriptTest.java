package flashlm.tests.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/flashlm's build check, on a copy of the script in a checkout of stand-ins: a fake {@code
 * mvn} that counts its calls and changes no jar (as Maven leaves the jobs jar alone when only
 * another module changed), and a fake {@code java}.
 */
class LauncherScriptTest {
  @TempDir
  Path home;

  private static void write(Path p, String text, boolean executable) throws IOException {
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
    if (executable) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
  }

  private int run(Path calls) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/flashlm").toString(), "help")
        .redirectErrorStream(true).redirectOutput(home.resolve("out.txt").toFile());
    pb.environment().put("PATH", home.resolve("fakebin") + ":/usr/bin:/bin");
    pb.environment().put("JAVA_HOME", home.resolve("fakejdk").toString());
    pb.environment().remove("FLASHLM_NO_BUILD");
    Process p = pb.start();
    p.waitFor(60, TimeUnit.SECONDS);
    assertEquals(0, p.exitValue(), Files.readString(home.resolve("out.txt")));
    return Files.exists(calls) ? Files.readAllLines(calls).size() : 0;
  }

  @Test
  void anUnchangedTreeIsBuiltOnceNotOnEveryRun() throws Exception {
    Files.createDirectories(home.resolve("bin"));
    Files.copy(Path.of("../bin/flashlm"), home.resolve("bin/flashlm"));
    Path calls = home.resolve("mvn-calls.txt");
    write(home.resolve("fakebin/mvn"), "#!/bin/sh\necho \"$*\" >> " + calls + "\n", true);
    write(home.resolve("fakejdk/bin/java"), "#!/bin/sh\nexit 0\n", true);
    write(home.resolve("pom.xml"), "<project/>\n", false);
    Path jar = home.resolve("jobs/target/flashlm-jobs-0.1.0-SNAPSHOT.jar");
    write(jar, "jar", false);
    write(home.resolve("jobs/target/classpath.txt"), "", false);
    write(home.resolve("jobs/target/classes/flashlm/jobs/build.properties"),
        String.join("\n", List.of("jvm.offline=", "jvm.opens=", "jvm.jdk21=")) + "\n", false);
    Path source = home.resolve("trainer/src/main/java/flashlm/X.java");
    write(source, "class X {}\n", false);
    Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() - 60_000));

    assertEquals(1, run(calls), "a source newer than the jar: built");
    assertEquals(1, run(calls), "nothing changed since: not built again");
    Files.writeString(source, "class X { int y; }\n", StandardCharsets.UTF_8);
    Files.setLastModifiedTime(source, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
    assertEquals(2, run(calls), "a source changed: built again");
  }
}
