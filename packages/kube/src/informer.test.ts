import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createKubeClient, type KubeClient } from "./client.js";
import { createFakeClock } from "./clock.js";
import type { KubeError } from "./errors.js";
import { createInformer, type KubeObject } from "./informer.js";

interface Pod extends KubeObject {
  spec?: { nodeName?: string };
}

/** A tiny server speaking the list+watch protocol for one collection. */
async function startWatchServer() {
  const objects = new Map<string, Pod>();
  let rv = 100;
  const watches = new Set<http.ServerResponse>();
  const requests: URL[] = [];
  let watchStatus = 200;
  let failLists = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(url);
    res.setHeader("content-type", "application/json");
    if (url.searchParams.get("watch") === "true") {
      if (watchStatus !== 200) {
        res.statusCode = watchStatus;
        res.end(
          JSON.stringify({ kind: "Status", code: watchStatus, reason: "InternalError", message: "boom" }),
        );
        return;
      }
      res.writeHead(200);
      res.flushHeaders();
      watches.add(res);
      res.on("close", () => watches.delete(res));
      return;
    }
    if (failLists > 0) {
      failLists--;
      res.statusCode = 503;
      res.end(JSON.stringify({ kind: "Status", code: 503, reason: "ServiceUnavailable", message: "down" }));
      return;
    }
    res.end(
      JSON.stringify({
        kind: "PodList",
        metadata: { resourceVersion: String(rv) },
        items: [...objects.values()],
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const send = (type: string, object: unknown) => {
    for (const w of watches) w.write(`${JSON.stringify({ type, object })}\n`);
  };
  const pod = (name: string, nodeName?: string): Pod => ({
    metadata: { name, namespace: "default", resourceVersion: String(++rv) },
    ...(nodeName ? { spec: { nodeName } } : {}),
  });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    watches,
    put(name: string, nodeName?: string, emit = true) {
      const p = pod(name, nodeName);
      const existed = objects.has(name);
      objects.set(name, p);
      if (emit) send(existed ? "MODIFIED" : "ADDED", p);
      return p;
    },
    del(name: string, emit = true) {
      const p = objects.get(name)!;
      objects.delete(name);
      const gone = { ...p, metadata: { ...p.metadata, resourceVersion: String(++rv) } };
      if (emit) send("DELETED", gone);
    },
    bookmark() {
      send("BOOKMARK", { kind: "Pod", metadata: { resourceVersion: String(++rv) } });
    },
    expire() {
      send("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" });
      for (const w of watches) w.end();
    },
    closeWatches() {
      for (const w of watches) w.end();
    },
    setWatchStatus(s: number) {
      watchStatus = s;
    },
    failNextLists(n: number) {
      failLists = n;
    },
    get rv() {
      return rv;
    },
    async stop() {
      for (const w of watches) w.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { inactivityTimeoutMs?: number } = {}) {
  const server = await startWatchServer();
  const client: KubeClient = createKubeClient({ server: server.url });
  const clock = createFakeClock();
  const informer = createInformer<Pod>({
    client,
    path: "/api/v1/pods",
    clock,
    random: () => 0,
    ...(opts.inactivityTimeoutMs ? { inactivityTimeoutMs: opts.inactivityTimeoutMs } : {}),
  });
  const events: string[] = [];
  const errors: KubeError[] = [];
  informer.on("add", (p) => events.push(`add ${p.metadata?.name}`));
  informer.on("update", (p, old) =>
    events.push(
      `update ${p.metadata?.name} ${old.metadata?.resourceVersion}->${p.metadata?.resourceVersion}`,
    ),
  );
  informer.on("delete", (p) => events.push(`delete ${p.metadata?.name}`));
  informer.on("error", (e) => errors.push(e));
  cleanups.push(
    () => server.stop(),
    () => client.close(),
    () => informer.stop(),
  );
  return { server, client, clock, informer, events, errors };
}

describe("informer", () => {
  it("lists, syncs, then applies watch events and bookmarks", async () => {
    const { server, informer, events } = await setup();
    server.put("a", "node-1", false);
    server.put("b", "node-2", false);
    informer.start();
    await informer.waitForSync();
    expect(informer.isSynced()).toBe(true);
    expect(events.sort()).toEqual(["add a", "add b"]);
    await until(() => server.watches.size === 1, "watch");
    const watchUrl = server.requests.at(-1)!;
    expect(watchUrl.searchParams.get("resourceVersion")).toBe("102");
    expect(watchUrl.searchParams.get("allowWatchBookmarks")).toBe("true");

    events.length = 0;
    server.put("a", "node-1");
    server.put("c", "node-1");
    server.del("b");
    server.bookmark();
    await until(() => events.length === 3 && informer.resourceVersion === String(server.rv), "events");
    expect(events).toEqual(["update a 101->103", "add c", "delete b"]);
    expect(
      informer.store
        .byIndex("nodeName", "node-1")
        .map((p) => p.metadata?.name)
        .sort(),
    ).toEqual(["a", "c"]);
    expect(informer.store.byIndex("namespace", "default")).toHaveLength(2);
    expect(informer.store.get("default/b")).toBeUndefined();
    expect(() => informer.store.byIndex("nope", "x")).toThrow(/unknown index "nope"/);
  });

  it("relists on 410 Gone and emits only the difference", async () => {
    const { server, informer, events } = await setup();
    server.put("keep", undefined, false);
    server.put("change", undefined, false);
    server.put("gone", undefined, false);
    informer.start();
    await informer.waitForSync();
    await until(() => server.watches.size === 1, "watch");
    events.length = 0;
    // Changes the watcher never saw, then the watch expires.
    server.put("change", undefined, false);
    server.put("new", undefined, false);
    server.del("gone", false);
    server.expire();
    await until(() => events.length === 3, "relist diff");
    expect(events.sort()).toEqual(["add new", "delete gone", "update change 102->104"]);
    await until(() => server.watches.size === 1, "new watch");
    expect(informer.store.keys().sort()).toEqual(["default/change", "default/keep", "default/new"]);
  });

  it("backs off after errors and resumes the watch from the last resourceVersion", async () => {
    const { server, informer, clock, errors, events } = await setup();
    server.failNextLists(1);
    informer.start();
    await until(() => errors.length === 1, "list error");
    expect(errors[0]?.code).toBe("Unavailable");
    expect(informer.isSynced()).toBe(false);
    await clock.step(800); // reflector backoff starts at 800 ms
    await informer.waitForSync();
    await until(() => server.watches.size === 1, "watch");
    server.put("x");
    await until(() => events.includes("add x"), "add x");
    const rvAfterX = informer.resourceVersion;

    server.setWatchStatus(500);
    server.closeWatches();
    await until(() => errors.length === 2, "watch error");
    expect(errors[1]?.code).toBe("ServerError");
    server.setWatchStatus(200);
    const listsBefore = server.requests.filter((u) => u.searchParams.get("watch") !== "true").length;
    await clock.step(800);
    await until(() => server.watches.size === 1, "rewatch");
    expect(server.requests.at(-1)!.searchParams.get("resourceVersion")).toBe(rvAfterX);
    // Resumed, not relisted: no duplicate add.
    expect(server.requests.filter((u) => u.searchParams.get("watch") !== "true").length).toBe(listsBefore);
    expect(events.filter((e) => e === "add x")).toHaveLength(1);
  });

  it("reopens a watch that goes silent past the inactivity timeout", async () => {
    const { server, informer, clock, errors } = await setup({ inactivityTimeoutMs: 60_000 });
    informer.start();
    await informer.waitForSync();
    await until(() => server.watches.size === 1, "watch");
    const watchesBefore = server.requests.length;
    await clock.step(60_000);
    await until(() => errors.length === 1, "watchdog");
    expect(errors[0]?.code).toBe("Timeout");
    await clock.step(800);
    await until(() => server.requests.length > watchesBefore && server.watches.size === 1, "reopened watch");
  });

  it("stops cleanly: no error, no events, the watch socket closed", async () => {
    const { server, informer, errors, events } = await setup();
    informer.start();
    await informer.waitForSync();
    await until(() => server.watches.size === 1, "watch");
    await informer.stop();
    server.put("late");
    await until(() => server.watches.size === 0, "watch closed");
    expect(errors).toEqual([]);
    expect(events).toEqual([]);
    await expect(informer.waitForSync()).resolves.toBeUndefined();
  });

  it("rejects waitForSync when stopped before syncing", async () => {
    const { server, informer } = await setup();
    server.failNextLists(100);
    informer.start();
    const waiting = informer.waitForSync();
    await informer.stop();
    await expect(waiting).rejects.toThrow(/stopped before sync/);
  });
});
