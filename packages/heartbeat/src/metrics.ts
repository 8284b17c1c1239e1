import type { LeaseHealth } from "./health.js";
import type { LeaseFleetSummary } from "./lease-fleet.js";

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * Prometheus text exposition of one or a few nodes' lease health, for a /metrics endpoint:
 * last successful renewal (Unix seconds), consecutive failures, successful renewals.
 */
export function leaseHealthMetrics(healths: LeaseHealth[]): string {
  const lines: string[] = [
    "# HELP kubenode_lease_last_renew_timestamp_seconds Time of the last successful lease write.",
    "# TYPE kubenode_lease_last_renew_timestamp_seconds gauge",
  ];
  for (const h of healths) {
    if (h.lastRenewTimeMs !== undefined) {
      lines.push(
        `kubenode_lease_last_renew_timestamp_seconds{node="${escapeLabel(h.nodeName)}"} ${h.lastRenewTimeMs / 1000}`,
      );
    }
  }
  lines.push(
    "# HELP kubenode_lease_consecutive_failures Failed lease API calls since the last success.",
    "# TYPE kubenode_lease_consecutive_failures gauge",
    ...healths.map(
      (h) =>
        `kubenode_lease_consecutive_failures{node="${escapeLabel(h.nodeName)}"} ${h.consecutiveFailures}`,
    ),
    "# HELP kubenode_lease_renewals_total Successful lease writes.",
    "# TYPE kubenode_lease_renewals_total counter",
    ...healths.map((h) => `kubenode_lease_renewals_total{node="${escapeLabel(h.nodeName)}"} ${h.renewals}`),
  );
  return `${lines.join("\n")}\n`;
}

/** Prometheus text exposition of a fleet's summary (no per-node series, which would be 10k+). */
export function leaseFleetMetrics(summary: LeaseFleetSummary): string {
  const gauge = (name: string, help: string, value: number) => [
    `# HELP kubenode_lease_fleet_${name} ${help}`,
    `# TYPE kubenode_lease_fleet_${name} gauge`,
    `kubenode_lease_fleet_${name} ${value}`,
  ];
  const counter = (name: string, help: string, value: number) => [
    `# HELP kubenode_lease_fleet_${name}_total ${help}`,
    `# TYPE kubenode_lease_fleet_${name}_total counter`,
    `kubenode_lease_fleet_${name}_total ${value}`,
  ];
  return `${[
    ...gauge("nodes", "Nodes whose leases the fleet renews.", summary.nodes),
    ...gauge("fresh_nodes", "Nodes renewed within the lease duration.", summary.fresh),
    ...gauge("failing_nodes", "Nodes whose last lease call failed.", summary.failing),
    ...gauge("in_flight", "Lease calls in flight.", summary.inFlight),
    ...gauge("backlog", "Nodes due for renewal and waiting for a free slot.", summary.backlog),
    ...counter("renewals", "Successful lease writes.", summary.renewals),
    ...counter("failures", "Failed lease calls.", summary.failures),
  ].join("\n")}\n`;
}
