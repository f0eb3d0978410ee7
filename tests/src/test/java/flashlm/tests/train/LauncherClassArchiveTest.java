package flashlm.tests.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/flashlm's class-data archive, through the real launcher, JVM and jars: a failed run keeps
 * no class list, the first run that trains keeps one, the next writes the archive from it, the
 * one after loads the trainer's classes from it, and an archive older than the jar is dropped.
 */
class LauncherClassArchiveTest {
  private static final String WRITING = "writing a class-data archive";
  private static final long TIMEOUT_S = 300;

  @TempDir Path dir;

  private record Run(int status, String output) {}

  /** One step of conf/v7-smoke.json through bin/flashlm, archives in {@code dir/cds}. */
  private Run train(String name, Map<String, String> env, String... extra) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("../bin/flashlm", "train", "--conf",
        "../conf/v7-smoke.json"));
    List<String> overrides = new ArrayList<>(List.of("max_steps=1"));
    overrides.addAll(List.of(extra));
    for (String o : SmokeSequences.overrides(dir.resolve(name).toString(),
        dir.resolve(name + ".jsonl"), overrides.toArray(String[]::new))) {
      cmd.add("--set");
      cmd.add(o);
    }
    Path out = dir.resolve(name + ".out");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(out.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().put("FLASHLM_NO_BUILD", "1");
    pb.environment().put("FLASHLM_DRIVER_MEMORY", "1g");
    pb.environment().put("FLASHLM_CDS_DIR", dir.resolve("cds").toString());
    pb.environment().remove("FLASHLM_CDS");
    pb.environment().remove("FLASHLM_JAVA_OPTS");
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(name + " did not end within " + TIMEOUT_S + " s:\n"
          + Files.readString(out));
    }
    return new Run(p.exitValue(), Files.readString(out));
  }

  /** The names in the archive directory that end with {@code suffix}. */
  private List<String> files(String suffix) throws IOException {
    Path cds = dir.resolve("cds");
    if (!Files.isDirectory(cds)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(cds)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(suffix)).sorted()
          .toList();
    }
  }

  @Test
  void theSecondRunWritesTheArchiveAndTheThirdLoadsTheTrainerFromIt() throws Exception {
    SmokeSequences.table(); // built with Spark in this JVM, before the launcher runs

    Run failed = train("failed", Map.of(), "max_steps=many");
    assertEquals(2, failed.status(), failed.output());
    assertEquals(List.of(), files(".classlist"), "a failed run keeps no class list");

    Run first = train("first", Map.of());
    assertEquals(0, first.status(), first.output());
    assertEquals(1, files(".classlist").size(), first.output());
    assertEquals(List.of(), files(".jsa"));

    Run second = train("second", Map.of());
    assertEquals(0, second.status(), second.output());
    assertTrue(second.output().contains(WRITING), second.output());
    List<String> archives = files(".jsa");
    assertEquals(1, archives.size(), second.output());
    assertEquals(List.of(), files(".classlist"), "the list is spent once the archive is written");

    Path loads = dir.resolve("class-load.txt");
    Run third = train("third", Map.of("FLASHLM_JAVA_OPTS", "-Xlog:class+load:file=" + loads));
    assertEquals(0, third.status(), third.output());
    assertFalse(third.output().contains(WRITING), third.output());
    String log = Files.readString(loads);
    for (String c : List.of("flashlm.train.Trainer", "flashlm.data.DeltaSnapshot",
        "io.delta.kernel.Table")) {
      assertTrue(log.contains(c + " source: shared objects file"), c + " not from the archive");
    }

    // an archive older than the jar (a build since) is dropped and the classes recorded again
    Path archive = dir.resolve("cds").resolve(archives.get(0));
    Files.setLastModifiedTime(archive, FileTime.fromMillis(0));
    Run rebuilt = train("rebuilt", Map.of());
    assertEquals(0, rebuilt.status(), rebuilt.output());
    assertEquals(List.of(), files(".jsa"), rebuilt.output());
    assertEquals(1, files(".classlist").size(), rebuilt.output());

    Run off = train("off", Map.of("FLASHLM_CDS", "0"));
    assertEquals(0, off.status(), off.output());
    assertFalse(off.output().contains(WRITING), off.output());
    assertEquals(List.of(), files(".jsa"), "FLASHLM_CDS=0 writes no archive");
  }
}
