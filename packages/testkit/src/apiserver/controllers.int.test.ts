import { afterEach, describe, expect, it } from "vitest";
import { findResource } from "./resources.js";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually } from "./test-support.js";
import type { Json } from "./types.js";

const R = (group: string, plural: string) => findResource(group, "v1", plural)!;
const pods = R("", "pods");
const nodes = R("", "nodes");
const services = R("", "services");
const slices = R("discovery.k8s.io", "endpointslices");
const leases = R("coordination.k8s.io", "leases");
const namespaces = R("", "namespaces");
const configmaps = R("", "configmaps");
const serviceaccounts = R("", "serviceaccounts");

let server: ApiServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

function readyNode(name: string, extra: Json = {}, nowIso = new Date().toISOString()): Json {
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...(extra.labels ?? {}) } },
    spec: extra.spec ?? {},
    status: {
      allocatable: { cpu: extra.cpu ?? "2", memory: "4Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: nowIso, lastTransitionTime: nowIso }],
    },
  };
}

const podBody = (name: string, spec: Json = {}, labels: Json = { app: "web" }): Json => ({
  metadata: { name, labels },
  spec: { containers: [{ name: "c", image: "busybox:1.36" }], ...spec },
});

describe("dev controllers", () => {
  it("the scheduler binds to a ready, fitting, untainted node honouring nodeSelector", async () => {
    server = await startApiServer({ controllers: { endpointSlices: false, nodeLifecycle: false } });
    const c = server.core;
    c.create(nodes, "", readyNode("small", { cpu: "1" }));
    c.create(
      nodes,
      "",
      readyNode("tainted", { spec: { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] } }),
    );
    c.create(nodes, "", readyNode("ssd", { labels: { disk: "ssd" } }));
    c.create(pods, "default", podBody("wants-ssd", { nodeSelector: { disk: "ssd" } }));
    c.create(
      pods,
      "default",
      podBody("big", {
        containers: [{ name: "c", image: "x:1", resources: { requests: { cpu: "1500m" } } }],
        nodeSelector: { "kubernetes.io/hostname": "small" },
      }),
    );
    c.create(
      pods,
      "default",
      podBody("tolerant", {
        nodeSelector: { "kubernetes.io/hostname": "tainted" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
      }),
    );
    await eventually(
      () =>
        c.find(pods, "default", "wants-ssd")?.spec.nodeName &&
        c.find(pods, "default", "tolerant")?.spec.nodeName,
      5000,
      "binding",
    );
    expect(c.find(pods, "default", "wants-ssd")?.spec.nodeName).toBe("ssd");
    expect(c.find(pods, "default", "tolerant")?.spec.nodeName).toBe("tainted");
    const events = server.storage.list(R("", "events").key, "default");
    expect(events.find((e) => e.involvedObject.name === "wants-ssd")).toMatchObject({
      reason: "Scheduled",
      type: "Normal",
      message: "Successfully assigned default/wants-ssd to ssd",
    });
    const big = await eventually(
      () =>
        c
          .find(pods, "default", "big")
          ?.status.conditions?.find((x: Json) => x.type === "PodScheduled" && x.status === "False"),
      5000,
      "unschedulable condition",
    );
    expect(big.reason).toBe("Unschedulable");
    expect(big.message).toContain("Insufficient cpu");
    expect(c.find(pods, "default", "big")?.spec.nodeName).toBeUndefined();
  });

  it("the EndpointSlice controller tracks readiness and termination, 100 endpoints per slice", async () => {
    server = await startApiServer({ controllers: { scheduler: false, nodeLifecycle: false } });
    const c = server.core;
    c.create(services, "default", {
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    });
    const ready = (ip: string) => ({
      phase: "Running",
      podIP: ip,
      conditions: [{ type: "Ready", status: "True" }],
    });
    for (let i = 0; i < 150; i++) {
      c.create(
        pods,
        "default",
        podBody(`p${String(i).padStart(3, "0")}`, {
          nodeName: "n1",
          containers: [{ name: "c", image: "x:1", ports: [{ name: "http", containerPort: 8080 }] }],
        }),
      );
      const status =
        i === 0 ? { phase: "Running", podIP: "10.1.0.250" } : ready(`10.1.${Math.floor(i / 200)}.${i % 200}`);
      c.mutate(pods, "default", `p${String(i).padStart(3, "0")}`, (p) => ({ ...p, status }), "status");
    }
    const mine = () =>
      server!.storage
        .list(slices.key, "default")
        .filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === "web");
    await eventually(
      () => mine().reduce((n, s) => n + (s.endpoints?.length ?? 0), 0) === 150,
      5000,
      "150 endpoints",
    );
    expect(
      mine()
        .map((s) => s.endpoints.length)
        .sort(),
    ).toEqual([100, 50]);
    expect(mine()[0]?.ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }]);
    const all = mine().flatMap((s) => s.endpoints);
    expect(all.find((e: Json) => e.targetRef.name === "p000").conditions).toEqual({
      ready: false,
      serving: false,
      terminating: false,
    });
    expect(all.find((e: Json) => e.targetRef.name === "p001").conditions).toEqual({
      ready: true,
      serving: true,
      terminating: false,
    });
    c.delete(pods, "default", "p001"); // bound: graceful, stays terminating
    await eventually(
      () =>
        mine()
          .flatMap((s) => s.endpoints)
          .find((e: Json) => e.targetRef.name === "p001")?.conditions.terminating,
      5000,
      "terminating endpoint",
    );
    expect(
      mine()
        .flatMap((s) => s.endpoints)
        .find((e: Json) => e.targetRef.name === "p001").conditions,
    ).toEqual({ ready: false, serving: true, terminating: true });
    // deleting the service garbage-collects its slices through their ownerReferences
    c.delete(services, "default", "web");
    await eventually(() => mine().length === 0, 5000, "slices removed");
  });

  it("the node lifecycle controller marks silent nodes Unknown and evicts after tolerationSeconds", async () => {
    let nowMs = Date.parse("2026-01-01T00:00:00Z");
    server = await startApiServer({
      clock: { now: () => nowMs },
      controllers: { scheduler: false, endpointSlices: false },
      controllerSyncIntervalMs: 60_000,
    });
    const c = server.core;
    c.create(nodes, "", readyNode("n1", {}, new Date(nowMs).toISOString()));
    c.create(leases, "kube-node-lease", {
      metadata: { name: "n1" },
      spec: { holderIdentity: "n1", leaseDurationSeconds: 40, renewTime: new Date(nowMs).toISOString() },
    });
    c.create(pods, "default", podBody("default-tol", { nodeName: "n1" }));
    c.mutate(
      pods,
      "default",
      "default-tol",
      (p) => ({ ...p, status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } }),
      "status",
    );
    c.create(
      pods,
      "default",
      podBody("short-tol", {
        nodeName: "n1",
        tolerations: [
          {
            key: "node.kubernetes.io/unreachable",
            operator: "Exists",
            effect: "NoExecute",
            tolerationSeconds: 10,
          },
        ],
      }),
    );
    await server.syncControllers();
    nowMs += 30_000;
    await server.syncControllers();
    expect(c.find(nodes, "", "n1")?.status.conditions[0].status).toBe("True");
    nowMs += 15_000; // 45 s without a lease renewal > 40 s grace
    await server.syncControllers();
    const node = c.find(nodes, "", "n1")!;
    expect(node.status.conditions.find((x: Json) => x.type === "Ready")).toMatchObject({
      status: "Unknown",
      reason: "NodeStatusUnknown",
    });
    // MarkPodsNotReady
    expect(c.find(pods, "default", "default-tol")?.status.conditions[0]).toMatchObject({
      type: "Ready",
      status: "False",
    });
    expect(node.spec.taints.map((t: Json) => `${t.key}:${t.effect}`).sort()).toEqual([
      "node.kubernetes.io/unreachable:NoExecute",
      "node.kubernetes.io/unreachable:NoSchedule",
    ]);
    nowMs += 11_000;
    await server.syncControllers();
    expect(c.find(pods, "default", "short-tol")?.metadata.deletionTimestamp).toBeDefined();
    expect(c.find(pods, "default", "default-tol")?.metadata.deletionTimestamp).toBeUndefined();
    nowMs += 300_000;
    await server.syncControllers();
    expect(c.find(pods, "default", "default-tol")?.metadata.deletionTimestamp).toBeDefined();
    // the kubelet comes back: renewing the lease and posting Ready clears the taints
    c.mutate(leases, "kube-node-lease", "n1", (l) => ({
      ...l,
      spec: { ...l.spec, renewTime: new Date(nowMs).toISOString() },
    }));
    c.mutate(
      nodes,
      "",
      "n1",
      (n) => ({
        ...n,
        status: {
          ...n.status,
          conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: new Date(nowMs).toISOString() }],
        },
      }),
      "status",
    );
    await server.syncControllers();
    expect(c.find(nodes, "", "n1")?.spec.taints).toBeUndefined();
  });

  it("namespaces get a default service account and deletion removes their content", async () => {
    server = await startApiServer({ controllers: { scheduler: false, nodeLifecycle: false } });
    const c = server.core;
    c.create(namespaces, "", { metadata: { name: "team" } });
    await eventually(
      () => c.find(serviceaccounts, "team", "default") && c.find(configmaps, "team", "kube-root-ca.crt"),
      5000,
      "default service account",
    );
    expect(c.find(configmaps, "team", "kube-root-ca.crt")?.data["ca.crt"]).toBe(server.caPem);
    c.create(configmaps, "team", { metadata: { name: "cfg" } });
    c.delete(namespaces, "", "team");
    expect(c.find(namespaces, "", "team")?.status.phase).toBe("Terminating");
    expect(() => c.create(configmaps, "team", { metadata: { name: "late" } })).toThrow(
      /because it is being terminated/,
    );
    await eventually(() => !c.find(namespaces, "", "team"), 5000, "namespace removal");
    expect(server.storage.list(configmaps.key, "team")).toEqual([]);
  });

  it("optionally adds the service account API-access volume like the admission plugin", async () => {
    server = await startApiServer({ serviceAccountTokenVolume: true, controllers: { scheduler: false } });
    const p = server.core.create(pods, "default", podBody("sa"));
    const vol = p.spec.volumes.find((v: Json) => v.name.startsWith("kube-api-access-"));
    expect(vol.projected.sources.map((s: Json) => Object.keys(s)[0])).toEqual([
      "serviceAccountToken",
      "configMap",
      "downwardAPI",
    ]);
    expect(p.spec.containers[0].volumeMounts).toEqual([
      { name: vol.name, readOnly: true, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" },
    ]);
    const off = server.core.create(
      pods,
      "default",
      podBody("no-sa", { automountServiceAccountToken: false }),
    );
    expect(off.spec.volumes).toBeUndefined();
  });

  it("controllers can be switched off", async () => {
    server = await startApiServer({
      controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false, namespaces: false },
    });
    const c = server.core;
    c.create(nodes, "", readyNode("n1"));
    c.create(pods, "default", podBody("stays-pending"));
    c.create(namespaces, "", { metadata: { name: "bare" } });
    await server.syncControllers();
    expect(c.find(pods, "default", "stays-pending")?.spec.nodeName).toBeUndefined();
    expect(c.find(serviceaccounts, "bare", "default")).toBeUndefined();
  });
});
