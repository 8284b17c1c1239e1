// The node module against real peers: the API server simulator (Node, Lease, Events) and a private
// containerd (runtime version and health, images, CRI stats, image filesystem). The kubelet is
// represented by its interface (active pods, pod killer, PLEG health), which the test controls.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CriClient, createCriClient } from "@kubenode/cri-client";
import { createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import type { Node } from "@kubenode/node-status";
import {
  type ApiServer,
  type Containerd,
  canUseRealComponents,
  startApiServer,
  startContainerd,
  waitFor,
} from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pod, PodStatus } from "../api.js";
import type { PlegHealth } from "../kubelet.js";
import type { PodRuntime } from "../runtime/types.js";
import { createNodeModule, type NodeModule, type NodeModuleOptions } from "./node-module.js";

const realComponents = await canUseRealComponents();

/** The runtime surface the node module reads, on the real CRI client. */
function criRuntime(cri: CriClient): Pick<PodRuntime, "version" | "health"> {
  return {
    async version() {
      const v = await cri.version({});
      return {
        runtimeName: v.runtimeName,
        runtimeVersion: v.runtimeVersion,
        runtimeApiVersion: v.runtimeApiVersion,
      };
    },
    async health() {
      const { status } = await cri.status({});
      const get = (t: string) => status?.conditions.find((c) => c.type === t)?.status ?? false;
      return { runtimeReady: get("RuntimeReady"), networkReady: get("NetworkReady") };
    },
  };
}

/** The kubelet as the node module sees it, driven by the test. */
function fakeKubelet() {
  const state = {
    pods: [] as Pod[],
    pleg: { healthy: true } as PlegHealth,
    killed: [] as { pod: Pod; gracePeriodSeconds: number; status?: PodStatus }[],
  };
  return {
    state,
    kubelet: {
      activePods: () => state.pods,
      plegHealth: () => state.pleg,
      async killPod(pod: Pod, opts: { gracePeriodSeconds: number; status?: PodStatus }) {
        state.killed.push({ pod, ...opts });
        state.pods = state.pods.filter((p) => p.metadata.uid !== pod.metadata.uid);
      },
    },
  };
}

const cond = (node: Node | undefined, type: string) => node?.status?.conditions?.find((c) => c.type === type);

describe.runIf(realComponents)("node module (API simulator + containerd)", () => {
  let containerd: Containerd;
  let server: ApiServer;
  let admin: KubeClient;
  let cri: CriClient;
  let tmp: string;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    [containerd, server] = await Promise.all([
      startContainerd(),
      startApiServer({ controllers: { nodeLifecycle: false } }),
    ]);
    cleanup.push(
      () => containerd.stop(),
      () => server.stop(),
    );
    tmp = await mkdtemp(join(tmpdir(), "kubenode-node-module-"));
    cleanup.push(() => rm(tmp, { recursive: true, force: true }));
    admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
    cri = createCriClient({ endpoint: containerd.endpoint });
    cleanup.push(
      async () => admin.close(),
      async () => cri.close(),
    );
  }, 180_000);

  afterAll(async () => {
    const errors: unknown[] = [];
    for (const fn of cleanup.reverse()) await fn().catch((e) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  });

  async function nodeClient(name: string): Promise<KubeClient> {
    const c = createKubeClient(loadKubeConfig({ path: await server.kubeconfigFor(`system:node:${name}`) }));
    cleanup.push(async () => c.close());
    return c;
  }

  async function startModule(name: string, over: Partial<NodeModuleOptions> & { withoutCri?: boolean } = {}) {
    const fake = fakeKubelet();
    const { withoutCri, ...rest } = over;
    const module: NodeModule = createNodeModule({
      nodeName: name,
      client: await nodeClient(name),
      runtime: criRuntime(cri),
      ...(withoutCri ? {} : { cri }),
      kubelet: fake.kubelet,
      evictionIntervalMs: 200,
      ...rest,
      config: {
        rootDir: tmp,
        nodeStatusUpdateFrequencyMs: 200,
        nodeLeaseDurationSeconds: 1,
        ...over.config,
      },
    });
    cleanup.push(() => module.stop());
    module.start();
    return { module, fake };
  }

  const getNode = (name: string) =>
    admin.request<Node>({ method: "GET", path: `/api/v1/nodes/${name}` }).catch(() => undefined);

  it("registers the Node with labels, taints, capacity, runtime version and images, Ready from runtime and PLEG", async () => {
    const { fake } = await startModule("reg-node", {
      config: {
        maxPods: 7,
        nodeLabels: { "node.kubernetes.io/pool": "edge" },
        registerWithTaints: [{ key: "dedicated", value: "edge", effect: "NoSchedule" }],
        nodeIPs: ["127.0.0.1"],
        kubeletVersion: "v0.0.0-test",
      },
    });
    const node = await waitFor(
      "node registered and Ready",
      async () => {
        const n = await getNode("reg-node");
        return cond(n, "Ready")?.status === "True" && n?.status?.images?.length ? n : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(node.metadata.labels).toMatchObject({
      "kubernetes.io/hostname": "reg-node",
      "kubernetes.io/os": "linux",
      "node.kubernetes.io/pool": "edge",
    });
    expect(node.spec?.taints).toEqual([{ key: "dedicated", value: "edge", effect: "NoSchedule" }]);
    expect(node.status?.capacity?.pods).toBe("7");
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\/\S+/);
    expect(node.status?.nodeInfo?.kubeletVersion).toBe("v0.0.0-test");
    expect(node.status?.addresses).toContainEqual({ type: "InternalIP", address: "127.0.0.1" });
    const names = node.status!.images!.flatMap((i) => i.names);
    expect(names.some((n) => n.includes("busybox"))).toBe(true);
    expect(cond(node, "Ready")).toMatchObject({
      reason: "KubeletReady",
      message: "kubelet is posting ready status",
    });
    expect(cond(node, "MemoryPressure")?.status).toBe("False");

    // PLEG health feeds Ready.
    fake.state.pleg = {
      healthy: false,
      message: "PLEG is not healthy: pleg was last seen active 3m10s ago; threshold is 3m0s",
    };
    const notReady = await waitFor(
      "node NotReady from PLEG",
      async () => {
        const n = await getNode("reg-node");
        return cond(n, "Ready")?.status === "False" ? n : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(cond(notReady, "Ready")).toMatchObject({
      reason: "KubeletNotReady",
      message: "PLEG is not healthy: pleg was last seen active 3m10s ago; threshold is 3m0s",
    });
    fake.state.pleg = { healthy: true };
    await waitFor(
      "node Ready again",
      async () => (cond(await getNode("reg-node"), "Ready")?.status === "True" ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
  });

  it("without a CRI client, takes Ready from the runtime module's health (a virtual node)", async () => {
    const health = {
      runtimeReady: true,
      networkReady: false,
      message:
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:cni plugin not initialized",
    };
    await startModule("virtual-node", {
      withoutCri: true,
      runtime: {
        version: async () => ({ runtimeName: "virtual", runtimeVersion: "1.0.0", runtimeApiVersion: "v1" }),
        health: async () => health,
      },
    });
    const node = await waitFor(
      "virtual node NotReady from the network",
      async () => {
        const n = await getNode("virtual-node");
        return cond(n, "Ready")?.status === "False" ? n : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(cond(node, "Ready")?.message).toBe(health.message);
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toBe("virtual://1.0.0");
    health.networkReady = true;
    await waitFor(
      "virtual node Ready",
      async () => (cond(await getNode("virtual-node"), "Ready")?.status === "True" ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  });

  it("keeps the node's Lease renewed, owned by the Node", async () => {
    await startModule("lease-node");
    const node = await waitFor("node registered", () => getNode("lease-node"), { timeoutMs: 30_000 });
    const lease = await waitFor(
      "lease owned by the node",
      async () => {
        const l = await admin
          .request<{
            metadata: { ownerReferences?: { uid: string }[] };
            spec: { renewTime?: string; holderIdentity?: string };
          }>({
            method: "GET",
            path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/lease-node",
          })
          .catch(() => undefined);
        return l?.metadata.ownerReferences?.[0]?.uid === node.metadata.uid ? l : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(lease.spec.holderIdentity).toBe("lease-node");
    const first = lease.spec.renewTime;
    await waitFor(
      "lease renewed",
      async () => {
        const l = await admin.request<{ spec: { renewTime?: string } }>({
          method: "GET",
          path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/lease-node",
        });
        return l.spec.renewTime !== first ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  });

  it("with registerNode=false adopts the Node an administrator created, adding no labels", async () => {
    await admin.request({
      method: "POST",
      path: "/api/v1/nodes",
      body: { apiVersion: "v1", kind: "Node", metadata: { name: "adopted", labels: { owner: "admin" } } },
    });
    await startModule("adopted", { config: { registerNode: false, nodeLabels: { extra: "no" } } });
    const node = await waitFor(
      "adopted node gets status",
      async () => {
        const n = await getNode("adopted");
        return cond(n, "Ready")?.status === "True" ? n : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(node.metadata.labels).toEqual({ owner: "admin" });
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
  });

  it("admits against the registered Node: maxPods as OutOfpods, taints, selector", async () => {
    const { module } = await startModule("admit-node", {
      config: { maxPods: 1, registerWithTaints: [{ key: "only", value: "me", effect: "NoExecute" }] },
    });
    await waitFor("node registered", async () => ((await getNode("admit-node")) ? true : undefined), {
      timeoutMs: 30_000,
    });
    await waitFor("module sees the node", () => module.node(), { timeoutMs: 30_000 });
    const pod = (name: string, spec: Partial<Pod["spec"]> = {}): Pod => ({
      metadata: { name, namespace: "default", uid: `uid-${name}` },
      spec: {
        containers: [{ name: "c", image: "busybox" }],
        tolerations: [{ key: "only", operator: "Exists" }],
        ...spec,
      },
    });
    expect(await module.admit(pod("first"), [])).toEqual({ admit: true });
    expect(await module.admit(pod("second"), [pod("first")])).toEqual({
      admit: false,
      reason: "OutOfpods",
      message: "Node didn't have enough resource: pods, requested: 1, used: 1, capacity: 1",
    });
    expect(await module.admit(pod("untolerant", { tolerations: [] }), [])).toMatchObject({
      admit: false,
      reason: "TaintToleration",
    });
    expect(await module.admit(pod("elsewhere", { nodeSelector: { zone: "z" } }), [])).toMatchObject({
      admit: false,
      reason: "NodeAffinity",
    });
    // An administrator taints the Node: the next admission sees it.
    await admin.request({
      method: "PATCH",
      path: "/api/v1/nodes/admit-node",
      contentType: "application/merge-patch+json",
      body: {
        spec: {
          taints: [
            { key: "only", value: "me", effect: "NoExecute" },
            { key: "maintenance", effect: "NoExecute" },
          ],
        },
      },
    });
    await waitFor(
      "admission sees the new taint",
      async () => ((await module.admit(pod("after-taint"), [])).admit === false ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(await module.admit(pod("after-taint"), [])).toEqual({
      admit: false,
      reason: "TaintToleration",
      message: "Predicate TaintToleration failed: node(s) had untolerated taint",
    });
  });

  it("runs the eviction manager: memory pressure is reported on the Node and a pod is evicted with upstream's status", async () => {
    const { module, fake } = await startModule("pressure-node", {
      // A threshold above any real free memory: the node is under memory pressure at once.
      config: { eviction: { evictionHard: { "memory.available": "1Pi" } } },
    });
    const victim: Pod = {
      metadata: {
        name: "hog",
        namespace: "default",
        uid: "uid-hog",
        annotations: { "kubernetes.io/config.source": "api" },
      },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    };
    fake.state.pods = [victim];
    const killed = await waitFor("a pod evicted", () => fake.state.killed[0], {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    expect(killed.pod.metadata.name).toBe("hog");
    expect(killed.gracePeriodSeconds).toBe(1);
    expect(killed.status).toMatchObject({
      phase: "Failed",
      reason: "Evicted",
      message: expect.stringMatching(
        /^The node was low on resource: memory\. Threshold quantity: 1Pi, available: \d+/,
      ),
      conditions: [{ type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet" }],
    });
    const node = await waitFor(
      "MemoryPressure True on the Node",
      async () => {
        const n = await getNode("pressure-node");
        return cond(n, "MemoryPressure")?.status === "True" ? n : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(cond(node, "MemoryPressure")?.reason).toBe("KubeletHasInsufficientMemory");
    // Under memory pressure a BestEffort pod is refused before anything else is checked.
    expect(
      await module.admit(
        { metadata: { name: "be", namespace: "default", uid: "be" }, spec: { containers: [{ name: "c" }] } },
        [],
      ),
    ).toMatchObject({
      admit: false,
      reason: "Evicted",
    });
    const events = await admin.request<{ items: { reason: string; involvedObject: { name: string } }[] }>({
      method: "GET",
      path: "/api/v1/namespaces/default/events",
    });
    expect(events.items.some((e) => e.reason === "Evicted" && e.involvedObject.name === "hog")).toBe(true);
  });

  it("in standalone mode admits against a locally computed Node and still runs eviction", async () => {
    const fake = fakeKubelet();
    const module = createNodeModule({
      nodeName: "solo",
      runtime: criRuntime(cri),
      cri,
      kubelet: fake.kubelet,
      evictionIntervalMs: 200,
      config: { rootDir: tmp, maxPods: 2 },
    });
    cleanup.push(() => module.stop());
    module.start();
    expect(module.status).toBeUndefined();
    const p = (n: string): Pod => ({ metadata: { name: n, uid: n }, spec: { containers: [{ name: "c" }] } });
    expect(await module.admit(p("a"), [p("b"), p("c")])).toMatchObject({ admit: false, reason: "OutOfpods" });
    expect(module.node()?.status?.allocatable?.pods).toBe("2");
    await waitFor(
      "eviction observed the node",
      () => (module.eviction.lastObservations().get("memory.available") ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    );
    await module.stop();
  });
});
