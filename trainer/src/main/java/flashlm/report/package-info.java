/**
 * Run reports: {@link flashlm.report.Report} draws a run's metrics (JFreeChart PNGs and their
 * points as CSV), its evaluations and a generated sample into one self-contained HTML page
 * beside the checkpoints. Depends on {@code data} (the evals table's files, read without Spark)
 * and nothing of training.
 */
package flashlm.report;
