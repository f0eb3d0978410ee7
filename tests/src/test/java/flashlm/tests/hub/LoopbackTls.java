package flashlm.tests.hub;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * A self-signed certificate for {@code 127.0.0.1}, made by the JDK's {@code keytool} in a test
 * folder, with the server's {@link SSLContext} and a client trust store holding only it. {@link
 * #trustInThisJvm()} makes {@code HttpsURLConnection} (which the hub client uses) trust it until
 * {@link #close()}, so a test talks real TLS to a loopback hub.
 */
final class LoopbackTls implements AutoCloseable {
  private static final char[] PASSWORD = "loopback-test".toCharArray();
  private final SSLContext server;
  private final SSLContext client;
  private SSLSocketFactory previous;

  private LoopbackTls(SSLContext server, SSLContext client) {
    this.server = server;
    this.client = client;
  }

  /** Generates the key and certificate in {@code dir}. */
  static LoopbackTls create(Path dir) throws Exception {
    Path store = dir.resolve("hub.p12");
    Files.deleteIfExists(store);
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process p = new ProcessBuilder(List.of(keytool, "-genkeypair", "-alias", "hub", "-keyalg",
        "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1",
        "-validity", "2", "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass",
        new String(PASSWORD), "-keypass", new String(PASSWORD)))
        .redirectErrorStream(true).start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("keytool failed: " + out);
    }
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keys.load(in, PASSWORD);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, PASSWORD);
    SSLContext server = SSLContext.getInstance("TLS");
    server.init(kmf.getKeyManagers(), null, null);

    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("hub", keys.getCertificate("hub"));
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext client = SSLContext.getInstance("TLS");
    client.init(null, tmf.getTrustManagers(), null);
    return new LoopbackTls(server, client);
  }

  /** The context a server presents the certificate with. */
  SSLContext server() {
    return server;
  }

  /** New https connections in this JVM trust the certificate (and nothing else) until closed. */
  LoopbackTls trustInThisJvm() {
    previous = HttpsURLConnection.getDefaultSSLSocketFactory();
    HttpsURLConnection.setDefaultSSLSocketFactory(client.getSocketFactory());
    return this;
  }

  @Override
  public void close() {
    if (previous != null) {
      HttpsURLConnection.setDefaultSSLSocketFactory(previous);
      previous = null;
    }
  }
}
