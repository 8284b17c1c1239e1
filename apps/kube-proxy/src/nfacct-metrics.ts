// kube-proxy's nfacct-backed metrics (iptables mode): the counters are created at start, the
// rules count into those that exist, and the metrics read them when scraped, as upstream's
// pkg/proxy/metrics collectors do. A host without nfacct (tool or kernel support) loses the
// metrics and logs why; the rules and everything else work the same.
import {
  type CommandOptions,
  ensureNfacctCounters,
  KUBE_PROXY_NFACCT_COUNTERS,
  NFACCT_CT_STATE_INVALID_DROPPED,
  NFACCT_LOCALHOST_NODEPORTS_ACCEPTED,
  readNfacctCounters,
} from "@kubenode/netrules";
import type { Logger } from "./logger.js";
import type { ProxyMetrics } from "./metrics.js";

/** Upstream's metric for each counter: name and help text. */
const METRICS: Record<string, [name: string, help: string]> = {
  [NFACCT_CT_STATE_INVALID_DROPPED]: [
    "kubeproxy_iptables_ct_state_invalid_dropped_packets_total",
    "packets dropped by iptables to work around conntrack problems",
  ],
  [NFACCT_LOCALHOST_NODEPORTS_ACCEPTED]: [
    "kubeproxy_iptables_localhost_nodeports_accepted_packets_total",
    "Number of packets accepted on nodeports of loopback interface",
  ],
};

/** Creates kube-proxy's counters where missing; returns those that exist, logging the others. */
export async function ensureProxyCounters(log: Logger, options: CommandOptions = {}): Promise<string[]> {
  const { available, failed } = await ensureNfacctCounters(KUBE_PROXY_NFACCT_COUNTERS, options);
  for (const [counter, why] of failed)
    log.error(
      "Failed to create nfacct counter; the corresponding metric will not be updated",
      new Error(why),
      {
        counter,
      },
    );
  return available;
}

/**
 * Registers the metric of each available counter; the returned function refreshes them from the
 * kernel (call it before rendering a scrape). A failed read is logged and leaves the last values.
 */
export function registerNfacctMetrics(
  metrics: ProxyMetrics,
  available: readonly string[],
  log: Logger,
  options: CommandOptions = {},
): () => Promise<void> {
  const series = available.map((counter) => {
    const [name, help] = METRICS[counter]!;
    return { counter, metric: metrics.registry.counter(name, help) };
  });
  if (series.length === 0) return async () => {};
  return async () => {
    try {
      const now = await readNfacctCounters(options);
      for (const { counter, metric } of series) {
        const c = now.get(counter);
        if (c) metric.set(c.packets);
      }
    } catch (err) {
      log.error("Failed to collect nfacct counters", err);
    }
  };
}
