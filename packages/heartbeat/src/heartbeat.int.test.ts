// Lease renewal against the testkit API server simulator over real HTTPS.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createFakeClock, createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import { type ApiServer, advanceFakeClock, startApiServer, waitFor } from "@kubenode/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Lease } from "./lease.js";
import { createLeaseController, type LeaseController } from "./lease-controller.js";
import { createLeaseFleet, type LeaseFleet } from "./lease-fleet.js";

let server: ApiServer;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await server.stop();
});

async function clientFor(identity: string): Promise<KubeClient> {
  const path = identity === "admin" ? server.kubeconfigPath : await server.kubeconfigFor(identity);
  const client = createKubeClient(loadKubeConfig({ path }));
  cleanups.push(() => client.close());
  return client;
}

function controllerFor(
  client: KubeClient,
  nodeName: string,
  clock = createFakeClock(),
): { c: LeaseController; clock: typeof clock } {
  const c = createLeaseController({ client, nodeName, clock, random: () => 0 });
  cleanups.push(() => c.stop());
  return { c, clock };
}

const leaseCalls = (name?: string) =>
  server.requests.filter(
    (r) => r.resource === "leases" && (name === undefined || r.name === name || r.verb === "create"),
  );

// Async: the simulator runs in this process, so a blocking child would deadlock it.
const kubectl = async (...args: string[]) =>
  (
    await promisify(execFile)("kubectl", ["--kubeconfig", server.kubeconfigPath, ...args], {
      encoding: "utf8",
    })
  ).stdout;

describe("lease controller against the API server", () => {
  it("creates the lease and renews it every 10 s from its cache, with an ownerReference to the Node", async () => {
    const admin = await clientFor("admin");
    const node = await admin.request<{ metadata: { uid: string } }>({
      method: "POST",
      path: "/api/v1/nodes",
      body: { apiVersion: "v1", kind: "Node", metadata: { name: "node-a" } },
    });
    const { c, clock } = controllerFor(await clientFor("system:node:node-a"), "node-a");
    c.start();
    await advanceFakeClock(clock, 0);
    await advanceFakeClock(clock, 60_000);
    expect(leaseCalls("node-a").map((r) => `${r.verb}:${r.code}`)).toEqual([
      "get:404",
      "create:201",
      ...Array(6).fill("update:200"),
    ]);
    const lease = JSON.parse(
      await kubectl("get", "lease", "-n", "kube-node-lease", "node-a", "-o", "json"),
    ) as Lease;
    expect(lease.spec).toMatchObject({ holderIdentity: "node-a", leaseDurationSeconds: 40 });
    expect(lease.spec.renewTime).toBe(new Date(clock.now()).toISOString().replace(/Z$/, "000Z"));
    expect(lease.metadata.ownerReferences).toEqual([
      { apiVersion: "v1", kind: "Node", name: "node-a", uid: node.metadata.uid },
    ]);
    expect(c.health()).toMatchObject({ consecutiveFailures: 0, renewals: 7 });
  });

  it("re-reads the lease after injected 409 Conflicts and still renews", async () => {
    const { c, clock } = controllerFor(await clientFor("system:node:node-a"), "node-a");
    c.start();
    await advanceFakeClock(clock, 0);
    server.requests.length = 0;
    server.injectFault({ verb: "update", resource: "leases", status: 409, times: 2 });
    await advanceFakeClock(clock, 10_000);
    expect(leaseCalls().map((r) => `${r.verb}:${r.code}`)).toEqual([
      "update:409",
      "get:200",
      "update:409",
      "get:200",
      "update:200",
    ]);
    expect(c.health()).toMatchObject({ consecutiveFailures: 0, renewals: 2 });
  });

  it("survives the API server being down for 60 s: backs off, then renews again", async () => {
    const { c, clock } = controllerFor(await clientFor("system:node:node-a"), "node-a");
    c.start();
    await advanceFakeClock(clock, 0);
    await server.suspend();
    await advanceFakeClock(clock, 60_000);
    const down = c.health();
    expect(down.lastError?.code).toBe("Network");
    // 200 ms doubling to 7 s over a minute is about a dozen attempts, not a hot loop.
    expect(down.consecutiveFailures).toBeGreaterThanOrEqual(8);
    expect(down.consecutiveFailures).toBeLessThanOrEqual(25);
    await server.resume();
    server.requests.length = 0;
    await advanceFakeClock(clock, 7_000);
    expect(c.health()).toMatchObject({ consecutiveFailures: 0, lastError: undefined });
    const lease = JSON.parse(
      await kubectl("get", "lease", "-n", "kube-node-lease", "node-a", "-o", "json"),
    ) as Lease;
    expect(Date.parse(lease.spec.renewTime!)).toBeGreaterThanOrEqual(clock.now() - 7_000);
  });

  it("NodeRestriction: node-a's identity cannot create or update node-b's lease", async () => {
    const nodeA = await clientFor("system:node:node-a");
    const { c, clock } = controllerFor(nodeA, "node-b");
    c.start();
    await advanceFakeClock(clock, 1_000);
    expect(c.health().lastError?.code).toBe("Forbidden");
    // Upstream NodeRestriction's words (plugin/pkg/admission/noderestriction): the lease must be the node's own.
    expect(c.health().lastError?.message).toMatch(
      /can only access node lease with the same name as the requesting node/,
    );
    expect(await kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name")).not.toContain("node-b");

    // node-b's own lease exists; node-a still may not write it.
    const { c: cb, clock: clockB } = controllerFor(await clientFor("system:node:node-b"), "node-b");
    cb.start();
    await advanceFakeClock(clockB, 0);
    const lease = JSON.parse(
      await kubectl("get", "lease", "-n", "kube-node-lease", "node-b", "-o", "json"),
    ) as Lease;
    const err = await nodeA
      .request({
        method: "PUT",
        path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-b",
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "node-a" } },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "Forbidden", httpStatus: 403 });
  });
});

describe("lease fleet against the API server", () => {
  it("keeps 200 simulated nodes fresh with spread renewals", async () => {
    const admin = await clientFor("admin");
    const clock = createFakeClock();
    const names = Array.from({ length: 200 }, (_, i) => `sim-${i}`);
    const fleet: LeaseFleet = createLeaseFleet({
      client: admin,
      nodeNames: names,
      clock,
      concurrency: 16,
      ownerReference: false,
      random: () => 0,
    });
    cleanups.push(() => fleet.stop());
    fleet.start();
    const settle = () =>
      waitFor(
        "fleet idle",
        () => (fleet.summary().inFlight === 0 && fleet.summary().backlog === 0 ? true : undefined),
        { intervalMs: 5, timeoutMs: 10_000 },
      );
    for (let t = 0; t < 50; t++) {
      await settle();
      await clock.step(1_000);
    }
    await settle();
    expect(fleet.summary()).toMatchObject({ nodes: 200, fresh: 200, failing: 0 });
    const listed = (await kubectl("get", "leases", "-n", "kube-node-lease", "--no-headers"))
      .trim()
      .split("\n");
    expect(listed).toHaveLength(200);
    const updates = new Map<string, number>();
    for (const r of server.requests)
      if (r.resource === "leases" && r.verb === "update") updates.set(r.name, (updates.get(r.name) ?? 0) + 1);
    // 50 s: created in the first 10 s (spread), then renewed every 10 s.
    expect(updates.size).toBe(200);
    expect([...updates.values()].every((n) => n >= 4 && n <= 5)).toBe(true);
    const creates = server.requests.filter((r) => r.resource === "leases" && r.verb === "create");
    expect(creates).toHaveLength(200);
  });
});
