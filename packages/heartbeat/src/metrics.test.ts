import { describe, expect, it } from "vitest";
import { leaseFleetMetrics, leaseHealthMetrics } from "./metrics.js";

describe("metrics", () => {
  it("exposes lease health in Prometheus text format", () => {
    const text = leaseHealthMetrics([
      {
        nodeName: "node-a",
        lastRenewTimeMs: 1_700_000_000_500,
        consecutiveFailures: 0,
        renewals: 7,
        lastError: undefined,
      },
      {
        nodeName: "node-b",
        lastRenewTimeMs: undefined,
        consecutiveFailures: 3,
        renewals: 0,
        lastError: undefined,
      },
    ]);
    expect(text).toContain('kubenode_lease_last_renew_timestamp_seconds{node="node-a"} 1.7000000005e+09\n');
    expect(text).not.toContain('kubenode_lease_last_renew_timestamp_seconds{node="node-b"}');
    expect(text).toContain('kubenode_lease_consecutive_failures{node="node-b"} 3\n');
    expect(text).toContain("# TYPE kubenode_lease_renewals_total counter\n");
  });

  it("exposes a fleet summary without per-node series", () => {
    const text = leaseFleetMetrics({
      nodes: 10,
      fresh: 9,
      failing: 1,
      renewals: 100,
      failures: 2,
      inFlight: 3,
      backlog: 0,
    });
    expect(text).toContain("kubenode_lease_fleet_fresh_nodes 9\n");
    expect(text).toContain("kubenode_lease_fleet_failures_total 2\n");
    expect(text.endsWith("\n")).toBe(true);
  });
});
