import { createMetricsRegistry } from "@kubenode/kube";
import type { LeaseHealth } from "./health.js";
import type { LeaseFleetSummary } from "./lease-fleet.js";

/**
 * Prometheus text exposition of one or a few nodes' lease health, for a /metrics endpoint:
 * last successful renewal (Unix seconds), consecutive failures, successful renewals.
 */
export function leaseHealthMetrics(healths: LeaseHealth[]): string {
  const r = createMetricsRegistry();
  const lastRenew = r.gauge(
    "kubenode_lease_last_renew_timestamp_seconds",
    "Time of the last successful lease write.",
    true,
  );
  const failures = r.gauge(
    "kubenode_lease_consecutive_failures",
    "Failed lease API calls since the last success.",
    true,
  );
  const renewals = r.counter("kubenode_lease_renewals_total", "Successful lease writes.", true);
  for (const h of healths) {
    const node = { node: h.nodeName };
    if (h.lastRenewTimeMs !== undefined) lastRenew.set(h.lastRenewTimeMs / 1000, node);
    failures.set(h.consecutiveFailures, node);
    renewals.set(h.renewals, node);
  }
  return r.render();
}

/** Prometheus text exposition of a fleet's summary (no per-node series, which would be 10k+). */
export function leaseFleetMetrics(summary: LeaseFleetSummary): string {
  const r = createMetricsRegistry();
  const gauge = (name: string, help: string, value: number) =>
    r.gauge(`kubenode_lease_fleet_${name}`, help).set(value);
  const counter = (name: string, help: string, value: number) =>
    r.counter(`kubenode_lease_fleet_${name}_total`, help).set(value);
  gauge("nodes", "Nodes whose leases the fleet renews.", summary.nodes);
  gauge("fresh_nodes", "Nodes renewed within the lease duration.", summary.fresh);
  gauge("failing_nodes", "Nodes whose last lease call failed.", summary.failing);
  gauge("in_flight", "Lease calls in flight.", summary.inFlight);
  gauge("backlog", "Nodes due for renewal and waiting for a free slot.", summary.backlog);
  counter("renewals", "Successful lease writes.", summary.renewals);
  counter("failures", "Failed lease calls.", summary.failures);
  return r.render();
}
