import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Service,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually, statusOf } from "./test-support.js";

let server: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;

function client(path: string): KubeConfig {
  const k = new KubeConfig();
  k.loadFromFile(path);
  return k;
}

async function expectStatus(
  p: Promise<unknown>,
  code: number,
  reason?: string,
): Promise<ReturnType<typeof statusOf>> {
  try {
    await p;
  } catch (e) {
    const s = statusOf(e);
    expect(s.code).toBe(code);
    if (reason) expect(s.reason).toBe(reason);
    expect((s as { kind?: string }).kind).toBe("Status");
    return s;
  }
  throw new Error(`expected HTTP ${code}, the call succeeded`);
}

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, labels: { app: "web" } },
  spec: { containers: [{ name: "c", image: "busybox:1.36" }], ...extra },
});

beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false },
    bookmarkIntervalMs: 100,
    watchHistoryPerResource: 20,
  });
  kc = client(server.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await server?.stop();
});

/** A Service spec as a client that never heard of healthCheckNodePort would send it back. */
function withoutHealthCheckPort(spec: V1Service["spec"]): NonNullable<V1Service["spec"]> {
  const { healthCheckNodePort: _dropped, ...rest } = spec ?? {};
  return rest;
}

describe("client-node against the simulator", () => {
  it("creates, reads, replaces and deletes with real status codes", async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "crud" }, data: { a: "1" } },
    });
    expect(cm.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(cm.metadata?.creationTimestamp).toBeInstanceOf(Date);
    const got = await core.readNamespacedConfigMap({ name: "crud", namespace: "default" });
    expect(got.data).toEqual({ a: "1" });
    await expectStatus(
      core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "crud" } } }),
      409,
      "AlreadyExists",
    );
    got.data = { a: "2" };
    const replaced = await core.replaceNamespacedConfigMap({ name: "crud", namespace: "default", body: got });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(got.metadata?.resourceVersion));
    await core.deleteNamespacedConfigMap({ name: "crud", namespace: "default" });
    const nf = await expectStatus(
      core.readNamespacedConfigMap({ name: "crud", namespace: "default" }),
      404,
      "NotFound",
    );
    expect(nf.message).toBe('configmaps "crud" not found');
  });

  it("generates names and rejects invalid ones with field causes", async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { generateName: "gen-" } },
    });
    expect(cm.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
    const s = await expectStatus(
      core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "Bad_Name" } } }),
      422,
      "Invalid",
    );
    expect(s.details.causes[0].field).toBe("metadata.name");
    await expectStatus(
      core.createNamespacedConfigMap({ namespace: "nope", body: { metadata: { name: "x" } } }),
      404,
      "NotFound",
    );
  });

  it("applies API defaults to pods and allocates service IPs", async () => {
    const p = await core.createNamespacedPod({ namespace: "default", body: pod("defaults") });
    expect(p.spec?.restartPolicy).toBe("Always");
    expect(p.spec?.terminationGracePeriodSeconds).toBe(30);
    expect(p.spec?.dnsPolicy).toBe("ClusterFirst");
    expect(p.spec?.containers[0]?.imagePullPolicy).toBe("IfNotPresent");
    expect(p.spec?.containers[0]?.terminationMessagePath).toBe("/dev/termination-log");
    expect(p.status?.phase).toBe("Pending");
    const svc = await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "np" },
        spec: { type: "NodePort", selector: { app: "web" }, ports: [{ port: 80 }] },
      },
    });
    expect(svc.spec?.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    expect(svc.spec?.ports?.[0]?.nodePort).toBeGreaterThanOrEqual(30000);
    expect(svc.spec?.ports?.[0]?.targetPort).toBe(80);
  });

  it("allocates a healthCheckNodePort for LoadBalancer services with externalTrafficPolicy Local", async () => {
    const lb = await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "lb-local" },
        spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", ports: [{ port: 80 }] },
      },
    });
    const hc = lb.spec?.healthCheckNodePort;
    expect(hc).toBeGreaterThanOrEqual(30000);
    expect(hc).not.toBe(lb.spec?.ports?.[0]?.nodePort);
    // kept across an update that does not mention it
    const replaced = await core.replaceNamespacedService({
      namespace: "default",
      name: "lb-local",
      body: { ...lb, spec: withoutHealthCheckPort(lb.spec) },
    });
    expect(replaced.spec?.healthCheckNodePort).toBe(hc);
    // dropped when the policy no longer needs it, and then free for another service to request
    const cluster = await core.replaceNamespacedService({
      namespace: "default",
      name: "lb-local",
      body: { ...replaced, spec: { ...replaced.spec, externalTrafficPolicy: "Cluster" } },
    });
    expect(cluster.spec?.healthCheckNodePort).toBeUndefined();
    const other = await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "lb-local-2" },
        spec: {
          type: "LoadBalancer",
          externalTrafficPolicy: "Local",
          healthCheckNodePort: hc!,
          ports: [{ port: 81 }],
        },
      },
    });
    expect(other.spec?.healthCheckNodePort).toBe(hc);
    const plain = await core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "lb-cluster" }, spec: { type: "LoadBalancer", ports: [{ port: 82 }] } },
    });
    expect(plain.spec?.healthCheckNodePort).toBeUndefined();
  });

  it("lists with label and field selectors and paginates with limit/continue", async () => {
    await core.createNamespace({ body: { metadata: { name: "paging" } } });
    for (let i = 0; i < 7; i++) {
      await core.createNamespacedPod({
        namespace: "paging",
        body: {
          ...pod(`p${i}`, { nodeName: i % 2 ? "node-odd" : "node-even" }),
          metadata: { name: `p${i}`, labels: { i: String(i), parity: i % 2 ? "odd" : "even" } },
        },
      });
    }
    const odd = await core.listNamespacedPod({
      namespace: "paging",
      fieldSelector: "spec.nodeName=node-odd",
    });
    expect(odd.items.map((p) => p.metadata?.name)).toEqual(["p1", "p3", "p5"]);
    const lbl = await core.listNamespacedPod({
      namespace: "paging",
      labelSelector: "parity=even,i notin (0)",
    });
    expect(lbl.items.map((p) => p.metadata?.name)).toEqual(["p2", "p4", "p6"]);
    const page1 = await core.listNamespacedPod({ namespace: "paging", limit: 3 });
    expect(page1.items).toHaveLength(3);
    expect(page1.metadata?.remainingItemCount).toBe(4);
    const page2 = await core.listNamespacedPod({
      namespace: "paging",
      limit: 3,
      _continue: page1.metadata?._continue ?? "",
    });
    const page3 = await core.listNamespacedPod({
      namespace: "paging",
      limit: 3,
      _continue: page2.metadata?._continue ?? "",
    });
    expect([...page1.items, ...page2.items, ...page3.items].map((p) => p.metadata?.name)).toEqual([
      "p0",
      "p1",
      "p2",
      "p3",
      "p4",
      "p5",
      "p6",
    ]);
    // later pages come from the snapshot of the first one, like etcd's consistent continuation
    const snap1 = await core.listNamespacedPod({ namespace: "paging", limit: 4 });
    await core.deleteNamespacedPod({ name: "p5", namespace: "paging" });
    await core.createNamespacedPod({ namespace: "paging", body: { ...pod("p7"), metadata: { name: "p7" } } });
    const snap2 = await core.listNamespacedPod({
      namespace: "paging",
      limit: 4,
      _continue: snap1.metadata?._continue ?? "",
    });
    expect(snap2.items.map((p) => p.metadata?.name)).toEqual(["p4", "p5", "p6"]);
    expect(snap2.metadata?.resourceVersion).toBe(snap1.metadata?.resourceVersion);
    expect(page3.metadata?._continue).toBeFalsy();
    await expectStatus(
      core.listNamespacedPod({ namespace: "paging", fieldSelector: "spec.bogus=1" }),
      400,
      "BadRequest",
    );
  });

  it("watches, resumes from a resourceVersion, and reports 410 Expired for compacted history", async () => {
    const watch = new Watch(kc);
    const seen: string[] = [];
    const list = await core.listNamespacedConfigMap({ namespace: "default" });
    const rv = list.metadata?.resourceVersion ?? "";
    const ctl = await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: rv },
      (type, obj) => seen.push(`${type}:${obj.metadata.name}`),
      () => {},
    );
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "w1" } } });
    await core.patchNamespacedConfigMap(
      { name: "w1", namespace: "default", body: { data: { k: "v" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedConfigMap({ name: "w1", namespace: "default" });
    await eventually(() => seen.length >= 3, 5000, "watch events");
    expect(seen).toEqual(["ADDED:w1", "MODIFIED:w1", "DELETED:w1"]);
    ctl.abort();
    // resume from the original version: the same three events are replayed
    const replay: string[] = [];
    const ctl2 = await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: rv },
      (type, obj) => replay.push(`${type}:${obj.metadata.name}`),
      () => {},
    );
    await eventually(() => replay.length >= 3, 5000, "replayed events");
    expect(replay).toEqual(seen);
    ctl2.abort();
    // push the history past its bound (20 events per resource), then resume from the old version
    for (let i = 0; i < 25; i++)
      await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: `fill-${i}` } },
      });
    const errors: unknown[] = [];
    await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: rv },
      (type, obj) => type === "ERROR" && errors.push(obj),
      () => {},
    );
    const status = (await eventually(() => errors[0], 5000, "410 event")) as { code: number; reason: string };
    expect(status.code).toBe(410);
    expect(status.reason).toBe("Expired");
  });

  it("sends bookmarks when asked and filters watch events by selector", async () => {
    const watch = new Watch(kc);
    const events: { type: string; name?: string; rv: string }[] = [];
    const ctl = await watch.watch(
      "/api/v1/namespaces/default/pods",
      { allowWatchBookmarks: true, labelSelector: "watched=yes" },
      (type, obj) => events.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion }),
      () => {},
    );
    await core.createNamespacedPod({ namespace: "default", body: pod("unwatched") });
    await core.patchNamespacedPod(
      { name: "unwatched", namespace: "default", body: { metadata: { labels: { watched: "yes" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    await core.patchNamespacedPod(
      { name: "unwatched", namespace: "default", body: { metadata: { labels: { watched: "no" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    await eventually(
      () =>
        events.some((e) => e.type === "BOOKMARK") && events.filter((e) => e.type !== "BOOKMARK").length >= 2,
      5000,
      "bookmark",
    );
    const changes = events.filter((e) => e.type !== "BOOKMARK");
    // entering the selector is ADDED, leaving it is DELETED (watch cache semantics)
    expect(changes.map((e) => e.type)).toEqual(["ADDED", "DELETED"]);
    const bm = events.find((e) => e.type === "BOOKMARK")!;
    expect(Number(bm.rv)).toBeGreaterThan(0);
    ctl.abort();
  });

  it("drives client-node's informer (list, then watch with bookmarks)", async () => {
    const { makeInformer } = await import("@kubernetes/client-node");
    await core.createNamespace({ body: { metadata: { name: "inf" } } });
    await core.createNamespacedConfigMap({ namespace: "inf", body: { metadata: { name: "before" } } });
    const informer = makeInformer(kc, "/api/v1/namespaces/inf/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "inf" }),
    );
    const log: string[] = [];
    // kube-root-ca.crt is published into every namespace by the namespaces controller
    informer.on("add", (o) => o.metadata?.name !== "kube-root-ca.crt" && log.push(`add:${o.metadata?.name}`));
    informer.on("update", (o) => log.push(`update:${o.metadata?.name}:${o.data?.v}`));
    informer.on("delete", (o) => log.push(`delete:${o.metadata?.name}`));
    informer.on("error", () => {});
    await informer.start();
    await eventually(() => log.includes("add:before"), 5000, "initial list");
    await core.createNamespacedConfigMap({
      namespace: "inf",
      body: { metadata: { name: "after" }, data: { v: "1" } },
    });
    await core.replaceNamespacedConfigMap({
      name: "after",
      namespace: "inf",
      body: { metadata: { name: "after" }, data: { v: "2" } },
    });
    await core.deleteNamespacedConfigMap({ name: "before", namespace: "inf" });
    await eventually(() => log.includes("delete:before"), 5000, "informer events");
    expect(log).toEqual(["add:before", "add:after", "update:after:2", "delete:before"]);
    expect(informer.list("inf").map((o) => o.metadata?.name)).toContain("after");
    expect(informer.list("inf").map((o) => o.metadata?.name)).not.toContain("before");
    await informer.stop();
  });

  it("ends a watch after timeoutSeconds", async () => {
    const watch = new Watch(kc);
    let ended = false;
    const t0 = Date.now();
    await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { timeoutSeconds: 1 },
      () => {},
      () => {
        ended = true;
      },
    );
    await eventually(() => ended, 5000, "watch timeout");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it("serves events.k8s.io/v1 and core/v1 Events from one storage", async () => {
    const { EventsV1Api } = await import("@kubernetes/client-node");
    const events = kc.makeApiClient(EventsV1Api);
    await events.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "web.1" },
        eventTime: new Date("2026-01-01T00:00:00.000000Z"),
        regarding: { kind: "Pod", namespace: "default", name: "web" },
        reason: "Pulled",
        note: "Successfully pulled image",
        type: "Normal",
        action: "Pulling",
        reportingController: "kubenode/kubelet",
        reportingInstance: "node-a",
      },
    });
    const core1 = await core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "involvedObject.name=web,reason=Pulled",
    });
    expect(core1.items).toHaveLength(1);
    expect(core1.items[0]?.message).toBe("Successfully pulled image");
    expect(core1.items[0]?.source?.component).toBe("kubenode/kubelet");
    const back = await events.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "regarding.name=web",
    });
    expect(back.items[0]?.note).toBe("Successfully pulled image");
    expect(back.items[0]?.regarding?.name).toBe("web");
  });

  it("rejects stale writes with 409 Conflict", async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "occ" }, data: { n: "0" } },
    });
    await core.replaceNamespacedConfigMap({
      name: "occ",
      namespace: "default",
      body: { ...cm, data: { n: "1" } },
    });
    const s = await expectStatus(
      core.replaceNamespacedConfigMap({
        name: "occ",
        namespace: "default",
        body: { ...cm, data: { n: "2" } },
      }),
      409,
      "Conflict",
    );
    expect(s.message).toContain(
      "the object has been modified; please apply your changes to the latest version and try again",
    );
  });

  it("applies strategic merge, merge and JSON patches", async () => {
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "patchme" },
        spec: {
          containers: [
            { name: "a", image: "a:1" },
            { name: "b", image: "b:1", env: [{ name: "X", value: "1" }] },
          ],
        },
      },
    });
    const smp = await core.patchNamespacedPod(
      {
        name: "patchme",
        namespace: "default",
        body: { spec: { containers: [{ name: "b", image: "b:2" }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    // containers merge by name: "a" stays, "b" gets the new image and keeps its env
    expect(smp.spec?.containers.map((c) => `${c.name}=${c.image}`)).toEqual(["a=a:1", "b=b:2"]);
    expect(smp.spec?.containers[1]?.env?.map((e) => e.name)).toEqual(["X"]);
    await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "ports" },
        spec: { selector: { app: "x" }, ports: [{ name: "http", port: 80 }] },
      },
    });
    const svcSmp = await core.patchNamespacedService(
      { name: "ports", namespace: "default", body: { spec: { ports: [{ name: "https", port: 443 }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(svcSmp.spec?.ports?.map((p) => p.port)).toEqual([80, 443]);
    const svcMerge = await core.patchNamespacedService(
      {
        name: "ports",
        namespace: "default",
        body: { spec: { ports: [{ name: "dns", port: 53, protocol: "UDP" }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    // a JSON merge patch replaces lists wholesale
    expect(svcMerge.spec?.ports?.map((p) => p.port)).toEqual([53]);
    const merged = await core.patchNamespacedPod(
      {
        name: "patchme",
        namespace: "default",
        body: { metadata: { labels: { m: "1" }, annotations: { note: "x" } } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.labels).toEqual({ m: "1" });
    const jp = await core.patchNamespacedPod({
      name: "patchme",
      namespace: "default",
      body: [
        { op: "test", path: "/metadata/labels/m", value: "1" },
        { op: "replace", path: "/spec/containers/0/image", value: "a:3" },
        { op: "remove", path: "/metadata/annotations/note" },
      ],
    });
    expect(jp.spec?.containers[0]?.image).toBe("a:3");
    expect(jp.metadata?.annotations?.note).toBeUndefined();
    await expectStatus(
      core.patchNamespacedPod({
        name: "patchme",
        namespace: "default",
        body: [{ op: "test", path: "/metadata/labels/m", value: "2" }],
      }),
      422,
    );
    // spec fields other than images are immutable on pods
    await expectStatus(
      core.patchNamespacedPod(
        { name: "patchme", namespace: "default", body: { spec: { restartPolicy: "Never" } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
      422,
      "Invalid",
    );
  });

  it("separates the status subresource from the main resource", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("st") });
    const withStatus = await core.patchNamespacedPodStatus(
      {
        name: "st",
        namespace: "default",
        body: {
          status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
          spec: { nodeName: "sneaky" },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(withStatus.status?.phase).toBe("Running");
    expect(withStatus.spec?.nodeName).toBeUndefined();
    const cur = await core.readNamespacedPod({ name: "st", namespace: "default" });
    const replaced = await core.replaceNamespacedPod({
      name: "st",
      namespace: "default",
      body: { ...cur, status: { phase: "Failed" } },
    });
    expect(replaced.status?.phase).toBe("Running");
    const conds = await core.patchNamespacedPodStatus(
      {
        name: "st",
        namespace: "default",
        body: { status: { conditions: [{ type: "Initialized", status: "True" }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(conds.status?.conditions?.map((c) => c.type)).toEqual(["Ready", "Initialized"]);
  });

  it("deletes bound pods gracefully and finishes with grace 0", async () => {
    await core.createNamespacedPod({
      namespace: "default",
      body: pod("graceful", { nodeName: "node-x", terminationGracePeriodSeconds: 45 }),
    });
    const deleting = await core.deleteNamespacedPod({ name: "graceful", namespace: "default" });
    expect(deleting.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(deleting.metadata?.deletionGracePeriodSeconds).toBe(45);
    const still = await core.readNamespacedPod({ name: "graceful", namespace: "default" });
    expect(still.metadata?.deletionGracePeriodSeconds).toBe(45);
    await core.deleteNamespacedPod({ name: "graceful", namespace: "default", gracePeriodSeconds: 0 });
    await expectStatus(core.readNamespacedPod({ name: "graceful", namespace: "default" }), 404);
    // unbound pods go at once
    await core.createNamespacedPod({ namespace: "default", body: pod("unbound") });
    await core.deleteNamespacedPod({ name: "unbound", namespace: "default" });
    await expectStatus(core.readNamespacedPod({ name: "unbound", namespace: "default" }), 404);
  });

  it("keeps objects with finalizers until the last one is removed", async () => {
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "fin", finalizers: ["example.com/hold"] } },
    });
    await core.deleteNamespacedConfigMap({ name: "fin", namespace: "default" });
    const held = await core.readNamespacedConfigMap({ name: "fin", namespace: "default" });
    expect(held.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    await core.patchNamespacedConfigMap({
      name: "fin",
      namespace: "default",
      body: [{ op: "remove", path: "/metadata/finalizers" }],
    });
    await expectStatus(core.readNamespacedConfigMap({ name: "fin", namespace: "default" }), 404);
  });

  it("garbage-collects dependents in background and foreground", async () => {
    const owner = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "owner" } },
    });
    const ref = {
      apiVersion: "v1",
      kind: "ConfigMap",
      name: "owner",
      uid: owner.metadata!.uid!,
      blockOwnerDeletion: true,
    };
    await core.createNamespacedSecret({
      namespace: "default",
      body: { metadata: { name: "dep", ownerReferences: [ref] } },
    });
    await core.deleteNamespacedConfigMap({ name: "owner", namespace: "default" });
    await eventually(
      async () => {
        try {
          await core.readNamespacedSecret({ name: "dep", namespace: "default" });
          return false;
        } catch (e) {
          return statusOf(e).code === 404;
        }
      },
      5000,
      "background GC of the dependent",
    );
    const owner2 = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "owner2" } },
    });
    await core.createNamespacedSecret({
      namespace: "default",
      body: {
        metadata: {
          name: "dep2",
          ownerReferences: [{ ...ref, name: "owner2", uid: owner2.metadata!.uid! }],
          finalizers: ["example.com/slow"],
        },
      },
    });
    await core.deleteNamespacedConfigMap({
      name: "owner2",
      namespace: "default",
      propagationPolicy: "Foreground",
    });
    const waiting = await core.readNamespacedConfigMap({ name: "owner2", namespace: "default" });
    expect(waiting.metadata?.finalizers).toContain("foregroundDeletion");
    const dep2 = await eventually(
      async () =>
        (await core.readNamespacedSecret({ name: "dep2", namespace: "default" })).metadata?.deletionTimestamp,
      5000,
      "dependent deletion",
    );
    expect(dep2).toBeInstanceOf(Date);
    await core.patchNamespacedSecret(
      { name: "dep2", namespace: "default", body: { metadata: { finalizers: null } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually(
      async () => {
        try {
          await core.readNamespacedConfigMap({ name: "owner2", namespace: "default" });
          return false;
        } catch (e) {
          return statusOf(e).code === 404;
        }
      },
      5000,
      "foreground owner removal",
    );
  });

  it("evicts pods through the policy/v1 eviction subresource", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("evictme", { nodeName: "node-x" }) });
    await core.createNamespacedPodEviction({
      name: "evictme",
      namespace: "default",
      body: {
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name: "evictme", namespace: "default" },
      },
    });
    const p = await core.readNamespacedPod({ name: "evictme", namespace: "default" });
    expect(p.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    await expectStatus(
      core.createNamespacedPodEviction({
        name: "ghost",
        namespace: "default",
        body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "ghost" } },
      }),
      404,
    );
  });

  it("refuses evictions that would violate a PodDisruptionBudget with 429", async () => {
    const { PolicyV1Api } = await import("@kubernetes/client-node");
    const policy = kc.makeApiClient(PolicyV1Api);
    await core.createNamespace({ body: { metadata: { name: "pdb" } } });
    await policy.createNamespacedPodDisruptionBudget({
      namespace: "pdb",
      body: {
        metadata: { name: "keep-one" },
        spec: { minAvailable: 1, selector: { matchLabels: { app: "db" } } },
      },
    });
    for (const name of ["db-0", "db-1"]) {
      await core.createNamespacedPod({
        namespace: "pdb",
        body: { ...pod(name, { nodeName: "node-x" }), metadata: { name, labels: { app: "db" } } },
      });
      await core.patchNamespacedPodStatus(
        {
          name,
          namespace: "pdb",
          body: { status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      );
    }
    const evict = (name: string) =>
      core.createNamespacedPodEviction({
        name,
        namespace: "pdb",
        body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace: "pdb" } },
      });
    await evict("db-0");
    const s = await expectStatus(evict("db-1"), 429, "TooManyRequests");
    expect(s.details.causes[0].reason).toBe("DisruptionBudget");
  });

  it("binds pods once and refuses a second binding", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("bindme") });
    await core.createNamespacedPodBinding({
      name: "bindme",
      namespace: "default",
      body: { metadata: { name: "bindme" }, target: { kind: "Node", name: "node-b" } },
    });
    const p = await core.readNamespacedPod({ name: "bindme", namespace: "default" });
    expect(p.spec?.nodeName).toBe("node-b");
    expect(p.status?.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
    await expectStatus(
      core.createNamespacedPodBinding({
        name: "bindme",
        namespace: "default",
        body: { metadata: { name: "bindme" }, target: { kind: "Node", name: "node-c" } },
      }),
      409,
      "Conflict",
    );
  });

  it("enforces NodeRestriction for node identities", async () => {
    const nodeA = client(await server.kubeconfigFor("system:node:node-a"));
    const coreA = nodeA.makeApiClient(CoreV1Api);
    const leasesA = nodeA.makeApiClient(CoordinationV1Api);
    await coreA.createNode({ body: { metadata: { name: "node-a" } } });
    await core.createNode({ body: { metadata: { name: "node-b" } } });
    await coreA.patchNodeStatus(
      { name: "node-a", body: { status: { conditions: [{ type: "Ready", status: "True" }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    const denied = await expectStatus(
      coreA.patchNodeStatus(
        { name: "node-b", body: { status: { phase: "x" } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
      403,
      "Forbidden",
    );
    // NodeRestriction admission denies it (authorization allows nodes/status patches)
    expect(denied.message).toBe(
      'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"',
    );
    await leasesA.createNamespacedLease({
      namespace: "kube-node-lease",
      body: { metadata: { name: "node-a" }, spec: { holderIdentity: "node-a", leaseDurationSeconds: 40 } },
    });
    await expectStatus(
      leasesA.createNamespacedLease({
        namespace: "kube-node-lease",
        body: { metadata: { name: "node-b" }, spec: {} },
      }),
      403,
      "Forbidden",
    );
    await core.createNamespacedPod({ namespace: "default", body: pod("on-b", { nodeName: "node-b" }) });
    await core.createNamespacedPod({ namespace: "default", body: pod("on-a", { nodeName: "node-a" }) });
    await coreA.patchNamespacedPodStatus(
      { name: "on-a", namespace: "default", body: { status: { phase: "Running" } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    await expectStatus(
      coreA.patchNamespacedPodStatus(
        { name: "on-b", namespace: "default", body: { status: { phase: "Running" } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
      403,
    );
    await expectStatus(coreA.deleteNamespacedPod({ name: "on-b", namespace: "default" }), 403);
    await expectStatus(coreA.readNamespacedSecret({ name: "anything", namespace: "default" }), 403);
    await expectStatus(
      coreA.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "x" } } }),
      403,
    );
    const pods = await coreA.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-a" });
    expect(pods.items.map((p) => p.metadata?.name)).toEqual(["on-a"]);
  });

  it("gives system:kube-proxy the node-proxier permissions only", async () => {
    const proxy = client(await server.kubeconfigFor("system:kube-proxy")).makeApiClient(CoreV1Api);
    const svcs = await proxy.listServiceForAllNamespaces({
      labelSelector: "!service.kubernetes.io/headless",
    });
    expect(svcs.items.some((s) => s.metadata?.name === "kubernetes")).toBe(true);
    await proxy.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "proxy.1" },
        involvedObject: { kind: "Node", name: "node-a" },
        reason: "Starting",
        message: "kube-proxy",
      },
    });
    await expectStatus(proxy.listNamespacedSecret({ namespace: "default" }), 403, "Forbidden");
  });

  it("issues service account tokens that TokenReview accepts", async () => {
    await core.createNamespacedServiceAccount({
      namespace: "default",
      body: { metadata: { name: "robot" } },
    });
    const tr = await core.createNamespacedServiceAccountToken({
      name: "robot",
      namespace: "default",
      body: { spec: { audiences: ["api"], expirationSeconds: 3600 } },
    });
    const token = tr.status?.token ?? "";
    expect(token.split(".")).toHaveLength(3);
    const { AuthenticationV1Api } = await import("@kubernetes/client-node");
    const authn = kc.makeApiClient(AuthenticationV1Api);
    const review = await authn.createTokenReview({ body: { spec: { token, audiences: ["api"] } } });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe("system:serviceaccount:default:robot");
    const bad = await authn.createTokenReview({ body: { spec: { token: `${token}x` } } });
    expect(bad.status?.authenticated).toBeFalsy();
  });

  it("fails injected faults with Status bodies and records requests", async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    const lease = await leases.createNamespacedLease({
      namespace: "kube-node-lease",
      body: { metadata: { name: "faulty" }, spec: { holderIdentity: "x" } },
    });
    server.injectFault({ verb: "update", resource: "leases", name: "faulty", status: 409, times: 1 });
    server.injectFault({ verb: "update", resource: "leases", name: "faulty", status: 503, times: 1 });
    await expectStatus(
      leases.replaceNamespacedLease({ name: "faulty", namespace: "kube-node-lease", body: lease }),
      409,
      "Conflict",
    );
    await expectStatus(
      leases.replaceNamespacedLease({ name: "faulty", namespace: "kube-node-lease", body: lease }),
      503,
      "ServiceUnavailable",
    );
    await leases.replaceNamespacedLease({
      name: "faulty",
      namespace: "kube-node-lease",
      body: { ...lease, spec: { holderIdentity: "y" } },
    });
    const updates = server.requests.filter(
      (r) => r.resource === "leases" && r.verb === "update" && r.name === "faulty",
    );
    expect(updates.map((r) => r.code)).toEqual([409, 503, 200]);
  });

  it("suspends and resumes on the same port with the same data", async () => {
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "survivor" } } });
    const watch = new Watch(kc);
    let ended = false;
    await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      {},
      () => {},
      () => {
        ended = true;
      },
    );
    await server.suspend();
    await eventually(() => ended, 5000, "watch to end on suspend");
    await expect(core.readNamespacedConfigMap({ name: "survivor", namespace: "default" })).rejects.toThrow();
    await server.resume();
    const cm = await core.readNamespacedConfigMap({ name: "survivor", namespace: "default" });
    expect(cm.metadata?.name).toBe("survivor");
  });
});
