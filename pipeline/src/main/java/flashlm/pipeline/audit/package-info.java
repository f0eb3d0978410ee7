/**
 * Dataset version audits ({@code flashlm audit}): what every version of a documents or
 * sequences table holds and where it came from ({@link flashlm.pipeline.audit.History}), what
 * changed between two versions ({@link flashlm.pipeline.audit.Diff}), train/validation leaks
 * ({@link flashlm.pipeline.audit.Leaks}), whether a version still is what its manifest says
 * ({@link flashlm.pipeline.audit.Verify}), and which data trained a model ({@link
 * flashlm.pipeline.audit.Lineage}).
 *
 * <p>Each command is one class with a {@code run} method that returns a small report record
 * ({@link flashlm.pipeline.audit.AuditReport}): printed as terminal tables, or as JSON for tools.
 * The tables are read through {@link flashlm.pipeline.audit.AuditedTable}, which knows every
 * version's manifest and refuses a version whose data files were vacuumed, naming the oldest one
 * still readable.
 */
package flashlm.pipeline.audit;
