package flashlm.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train and export through the launcher, without Spark: usage, config and data errors. */
class TrainCommandsTest {
  @TempDir
  Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return Launcher.run(null, args, new PrintStream(out, true), new PrintStream(err, true));
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void listedWithoutSpark() {
    assertEquals(0, run("help"));
    assertTrue(out.toString().contains("train") && out.toString().contains("export"));
    assertTrue(!Commands.find("train").usesSpark() && !Commands.find("export").usesSpark());
  }

  @Test
  void trainNamesTheMissingTable() {
    String table = dir.resolve("no-table").toString();
    assertEquals(1, run("train", "--conf", "../conf/v7-smoke.json", "--set", "backend=reference",
        "--set", "data.table=" + table, "--set", "checkpoint.dir=" + dir.resolve("c"),
        "--set", "log.metrics=" + dir.resolve("m.jsonl")));
    assertTrue(err().contains("not a Delta table") && err().contains(table), err());
  }

  @Test
  void trainRejectsUnknownKeysAndExportNeedsACheckpoint() {
    assertEquals(2, run("train", "--conf", "../conf/v6.1.json", "--set", "optimiser.lr=1"));
    assertTrue(err().contains("unknown key 'optimiser'"), err());
    assertEquals(1, run("export", "--conf", "../conf/export.json", "--set",
        "checkpoint=" + dir.resolve("none"), "--set", "out=" + dir.resolve("hf")));
    assertTrue(err().contains("checkpoint not found"), err());
  }

  @Test
  void aDistributedRunUsesSparkOnALocalMasterWithASlotPerRank() {
    Command train = Commands.find("train");
    CommandLine two = CommandLine.parse("train", new String[] {"--conf", "../conf/v7-ts.json",
        "--set", "distributed.world_size=2"});
    assertTrue(train.usesSpark(two));
    assertEquals("local[2]", train.defaultMaster(two));
    CommandLine one = CommandLine.parse("train", new String[] {"--conf", "../conf/v7-ts.json"});
    assertTrue(!train.usesSpark(one));
    assertEquals(null, train.defaultMaster(one));
  }

  @Test
  void printSubmitOfADistributedRunIsTheSameBarrierJob() {
    assertEquals(0, run("train", "--conf", "../conf/v7-ts.json", "--set",
        "distributed.world_size=2", "--print-submit"));
    String line = out.toString(StandardCharsets.UTF_8);
    assertTrue(line.contains("--class flashlm.jobs.TrainCommand"), line);
    assertTrue(line.contains("--master 'local[2]'"), line);
    assertTrue(line.contains("--conf spark.dynamicAllocation.enabled=false"), line);
    assertTrue(line.contains("--set distributed.world_size=2"), line);
    out.reset();
    assertEquals(0, run("train", "--conf", "../conf/v7-ts.json", "--set",
        "distributed.world_size=4", "--set", "distributed.threads_per_rank=8", "--master",
        "yarn", "--print-submit"));
    line = out.toString(StandardCharsets.UTF_8);
    assertTrue(line.contains("--master yarn") && line.contains("--conf spark.task.cpus=8"), line);
  }
}
