package flashlm.tests;

import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import org.apache.spark.sql.SparkSession;

/**
 * A real S3 API server on loopback for tests: S3Proxy in process over an in-memory blob store,
 * with AWS signatures checked against fixed test credentials. {@link #shared()} is one server per
 * test JVM with {@link #BUCKET} created; {@link #configure} points Hadoop's S3A at it for one
 * bucket (per-bucket keys, so other buckets and filesystems are untouched).
 *
 * <pre>
 * S3ProxyServer s3 = S3ProxyServer.shared();
 * s3.configure(spark);                      // s3a://flashlm-test/... now reaches the server
 * String root = s3.uri("my-test/dataset");  // s3a://flashlm-test/my-test/dataset
 * </pre>
 */
public final class S3ProxyServer implements AutoCloseable {
  /** The bucket {@link #shared()} creates. */
  public static final String BUCKET = "flashlm-test";
  public static final String ACCESS_KEY = "flashlm-access";
  public static final String SECRET_KEY = "flashlm-secret";
  private static S3ProxyServer shared;

  private final S3Proxy proxy;
  private final BlobStore store;

  private S3ProxyServer(S3Proxy proxy, BlobStore store) {
    this.proxy = proxy;
    this.store = store;
  }

  /** Starts a server on a free loopback port with {@code buckets} created. */
  public static S3ProxyServer start(String... buckets) throws Exception {
    BlobStore store = new TransientNio2BlobStore();
    S3Proxy proxy = S3Proxy.builder()
        .blobStore(store)
        .endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
        .build();
    proxy.start();
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!"STARTED".equals(proxy.getState())) {
      if (System.nanoTime() > deadline) {
        proxy.stop();
        throw new IllegalStateException("S3Proxy did not start: " + proxy.getState());
      }
      Thread.sleep(10);
    }
    S3ProxyServer server = new S3ProxyServer(proxy, store);
    for (String b : buckets) {
      server.createBucket(b);
    }
    return server;
  }

  /** One server per JVM with {@link #BUCKET}, stopped when the JVM exits. */
  public static synchronized S3ProxyServer shared() {
    if (shared == null) {
      try {
        shared = start(BUCKET);
      } catch (Exception e) {
        throw new IllegalStateException("cannot start S3Proxy: " + e.getMessage(), e);
      }
      S3ProxyServer s = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(s::close, "s3proxy-stop"));
    }
    return shared;
  }

  /** Creates a bucket. */
  public void createBucket(String bucket) {
    store.createContainer(bucket);
  }

  /** The server's URL, {@code http://127.0.0.1:PORT}. */
  public String endpoint() {
    return "http://127.0.0.1:" + proxy.getPort();
  }

  /** {@code s3a://BUCKET/key} in the shared bucket. */
  public String uri(String key) {
    return "s3a://" + BUCKET + "/" + key;
  }

  /**
   * The Hadoop settings that send S3A requests for {@code bucket} here: path-style addressing,
   * plain HTTP, the test credentials, a fixed region (the SDK wants one).
   */
  public Map<String, String> hadoopConf(String bucket) {
    String p = "fs.s3a.bucket." + bucket + ".";
    Map<String, String> m = new LinkedHashMap<>();
    m.put(p + "endpoint", endpoint());
    m.put(p + "endpoint.region", "us-east-1");
    m.put(p + "path.style.access", "true");
    m.put(p + "connection.ssl.enabled", "false");
    m.put(p + "aws.credentials.provider",
        "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    m.put(p + "access.key", ACCESS_KEY);
    m.put(p + "secret.key", SECRET_KEY);
    m.put(p + "attempts.maximum", "2");
    m.put(p + "retry.limit", "2");
    return m;
  }

  /** Applies {@link #hadoopConf} for {@code bucket} to {@code conf}. */
  public void configure(Configuration conf, String bucket) {
    hadoopConf(bucket).forEach(conf::set);
  }

  /** Points {@code spark}'s Hadoop configuration (driver and tasks) at this server for BUCKET. */
  public void configure(SparkSession spark) {
    configure(spark.sparkContext().hadoopConfiguration(), BUCKET);
  }

  /** The same settings as {@code spark.hadoop.*} keys, for a spark-submit line or a builder. */
  public Map<String, String> sparkConf(String bucket) {
    Map<String, String> m = new LinkedHashMap<>();
    hadoopConf(bucket).forEach((k, v) -> m.put("spark.hadoop." + k, v));
    return m;
  }

  @Override
  public void close() {
    try {
      proxy.stop();
    } catch (Exception e) {
      throw new IllegalStateException("cannot stop S3Proxy", e);
    }
  }
}
