import { createFakeClock, createLogger, KubeError } from "@kubenode/kube";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeLeaseApi } from "./__tests__/fake-api.js";
import { microTime } from "./lease.js";
import { createLeaseController, type LeaseController } from "./lease-controller.js";

const running: LeaseController[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

function setup() {
  const clock = createFakeClock(Date.UTC(2026, 0, 1));
  const api = createFakeLeaseApi(clock.now);
  const controller = createLeaseController({
    client: api.client,
    nodeName: "node-a",
    clock,
    random: () => 0,
  });
  running.push(controller);
  return { clock, api, controller };
}

describe("lease controller", () => {
  it("creates the lease with kubelet defaults, then renews every 10 s from the cache without GETs", async () => {
    const { clock, api, controller } = setup();
    controller.start();
    await clock.step(0);
    const lease = api.leases.get("node-a")!;
    expect(lease.metadata.namespace).toBe("kube-node-lease");
    expect(lease.spec).toMatchObject({
      holderIdentity: "node-a",
      leaseDurationSeconds: 40,
      renewTime: "2026-01-01T00:00:00.000000Z",
    });
    expect(api.calls.map((c) => c.method)).toEqual(["GET", "GET", "POST"]); // node owner lookup, lease GET, create
    api.calls.length = 0;

    await clock.step(60_000);
    expect(api.calls.map((c) => `${c.method}@${c.atMs - Date.UTC(2026, 0, 1)}`)).toEqual([
      "GET@10000", // node lookup while the Node does not exist
      "PUT@10000",
      "GET@20000",
      "PUT@20000",
      "GET@30000",
      "PUT@30000",
      "GET@40000",
      "PUT@40000",
      "GET@50000",
      "PUT@50000",
      "GET@60000",
      "PUT@60000",
    ]);
    expect(
      api.calls.filter((c) => c.method === "GET").every((c) => c.path.startsWith("/api/v1/nodes/")),
    ).toBe(true);
    expect(api.leases.get("node-a")!.spec.renewTime).toBe(microTime(clock.now()));
    expect(controller.health()).toMatchObject({
      consecutiveFailures: 0,
      renewals: 7,
      lastRenewTimeMs: clock.now(),
    });
  });

  it("jitters the interval by at most 4%", async () => {
    const clock = createFakeClock(0);
    const api = createFakeLeaseApi(clock.now);
    const c = createLeaseController({
      client: api.client,
      nodeName: "node-j",
      clock,
      random: () => 0.999,
      ownerReference: false,
    });
    running.push(c);
    c.start();
    await clock.step(10_399);
    expect(api.calls.filter((x) => x.method === "PUT")).toHaveLength(0);
    await clock.step(1);
    expect(api.calls.filter((x) => x.method === "PUT")).toHaveLength(1);
  });

  it("sets the ownerReference once the Node exists", async () => {
    const { clock, api, controller } = setup();
    controller.start();
    await clock.step(0);
    expect(api.leases.get("node-a")!.metadata.ownerReferences).toBeUndefined();
    api.nodes.set("node-a", { metadata: { name: "node-a", uid: "1234" } });
    await clock.step(10_000);
    expect(api.leases.get("node-a")!.metadata.ownerReferences).toEqual([
      { apiVersion: "v1", kind: "Node", name: "node-a", uid: "1234" },
    ]);
    api.calls.length = 0;
    await clock.step(10_000);
    expect(api.calls.map((c) => c.method)).toEqual(["PUT"]); // no more lookups
  });

  it("re-reads the lease after a Conflict and retries the update", async () => {
    const { clock, api, controller } = setup();
    controller.start();
    await clock.step(0);
    api.touch("node-a"); // another writer
    api.calls.length = 0;
    await clock.step(10_000);
    expect(api.calls.filter((c) => c.path.includes("leases")).map((c) => c.method)).toEqual([
      "PUT",
      "GET",
      "PUT",
    ]);
    expect(controller.health().consecutiveFailures).toBe(0);
    expect(api.leases.get("node-a")!.spec.renewTime).toBe(microTime(clock.now()));
  });

  it("backs off 200 ms doubling to 7 s while the API server is down, then recovers", async () => {
    const { clock, api, controller } = setup();
    api.setDown(true);
    controller.start();
    await clock.step(0);
    const t0 = clock.now();
    await clock.step(30_000);
    const leaseGets = api.calls.filter((c) => c.path.includes("leases")).map((c) => c.atMs - t0);
    // 0, +200, +400, +800, +1600, +3200, +6400, +7000, +7000 ...
    expect(leaseGets.slice(0, 9)).toEqual([0, 200, 600, 1400, 3000, 6200, 12600, 19600, 26600]);
    expect(controller.health().consecutiveFailures).toBeGreaterThanOrEqual(9);
    expect(controller.health().lastError?.code).toBe("Network");
    api.setDown(false);
    await clock.step(7_000);
    expect(api.leases.has("node-a")).toBe(true);
    expect(controller.health()).toMatchObject({ consecutiveFailures: 0, lastError: undefined });
  });

  it("gives up after 5 failed updates, reports repeated failures, and falls back to GET + PUT", async () => {
    const clock = createFakeClock(0);
    const api = createFakeLeaseApi(clock.now);
    let repeated = 0;
    const lines: string[] = [];
    const c = createLeaseController({
      client: api.client,
      nodeName: "node-r",
      clock,
      random: () => 0,
      ownerReference: false,
      onRepeatedFailure: () => repeated++,
      logger: createLogger({ format: "json", clock, write: (l) => lines.push(l) }),
    });
    running.push(c);
    c.start();
    await clock.step(0);
    api.calls.length = 0;
    api.inject("PUT", new KubeError("ServerError", "etcdserver: request timed out"), 5);
    await clock.step(10_000);
    expect(api.calls.map((x) => x.method)).toEqual(["PUT", "PUT", "PUT", "PUT", "PUT", "GET", "PUT"]);
    expect(repeated).toBe(4);
    // Each failed PUT is one error record, as upstream's "Failed to update lease".
    expect(lines.map((l) => JSON.parse(l))).toEqual(
      Array.from({ length: 5 }, () => ({
        ts: expect.any(Number),
        msg: "Failed to update lease",
        err: "etcdserver: request timed out",
        node: "node-r",
      })),
    );
    expect(c.health()).toMatchObject({ consecutiveFailures: 0, lastRenewTimeMs: 10_000 });
  });

  it("stops cleanly and refuses bad input", async () => {
    const { clock, controller } = setup();
    controller.start();
    await clock.step(0);
    await controller.stop();
    expect(clock.pendingTimers()).toBe(0);
    const api = createFakeLeaseApi();
    expect(() => createLeaseController({ client: api.client, nodeName: "Node_A" })).toThrow(
      /not a valid node name/,
    );
    expect(() =>
      createLeaseController({ client: api.client, nodeName: "a", leaseDurationSeconds: 0 }),
    ).toThrow(/leaseDurationSeconds/);
  });
});

describe("lease cache", () => {
  it("drops managedFields from the cached lease but keeps everything else", async () => {
    const { cacheable } = await import("./lease.js");
    const lease = {
      metadata: {
        name: "n",
        namespace: "kube-node-lease",
        resourceVersion: "7",
        managedFields: [{ manager: "kubelet" }],
      },
      spec: { holderIdentity: "n" },
    };
    expect(cacheable(lease)).toEqual({
      metadata: { name: "n", namespace: "kube-node-lease", resourceVersion: "7" },
      spec: { holderIdentity: "n" },
    });
  });
});
