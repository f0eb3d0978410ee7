package flashlm.jobs;

/**
 * What every command shares: a name, a usage line, a default config, and its own class as the
 * {@code spark-submit --class} (each command class has a {@code main}).
 */
abstract class BaseCommand implements Command {
  private final String name;
  private final String summary;
  private final String defaultConf;
  private final boolean usesSpark;

  BaseCommand(String name, String summary, String defaultConf, boolean usesSpark) {
    this.name = name;
    this.summary = summary;
    this.defaultConf = defaultConf;
    this.usesSpark = usesSpark;
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final String summary() {
    return summary;
  }

  @Override
  public final String mainClass() {
    return getClass().getName();
  }

  @Override
  public final String defaultConf() {
    return defaultConf;
  }

  @Override
  public final boolean usesSpark() {
    return usesSpark;
  }
}
