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
  void quotesForTheShell() {
    assertEquals("plain/path.yaml", SubmitLine.quote("plain/path.yaml"));
    assertEquals("'a b'", SubmitLine.quote("a b"));
    assertEquals("'it'\\''s'", SubmitLine.quote("it's"));
  }
}
