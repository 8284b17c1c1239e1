import { createFakeClock, silentLogger } from "@kubenode/kube";
import type { EndpointSliceLike, ProxyModel, ServiceLike } from "@kubenode/netrules";
import { describe, expect, it } from "vitest";
import { createChangeTracker, TRIGGER_TIME_ANNOTATION } from "./change-tracker.js";
import type { Dataplane } from "./dataplane.js";
import { createProxyMetrics } from "./metrics.js";
import { createProxier } from "./proxier.js";
import { createProxierHealth } from "./proxier-health.js";
import { createSyncRunner } from "./sync-runner.js";

export function service(
  name: string,
  clusterIP: string,
  extra: Partial<NonNullable<ServiceLike["spec"]>> = {},
): ServiceLike {
  return {
    metadata: { namespace: "ns", name },
    spec: {
      type: "ClusterIP",
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [{ name: "http", port: 80, protocol: "TCP" }],
      ...extra,
    },
  };
}

export function slice(
  svc: string,
  ips: string[],
  opts: { node?: string; triggerMs?: number; name?: string } = {},
): EndpointSliceLike & {
  metadata: { annotations?: Record<string, string> };
} {
  return {
    metadata: {
      namespace: "ns",
      name: opts.name ?? `${svc}-abc`,
      labels: { "kubernetes.io/service-name": svc },
      ...(opts.triggerMs !== undefined
        ? { annotations: { [TRIGGER_TIME_ANNOTATION]: new Date(opts.triggerMs).toISOString() } }
        : {}),
    },
    addressType: "IPv4",
    endpoints: ips.map((ip) => ({
      addresses: [ip],
      conditions: { ready: true },
      ...(opts.node ? { nodeName: opts.node } : {}),
    })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  };
}

interface FakeCall {
  full: boolean;
  atMs: number;
  servicePorts: number;
  endpoints: number;
}

function fakeDataplane(clock: { now(): number }) {
  const calls: FakeCall[] = [];
  const state = { intact: true, failNext: 0, applyMs: 0 };
  let lastModel: ProxyModel | undefined;
  const dp: Dataplane = {
    mode: "iptables",
    async sync(model, options) {
      if (state.failNext > 0) {
        state.failNext--;
        throw new Error("iptables-restore: line 3 failed");
      }
      lastModel = model;
      // Like netrules' proxiers: a missing canary turns the sync into a full one.
      const recoveredFromFlush = !state.intact;
      const full = options.full || recoveredFromFlush;
      state.intact = true;
      calls.push({
        full,
        atMs: clock.now(),
        servicePorts: model.servicePorts.length,
        endpoints: model.servicePorts.reduce((n, sp) => n + sp.clusterEndpoints.length, 0),
      });
      return {
        full,
        recoveredFromFlush,
        lines: 10,
        changedServicePorts: model.servicePorts.length,
        ruleCounts: { nat: 7, filter: 3 },
      };
    },
    async cleanup() {},
  };
  return { dp, calls, state, last: () => lastModel };
}

function setup(options: { initialized?: boolean } = {}) {
  const clock = createFakeClock(Date.UTC(2026, 0, 1));
  const metrics = createProxyMetrics();
  const health = createProxierHealth(clock, 60_000);
  const { dp, calls, state } = fakeDataplane(clock);
  let initialized = options.initialized ?? true;
  const events: string[] = [];
  let runner: ReturnType<typeof createSyncRunner>;
  const tracker = createChangeTracker(() => {
    health.queued();
    runner.run();
  });
  const proxier = createProxier({
    nodeName: "node-a",
    tracker,
    dataplane: dp,
    clock,
    metrics,
    health,
    log: silentLogger,
    isInitialized: () => initialized,
    onEvent: (reason, message) => events.push(`${reason}: ${message}`),
  });
  runner = createSyncRunner({ clock, minIntervalMs: 1000, maxIntervalMs: 30_000, sync: proxier.sync });
  return {
    clock,
    metrics,
    health,
    calls,
    state,
    events,
    tracker,
    proxier,
    runner,
    setInitialized: (v: boolean) => {
      initialized = v;
    },
  };
}

describe("proxier", () => {
  it("does not program anything before the informers have synced", async () => {
    const t = setup({ initialized: false });
    t.runner.start();
    t.tracker.serviceUpdate(undefined, service("a", "10.96.0.10"));
    await t.clock.step(5000);
    expect(t.calls).toEqual([]);
    t.setInitialized(true);
    t.runner.run();
    await t.clock.step(1000);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]).toMatchObject({ full: true, servicePorts: 1 });
    await t.runner.stop();
  });

  it("does a full sync first, then partial syncs, batching changes within minSyncPeriod", async () => {
    const t = setup();
    t.runner.start();
    await t.clock.step(0);
    t.tracker.serviceUpdate(undefined, service("a", "10.96.0.10"));
    t.tracker.endpointSliceUpdate(undefined, slice("a", ["10.1.0.1"]));
    t.tracker.endpointSliceUpdate(slice("a", ["10.1.0.1"]), slice("a", ["10.1.0.1", "10.1.0.2"]));
    await t.clock.step(1000);
    expect(t.calls.map((c) => [c.atMs - t.calls[0]!.atMs, c.full, c.endpoints])).toEqual([
      [0, true, 0],
      [1000, false, 2],
    ]);
    expect(t.metrics.serviceChangesTotal.get()).toBe(1);
    expect(t.metrics.endpointChangesTotal.get()).toBe(2);
    expect(t.metrics.syncFullDuration.count()).toBe(1);
    expect(t.metrics.syncPartialDuration.count()).toBe(1);
    expect(t.metrics.iptablesRules.get({ table: "nat" })).toBe(7);
    await t.runner.stop();
  });

  it("runs a periodic partial sync every syncPeriod and a full one every hour", async () => {
    const t = setup();
    t.runner.start();
    await t.clock.step(0);
    await t.clock.step(3_600_000);
    const fulls = t.calls.filter((c) => c.full).length;
    expect(t.calls.length).toBe(121);
    expect(fulls).toBe(2);
    await t.runner.stop();
  });

  it("retries a failed apply with backoff as a full sync, keeping the change counts", async () => {
    const t = setup();
    t.runner.start();
    await t.clock.step(0);
    t.state.failNext = 2;
    t.tracker.serviceUpdate(undefined, service("a", "10.96.0.10"));
    await t.clock.step(1000); // fails
    expect(t.metrics.iptablesPartialRestoreFailures.get()).toBe(1);
    expect(t.metrics.serviceChangesPending.get()).toBe(1);
    await t.clock.step(1000); // retry after 1 s fails again (full)
    expect(t.metrics.iptablesRestoreFailures.get()).toBe(1);
    expect(t.calls).toHaveLength(1);
    await t.clock.step(2000); // retry after 2 s succeeds
    expect(t.calls).toHaveLength(2);
    expect(t.calls[1]).toMatchObject({ full: true, servicePorts: 1 });
    expect(t.metrics.serviceChangesTotal.get()).toBe(1);
    expect(t.events).toHaveLength(2);
    expect(t.events[0]).toContain(
      "FailedToSyncProxyRules: iptables sync failed: iptables-restore: line 3 failed",
    );
    expect(t.proxier.stats.failed).toBe(2);
    await t.runner.stop();
  });

  it("counts and logs a flushed ruleset the dataplane found and rewrote, then goes back to partial syncs", async () => {
    const t = setup();
    t.tracker.serviceUpdate(undefined, service("a", "10.96.0.10"));
    t.runner.start();
    await t.clock.step(0);
    t.state.intact = false; // someone ran iptables -F / deleted the canary
    await t.clock.step(30_000);
    expect(t.calls.map((c) => c.full)).toEqual([true, true]);
    expect(t.proxier.stats.flushesDetected).toBe(1);
    await t.clock.step(30_000);
    expect(t.calls.map((c) => c.full)).toEqual([true, true, false]);
    await t.runner.stop();
  });

  it("becomes unhealthy when queued changes are not programmed within the health timeout", async () => {
    const t = setup();
    t.runner.start();
    await t.clock.step(0);
    expect(t.health.status().healthy).toBe(true);
    t.state.failNext = 1000;
    t.tracker.serviceUpdate(undefined, service("a", "10.96.0.10"));
    await t.clock.step(59_000);
    expect(t.health.status().healthy).toBe(true);
    await t.clock.step(2_000);
    expect(t.health.status().healthy).toBe(false);
    t.state.failNext = 0;
    await t.clock.step(30_000);
    expect(t.health.status().healthy).toBe(true);
    await t.runner.stop();
  });

  it("observes network programming latency from the slice's trigger time", async () => {
    const t = setup();
    t.runner.start();
    await t.clock.step(0);
    t.tracker.serviceUpdate(undefined, service("a", "10.96.0.10"));
    t.tracker.endpointSliceUpdate(undefined, slice("a", ["10.1.0.1"], { triggerMs: t.clock.now() - 200 }));
    await t.clock.step(1000);
    expect(t.metrics.networkProgrammingDuration.count()).toBe(1);
    expect(t.metrics.registry.render()).toMatch(
      /kubeproxy_network_programming_duration_seconds_bucket\{le="1"\} 0/,
    );
    expect(t.metrics.registry.render()).toMatch(
      /kubeproxy_network_programming_duration_seconds_bucket\{le="2"\} 1/,
    );
    await t.runner.stop();
  });
});
