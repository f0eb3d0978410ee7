package flashlm.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.jobs.CommandLine.UsageException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandLineTest {
  @Test
  void parsesCommandConfOverridesAndFlags() {
    CommandLine cl = CommandLine.parse(null, new String[] {
        "tokenize", "--conf", "conf/x.yaml", "--set", "a.b=1", "--set=c=2", "--print-submit"});
    assertEquals("tokenize", cl.command());
    assertEquals(Path.of("conf/x.yaml"), cl.conf());
    assertEquals(List.of("a.b=1", "c=2"), cl.overrides());
    assertTrue(cl.printSubmit());
    assertFalse(cl.resume());
  }

  @Test
  void givenCommandKeepsPositionalsAsRest() {
    CommandLine cl = CommandLine.parse("export", new String[] {"ckpt.bin", "--resume"});
    assertEquals("export", cl.command());
    assertEquals(List.of("ckpt.bin"), cl.rest());
    assertTrue(cl.resume());
    assertEquals(List.of("--resume", "ckpt.bin"), cl.jobArgs());
  }

  @Test
  void rejectsUnknownOptionAndMissingValue() {
    assertThrows(UsageException.class, () -> CommandLine.parse(null, new String[] {"x", "--nope"}));
    assertThrows(UsageException.class, () -> CommandLine.parse(null, new String[] {"x", "--conf"}));
    assertThrows(UsageException.class,
        () -> CommandLine.parse(null, new String[] {"x", "--set", "novalue"}));
  }

  @Test
  void aCommandsOwnOptionsReachItWithTheirValuesAndOthersStillFail() {
    CommandLine cl = CommandLine.parse(null, new String[] {"audit", "verify", "t", "--version",
        "3", "--retokenize=5", "--json", "--set", "sample=2"});
    assertEquals(List.of("verify", "t", "--version", "3", "--retokenize=5", "--json"), cl.rest());
    assertEquals(List.of("sample=2"), cl.overrides());
    assertThrows(UsageException.class,
        () -> CommandLine.parse(null, new String[] {"tokenize", "--json"}));
    assertThrows(UsageException.class,
        () -> CommandLine.parse(null, new String[] {"audit", "verify", "t", "--version"}));
  }

  @Test
  void auditArgumentsAreCheckedBeforeSparkStarts() {
    AuditCommand.AuditArgs a = AuditCommand.AuditArgs.parse(List.of("diff", "t", "0", "2"));
    assertEquals(2, a.longPositional(2));
    AuditCommand.AuditArgs l = AuditCommand.AuditArgs.parse(List.of("lineage", "--table", "t"));
    assertEquals("t", l.option("--table"));
    for (List<String> bad : List.<List<String>>of(List.of(), List.of("nope", "t"),
        List.of("diff", "t", "0"),
        List.of("diff", "t", "0", "x"), List.of("verify", "t", "--version", "-1"),
        List.of("history", "a", "b"))) {
      UsageException e = assertThrows(UsageException.class,
          () -> AuditCommand.AuditArgs.parse(bad), bad.toString());
      assertTrue(e.getMessage().contains("audit") || e.getMessage().contains("version"),
          e.getMessage());
    }
  }

  @Test
  void auditPrintsASubmitLineWithItsArguments() {
    CommandLine cl = CommandLine.parse(null, new String[] {"audit", "leaks", "/data/seq",
        "--against", "/data/other", "--json"});
    String line = SubmitLine.of(Commands.find("audit"), cl);
    assertTrue(line.contains("--class flashlm.jobs.AuditCommand")
        && line.contains("leaks \\\n  /data/seq \\\n  --against \\\n  /data/other"), line);
  }

  @Test
  void quotesForTheShell() {
    assertEquals("plain/path.yaml", SubmitLine.quote("plain/path.yaml"));
    assertEquals("'a b'", SubmitLine.quote("a b"));
    assertEquals("'it'\\''s'", SubmitLine.quote("it's"));
  }
}
