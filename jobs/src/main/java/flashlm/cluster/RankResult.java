package flashlm.cluster;

import flashlm.train.StopReason;
import java.io.Serializable;

/**
 * What one rank's task sends back to the driver: rank 0's is the run's result; every rank adds
 * where it ran and, with the test hook on, the digest of its averaged gradients.
 *
 * @param rank the rank
 * @param placement where it ran ({@link RankPlacement#describe})
 * @param steps updates done (over all resumes)
 * @param trainLoss loss of the last update
 * @param valLoss last validation loss, or NaN
 * @param stopReason why it stopped
 * @param checkpoint the last checkpoint written (rank 0), or null
 * @param updates optimizer updates this attempt made
 * @param digest the averaged gradients' digest ({@link RankCollective#digest})
 */
record RankResult(int rank, String placement, long steps, double trainLoss, double valLoss,
    StopReason stopReason, String checkpoint, long updates, long digest) implements Serializable {}
