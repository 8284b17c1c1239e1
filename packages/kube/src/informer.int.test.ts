// The informer and client against the testkit API server simulator over real HTTPS: outages,
// resumption, 410 relists, and interop with @kubernetes/client-node.

import { type ApiServer, startApiServer, waitFor } from "@kubenode/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { createKubeClient, type KubeClient } from "./client.js";
import { clientNodePatchOptions, toClientNodeConfig } from "./client-node.js";
import { createFakeClock } from "./clock.js";
import { KubeError } from "./errors.js";
import { createInformer, type KubeObject } from "./informer.js";
import { loadKubeConfig } from "./kubeconfig.js";
import { PatchType, strategicMergePatch } from "./patch.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// The simulator's in-process API, for changes made while the server is unreachable.
const nodesDef = (server: ApiServer) =>
  server.core.storedResources().find((r) => r.group === "" && r.plural === "nodes")!;

async function start(
  opts: { watchHistoryPerResource?: number } = {},
): Promise<{ server: ApiServer; client: KubeClient }> {
  const server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
    ...opts,
  });
  cleanups.push(() => server.stop());
  const client = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
  cleanups.push(() => client.close());
  return { server, client };
}

const until = (cond: () => boolean, what: string): Promise<true> =>
  waitFor(what, () => (cond() ? true : undefined), { timeoutMs: 10_000, intervalMs: 5 });

const node = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels },
});

async function watchNodes(client: KubeClient) {
  const clock = createFakeClock(Date.now());
  const informer = createInformer<KubeObject>({ client, path: "/api/v1/nodes", clock, random: () => 0 });
  const events: string[] = [];
  const errors: KubeError[] = [];
  informer.on("add", (o) => events.push(`add ${o.metadata?.name}`));
  informer.on("update", (o) => events.push(`update ${o.metadata?.name}`));
  informer.on("delete", (o) => events.push(`delete ${o.metadata?.name}`));
  informer.on("error", (e) => errors.push(e));
  cleanups.push(() => informer.stop());
  return { informer, clock, events, errors };
}

describe("informer against the API server", () => {
  it("catches up after a 60 s outage without losing or duplicating events", async () => {
    const { server, client } = await start();
    await client.request({ method: "POST", path: "/api/v1/nodes", body: node("n1") });
    await client.request({ method: "POST", path: "/api/v1/nodes", body: node("n2") });
    const { informer, clock, events, errors } = await watchNodes(client);
    informer.start();
    await informer.waitForSync();
    expect(events.sort()).toEqual(["add n1", "add n2"]);
    await until(
      () => server.requests.some((r) => r.verb === "watch" && r.resource === "nodes"),
      "watch open",
    );
    events.length = 0;

    await server.suspend();
    // Changes the informer cannot see while the server is unreachable.
    server.core.create(nodesDef(server), "", node("n3"));
    server.core.delete(nodesDef(server), "", "n1");
    server.core.patch(nodesDef(server), "", "n2", "merge", { metadata: { labels: { zone: "b" } } });
    // A minute of (fake) time: the informer keeps failing and backing off, without crashing.
    for (let t = 0; t < 60; t++) await clock.step(1_000);
    expect(errors.length).toBeGreaterThan(1);
    expect(errors.every((e) => e.code === "Network")).toBe(true);
    expect(errors.length).toBeLessThan(12); // 800 ms doubling towards 30 s, not a hot loop
    await server.resume();
    for (let t = 0; t < 35 && events.length < 3; t++) {
      await clock.step(1_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => events.length >= 3, "catch-up events");
    expect(events.sort()).toEqual(["add n3", "delete n1", "update n2"]);
    expect(informer.store.get("n2")?.metadata?.labels).toEqual({ zone: "b" });
    expect(informer.store.keys().sort()).toEqual(["n2", "n3"]);
  });

  it("relists on 410 when its resourceVersion fell out of the server's history", async () => {
    const { server, client } = await start({ watchHistoryPerResource: 3 });
    await client.request({ method: "POST", path: "/api/v1/nodes", body: node("keep") });
    await client.request({ method: "POST", path: "/api/v1/nodes", body: node("gone") });
    const { informer, clock, events } = await watchNodes(client);
    informer.start();
    await informer.waitForSync();
    await until(() => server.requests.some((r) => r.verb === "watch"), "watch open");
    events.length = 0;
    await server.suspend();
    for (let i = 0; i < 10; i++) server.core.create(nodesDef(server), "", node(`new-${i}`));
    server.core.delete(nodesDef(server), "", "gone");
    await server.resume();
    for (let t = 0; t < 5 && events.length < 11; t++) {
      await clock.step(1_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => events.length >= 11, "relist diff");
    expect(
      server.requests.some((r) => r.verb === "watch" && r.code === 410) ||
        server.requests.filter((r) => r.verb === "list").length >= 2,
    ).toBe(true);
    expect(events.filter((e) => e.startsWith("add new-"))).toHaveLength(10);
    expect(events).toContain("delete gone");
    expect(events).not.toContain("add keep");
  });

  it("stops without emitting anything and closes its watch", async () => {
    const { server, client } = await start();
    const { informer, events, errors } = await watchNodes(client);
    informer.start();
    await informer.waitForSync();
    await until(() => server.requests.some((r) => r.verb === "watch"), "watch open");
    await informer.stop();
    await client.request({ method: "POST", path: "/api/v1/nodes", body: node("late") });
    expect(events).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe("client and patch helpers against the API server", () => {
  it("sends strategic merge patches to the status subresource and types errors", async () => {
    const { server, client } = await start();
    await client.request({ method: "POST", path: "/api/v1/nodes", body: node("p1") });
    const patched = await strategicMergePatch<{ status: { capacity: Record<string, string> } }>(
      client,
      "/api/v1/nodes/p1/status",
      {
        status: { capacity: { cpu: "4" } },
      },
    );
    expect(patched.status.capacity.cpu).toBe("4");
    expect(server.requests.at(-1)).toMatchObject({
      verb: "patch",
      subresource: "status",
      patchType: "strategic",
      code: 200,
    });
    const err = await client
      .request({ method: "GET", path: "/api/v1/nodes/missing" })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NotFound", httpStatus: 404, reason: "NotFound" });
    const dup = await client
      .request({ method: "POST", path: "/api/v1/nodes", body: node("p1") })
      .catch((e: unknown) => e);
    expect(dup).toMatchObject({ code: "AlreadyExists" });
  });

  it("hands the same connection to @kubernetes/client-node and normalises its ApiException", async () => {
    const { server } = await start();
    const conn = loadKubeConfig({ path: await server.kubeconfigFor("system:node:node-a") });
    const k8s = await import("@kubernetes/client-node");
    const kc = await toClientNodeConfig(conn);
    expect(await toClientNodeConfig(conn)).toBe(kc); // one client-node config per connection
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNode({ body: { metadata: { name: "node-a" } } });
    const patched = await core.patchNodeStatus(
      { name: "node-a", body: { status: { capacity: { pods: "110" } } } },
      await clientNodePatchOptions(PatchType.StrategicMerge),
    );
    expect(patched.status?.capacity?.pods).toBe("110");
    const err = await core.readNode({ name: "node-b" }).catch((e: unknown) => KubeError.from(e));
    expect(err).toBeInstanceOf(KubeError);
    // Nodes may read any Node (as with the real node authorizer): this one does not exist.
    expect(err).toMatchObject({ code: "NotFound", httpStatus: 404, reason: "NotFound" });
    expect((err as KubeError).message).toContain('nodes "node-b" not found');
  });
});
