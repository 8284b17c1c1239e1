import { createFakeClock } from "@kubenode/kube";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeLeaseApi } from "./__tests__/fake-api.js";
import { createLeaseController } from "./lease-controller.js";
import { createLeaseFleet, type LeaseFleet } from "./lease-fleet.js";

const running: LeaseFleet[] = [];
afterEach(async () => {
  for (const f of running.splice(0)) await f.stop();
});

const T0 = Date.UTC(2026, 0, 1);

function setup(count: number, concurrency = 8) {
  const clock = createFakeClock(T0);
  const api = createFakeLeaseApi(clock.now);
  const names = Array.from({ length: count }, (_, i) => `sim-${i}`);
  const fleet = createLeaseFleet({
    client: api.client,
    nodeNames: names,
    clock,
    random: () => 0,
    concurrency,
    ownerReference: false,
  });
  running.push(fleet);
  return { clock, api, fleet, names };
}

describe("lease fleet", () => {
  it("creates every lease spread over one interval, then renews each every 10 s", async () => {
    const { clock, api, fleet } = setup(100);
    fleet.start();
    await clock.step(9_999);
    expect(api.leases.size).toBe(100);
    const creates = api.calls.filter((c) => c.method === "POST").map((c) => c.atMs - T0);
    expect(creates[0]).toBe(0);
    expect(creates.at(-1)).toBe(9_900); // i/N x 10 s
    expect(api.leases.get("sim-7")!.spec).toMatchObject({
      holderIdentity: "sim-7",
      leaseDurationSeconds: 40,
    });
    expect(fleet.summary()).toMatchObject({ nodes: 100, fresh: 100, failing: 0, renewals: 100 });

    api.calls.length = 0;
    await clock.step(30_000);
    const puts = api.calls.filter((c) => c.method === "PUT");
    expect(puts).toHaveLength(300);
    expect(api.calls.filter((c) => c.method === "GET")).toHaveLength(0); // cached leases
    const perNode = new Map<string, number>();
    for (const c of puts) perNode.set(c.path, (perNode.get(c.path) ?? 0) + 1);
    expect([...perNode.values()].every((n) => n === 3)).toBe(true);
    expect(fleet.health("sim-42")).toMatchObject({ renewals: 4, consecutiveFailures: 0 });
  });

  it("never has more than `concurrency` calls in flight", async () => {
    const { clock, api, fleet } = setup(50, 3);
    let inFlight = 0;
    let peak = 0;
    const inner = api.client.request.bind(api.client);
    api.client.request = async (req) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        await new Promise((r) => setImmediate(r));
        return await inner(req);
      } finally {
        inFlight--;
      }
    };
    fleet.start();
    await clock.step(0);
    fleet.add("late-node");
    await clock.step(20_000);
    expect(peak).toBeLessThanOrEqual(3);
    expect(api.leases.size).toBe(51);
  });

  it("re-reads a lease after a Conflict", async () => {
    const { clock, api, fleet } = setup(1);
    fleet.start();
    await clock.step(0);
    api.touch("sim-0");
    api.calls.length = 0;
    await clock.step(10_000);
    expect(api.calls.map((c) => c.method)).toEqual(["PUT", "GET", "PUT"]);
    expect(fleet.health("sim-0")!.consecutiveFailures).toBe(0);
  });

  it("backs off as a whole while the API server is down and catches up afterwards", async () => {
    const { clock, api, fleet } = setup(200, 16);
    fleet.start();
    await clock.step(10_000);
    api.setDown(true);
    api.calls.length = 0;
    await clock.step(60_000);
    // One process, 200 nodes, 60 s outage: a few hundred calls at most, not one storm per node.
    expect(api.calls.length).toBeLessThan(16 * 12);
    expect(fleet.summary().failing).toBeGreaterThan(0);
    api.setDown(false);
    await clock.step(20_000);
    expect(fleet.summary()).toMatchObject({ nodes: 200, fresh: 200, failing: 0 });
  });

  it("removes nodes and validates input", async () => {
    const { clock, api, fleet } = setup(2);
    fleet.start();
    await clock.step(10_000);
    expect(fleet.remove("sim-1")).toBe(true);
    expect(fleet.remove("sim-1")).toBe(false);
    api.calls.length = 0;
    await clock.step(20_000);
    expect(api.calls.every((c) => c.path.endsWith("/sim-0"))).toBe(true);
    expect(() => fleet.add("Not Valid")).toThrow(/not a valid node name/);
    expect(() => createLeaseFleet({ client: api.client, concurrency: 0 })).toThrow(/concurrency/);
  });

  it("rejects a lease duration or renew interval a kubelet would not run with, naming it", () => {
    const { client } = createFakeLeaseApi();
    expect(() => createLeaseFleet({ client, leaseDurationSeconds: 1.5 })).toThrow(
      "leaseDurationSeconds must be a positive integer, got 1.5",
    );
    expect(() => createLeaseFleet({ client, renewIntervalMs: 0 })).toThrow(
      "renewIntervalMs must be > 0, got 0",
    );
    expect(() => createLeaseController({ client, nodeName: "n1", leaseDurationSeconds: 0 })).toThrow(
      "leaseDurationSeconds must be a positive integer, got 0",
    );
  });
});
