package flashlm.pipeline.hub;

import flashlm.fs.SerializableConfiguration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;

/**
 * The Spark task body: fetches the files of one partition (one file, unless {@code parallelism}
 * caps the number of tasks) one after another and returns a small result per file.
 */
final class FetchPartition implements FlatMapFunction<Iterator<FileTask>, FileResult> {
  private static final long serialVersionUID = 1L;
  private final HubClient client;
  private final SerializableConfiguration conf;
  private final String dest;
  private final String commit;

  FetchPartition(HubClient client, SerializableConfiguration conf, String dest, String commit) {
    this.client = client;
    this.conf = conf;
    this.dest = dest;
    this.commit = commit;
  }

  @Override
  public Iterator<FileResult> call(Iterator<FileTask> tasks) {
    FileFetcher fetcher = new FileFetcher(client, conf.get(), dest, commit);
    List<FileResult> results = new ArrayList<>();
    while (tasks.hasNext()) {
      results.add(fetcher.fetch(tasks.next()));
    }
    return results.iterator();
  }
}
