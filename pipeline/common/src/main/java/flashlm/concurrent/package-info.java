/**
 * Independent calls run at once with their results in input order ({@link
 * flashlm.concurrent.Concurrently}): the trainer's storage requests and the audit's concurrent
 * Spark jobs.
 */
package flashlm.concurrent;
