import { createFakeClock, type Logger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { ep, slice, svc } from "./__tests__/fixtures.js";
import type { ConntrackCleaner } from "./conntrack.js";
import { NetrulesError } from "./errors.js";
import { buildProxyModel } from "./model.js";
import { createFlushCheck, createProxierSync } from "./proxier-loop.js";

describe("createFlushCheck", () => {
  it("probes once per kube-proxy syncPeriod (30 s) by default, never before the first sync", async () => {
    const clock = createFakeClock();
    const check = createFlushCheck({ clock });
    expect(check.due(false)).toBe(false);
    expect(check.due(true)).toBe(true);
    await clock.step(29_999);
    expect(check.due(true)).toBe(false);
    await clock.step(1);
    expect(check.due(true)).toBe(true);
  });

  it("probes before every sync with an interval of 0", () => {
    const check = createFlushCheck({ flushCheckIntervalMs: 0 });
    expect([check.due(true), check.due(true)]).toEqual([true, true]);
  });

  it("probes at most once per interval, counting from the last full sync", async () => {
    const clock = createFakeClock();
    const check = createFlushCheck({ flushCheckIntervalMs: 30_000, clock });
    expect(check.due(true)).toBe(true);
    await clock.step(10_000); // 10 s
    expect(check.due(true)).toBe(false);
    await clock.step(20_000); // 30 s
    expect(check.due(true)).toBe(true);
    await clock.step(15_000); // 45 s
    check.reset();
    await clock.step(25_000); // 70 s
    expect(check.due(true)).toBe(false);
    await clock.step(5_000); // 75 s
    expect(check.due(true)).toBe(true);
  });
});

describe("createProxierSync", () => {
  const dns = (endpointIP: string) =>
    buildProxyModel({
      nodeName: "node-a",
      services: [
        svc("ns", "dns", { clusterIP: "10.96.0.10", ports: [{ name: "dns", port: 53, protocol: "UDP" }] }),
      ],
      endpointSlices: [slice("ns", "dns", [ep(endpointIP)], [{ name: "dns", port: 53, protocol: "UDP" }])],
    }).model;
  const steps = () => {
    const applied: boolean[] = [];
    return {
      applied,
      steps: {
        family: "IPv4" as const,
        rulesIntact: async () => true,
        generate: async (_m: unknown, full: boolean) => ({ full, changedServicePorts: 1, lines: 1 }),
        apply: async (r: { full: boolean }) => {
          applied.push(r.full);
        },
        invalidate() {},
      },
    };
  };
  const recorder = () => {
    const errors: { msg: string; err: unknown; fields: unknown }[] = [];
    const logger: Logger = {
      info() {},
      v() {},
      enabled: () => false,
      warn() {},
      error: (msg, err, fields) => errors.push({ msg, err, fields }),
      withName: () => logger,
    };
    return { logger, errors };
  };

  it("logs a failed conntrack cleanup and keeps the sync, as kube-proxy does", async () => {
    const { logger, errors } = recorder();
    const failing: ConntrackCleaner = {
      clear: async (filters) => {
        if (filters.length === 0) return 0;
        throw new NetrulesError("CommandNotFound", "conntrack not found on PATH");
      },
    };
    const { steps: s, applied } = steps();
    const sync = createProxierSync({ logger }, s, failing);
    await sync(dns("10.180.0.1"));
    errors.length = 0; // the service's first endpoints: flows cached before them are stale too
    // The endpoint went away: its UDP flows are stale, and deleting them fails.
    const report = await sync(dns("10.180.0.2"));
    expect(applied).toEqual([true, false]);
    expect(report).toMatchObject({ full: false, conntrackFlowsDeleted: 0 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      msg: "Failed to delete stale conntrack entries",
      fields: { ipFamily: "IPv4", filters: 1 },
    });
    expect((errors[0]!.err as NetrulesError).code).toBe("CommandNotFound");
    // The next sync is partial again: the failure did not invalidate the rules.
    expect((await sync(dns("10.180.0.2"))).full).toBe(false);
  });

  it("logs a flushed ruleset before rewriting everything", async () => {
    const order: string[] = [];
    const logger: Logger = {
      info() {},
      v() {},
      enabled: () => false,
      warn: (msg, fields) => order.push(`warn ${msg} ${JSON.stringify(fields)}`),
      error() {},
      withName: () => logger,
    };
    let intact = true;
    const sync = createProxierSync(
      { logger, flushCheckIntervalMs: 0, conntrack: false },
      {
        family: "IPv4",
        rulesIntact: async () => intact,
        generate: async (_m, full) => ({ full, changedServicePorts: 0, lines: 0 }),
        apply: async (r) => {
          order.push(`apply full=${r.full}`);
        },
        invalidate() {},
      },
    );
    await sync(dns("10.180.0.1"));
    intact = false;
    expect(await sync(dns("10.180.0.1"))).toMatchObject({ full: true, recoveredFromFlush: true });
    expect(order).toEqual([
      "apply full=true",
      'warn Proxy rules were flushed (canary missing); doing a full resync {"ipFamily":"IPv4"}',
      "apply full=true",
    ]);
  });

  it("still fails the sync when it was aborted during the cleanup", async () => {
    const { logger, errors } = recorder();
    const ac = new AbortController();
    let calls = 0;
    const aborting: ConntrackCleaner = {
      clear: async () => {
        if (calls++ === 0) return 0;
        ac.abort();
        throw new NetrulesError("Aborted", "conntrack aborted");
      },
    };
    const sync = createProxierSync({ logger }, steps().steps, aborting);
    await sync(dns("10.180.0.1"));
    await expect(sync(dns("10.180.0.2"), { signal: ac.signal })).rejects.toMatchObject({ code: "Aborted" });
    expect(errors).toEqual([]);
  });
});
