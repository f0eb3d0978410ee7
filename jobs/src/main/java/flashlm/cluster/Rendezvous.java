package flashlm.cluster;

import java.util.List;

/**
 * How ranks exchange their listening addresses: every rank's message, in rank order. In a
 * barrier task it is {@code BarrierTaskContext.allGather}.
 */
@FunctionalInterface
interface Rendezvous {
  List<String> allGather(String message);
}
