// Registration and status reporting against the testkit API server simulator over real HTTPS,
// checked with kubectl as an independent client.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  createFakeClock,
  createKubeClient,
  type FakeClock,
  type KubeClient,
  loadKubeConfig,
  silentLogger,
} from "@kubenode/kube";
import { type ApiServer, advanceFakeClock, startApiServer, waitFor } from "@kubenode/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHostMachineInfoProvider, readMemTotalBytes } from "./host.js";
import type { NodePressure, RuntimeInfoProvider } from "./providers.js";
import { formatBytes } from "./quantity.js";
import { createNodeStatusReporter, type NodeStatusReporter } from "./reporter.js";
import type { Node } from "./types.js";

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

// Async: the simulator runs in this process, so a blocking child would deadlock it.
const kubectl = async (...args: string[]) =>
  (
    await promisify(execFile)("kubectl", ["--kubeconfig", server.kubeconfigPath, ...args], {
      encoding: "utf8",
    })
  ).stdout;

async function clientFor(identity: string): Promise<KubeClient> {
  const path = identity === "admin" ? server.kubeconfigPath : await server.kubeconfigFor(identity);
  const client = createKubeClient(loadKubeConfig({ path }));
  cleanups.push(() => client.close());
  return client;
}

const runtime: RuntimeInfoProvider = {
  version: async () => ({ name: "containerd", version: "1.6.20" }),
  status: async () => ({
    conditions: [
      { type: "RuntimeReady", status: true },
      { type: "NetworkReady", status: true },
    ],
  }),
};

interface Rig {
  reporter: NodeStatusReporter;
  clock: FakeClock;
  /** What the reporter logged as errors: the message and the error's code. */
  errors: { msg: string; code: string | undefined; causeCode: string | undefined }[];
}

async function rig(
  nodeName: string,
  identity = `system:node:${nodeName}`,
  over: { pressure?: () => NodePressure; bootID?: () => string } = {},
): Promise<Rig> {
  const clock = createFakeClock(Date.now());
  const errors: Rig["errors"] = [];
  const code = (e: unknown) => (e as { code?: string } | undefined)?.code;
  const host = createHostMachineInfoProvider({ rootDir: "/" });
  const reporter = createNodeStatusReporter({
    client: await clientFor(identity),
    nodeName,
    clock,
    nodeIPs: ["10.0.0.10"],
    kubeletVersion: "v1.32.0",
    providers: {
      machine: {
        machineInfo: async () => {
          const m = await host.machineInfo();
          return over.bootID ? { ...m, bootID: over.bootID() } : m;
        },
      },
      runtime,
      pressure: { pressure: async () => over.pressure?.() ?? { memory: false, disk: false, pid: false } },
    },
    // A label a kubelet may set on its own Node (NodeRestriction refuses node-role.kubernetes.io/*).
    register: { labels: { "node.kubernetes.io/instance-type": "kubenode-test" } },
    logger: {
      ...silentLogger,
      error: (msg, err) => errors.push({ msg, code: code(err), causeCode: code((err as Error).cause) }),
    },
  });
  cleanups.push(() => reporter.stop());
  return { reporter, clock, errors };
}

const statusPatches = () =>
  server.requests.filter((r) => r.resource === "nodes" && r.subresource === "status" && r.verb === "patch");

describe("node registration and status against the API server", () => {
  it("registers a new Node that kubectl shows Ready with a status a Kubernetes user recognises", async () => {
    const { reporter, clock } = await rig("node-a");
    reporter.start();
    await reporter.registered();
    await advanceFakeClock(clock, 0);
    const table = await kubectl("get", "nodes", "--no-headers");
    expect(table).toMatch(/^node-a\s+Ready\s+/m);
    const yaml = await kubectl("get", "node", "node-a", "-o", "yaml");
    for (const line of [
      "kubernetes.io/hostname: node-a",
      "kubernetes.io/os: linux",
      'volumes.kubernetes.io/controller-managed-attach-detach: "true"',
      "reason: KubeletReady",
      "message: kubelet is posting ready status",
      "reason: KubeletHasSufficientMemory",
      "reason: KubeletHasNoDiskPressure",
      "reason: KubeletHasSufficientPID",
      "containerRuntimeVersion: containerd://1.6.20",
      "kubeletVersion: v1.32.0",
      "type: InternalIP",
      "address: 10.0.0.10",
      "Port: 10250",
    ]) {
      expect(yaml).toContain(line);
    }
    const node = JSON.parse(await kubectl("get", "node", "node-a", "-o", "json")) as Node;
    const { availableParallelism } = await import("node:os");
    expect(node.status?.capacity?.cpu).toBe(String(availableParallelism()));
    expect(node.status?.capacity?.memory).toBe(formatBytes(readMemTotalBytes()));
    expect(node.status?.capacity?.pods).toBe("110");
    expect(node.metadata.uid).toBe(reporter.node?.metadata.uid);
  });

  it("reconciles a Node that already exists instead of failing", async () => {
    const admin = await clientFor("admin");
    const existing = await admin.request<Node>({
      method: "POST",
      path: "/api/v1/nodes",
      body: {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "node-a", labels: { "kubernetes.io/hostname": "stale", team: "blue" } },
      },
    });
    const { reporter, errors } = await rig("node-a");
    reporter.start();
    const node = await reporter.registered();
    expect(node.metadata.uid).toBe(existing.metadata.uid);
    const now = JSON.parse(await kubectl("get", "node", "node-a", "-o", "json")) as Node;
    expect(now.metadata.labels).toMatchObject({
      "kubernetes.io/hostname": "node-a",
      team: "blue",
      "kubernetes.io/os": "linux",
    });
    expect(now.status?.capacity?.pods).toBe("110");
    expect(errors).toEqual([]);
  });

  it("patches status only when it changes, or every 5 minutes", async () => {
    let pressure: NodePressure = { memory: false, disk: false, pid: false };
    const { reporter, clock } = await rig("node-a", undefined, { pressure: () => pressure });
    reporter.start();
    await reporter.registered();
    await advanceFakeClock(clock, 0);
    server.requests.length = 0;
    await advanceFakeClock(clock, 290_000);
    expect(statusPatches()).toHaveLength(0);
    expect(server.requests.filter((r) => r.resource === "nodes" && r.verb === "get")).toHaveLength(0);
    await advanceFakeClock(clock, 10_000);
    expect(statusPatches().map((r) => `${r.patchType}:${r.code}`)).toEqual(["strategic:200"]);

    pressure = { memory: true, disk: false, pid: false };
    await advanceFakeClock(clock, 10_000);
    expect(statusPatches()).toHaveLength(2);
    const node = JSON.parse(await kubectl("get", "node", "node-a", "-o", "json")) as Node;
    const mem = node.status?.conditions?.find((c) => c.type === "MemoryPressure");
    expect(mem).toMatchObject({ status: "True", reason: "KubeletHasInsufficientMemory" });
    const ready = node.status?.conditions?.find((c) => c.type === "Ready");
    expect(mem?.lastTransitionTime).not.toBe(ready?.lastTransitionTime);
    expect(ready?.lastHeartbeatTime).toBe(mem?.lastHeartbeatTime);
  });

  it("records a Rebooted warning event when the boot ID changes", async () => {
    let boot = "11111111-1111-1111-1111-111111111111";
    const { reporter, clock } = await rig("node-a", undefined, { bootID: () => boot });
    reporter.start();
    await reporter.registered();
    await advanceFakeClock(clock, 0);
    boot = "22222222-2222-2222-2222-222222222222";
    await advanceFakeClock(clock, 10_000);
    await waitFor(
      "events",
      () =>
        server.requests.some((r) => r.resource === "events" && r.verb === "create" && r.code === 201)
          ? true
          : undefined,
      { intervalMs: 5, timeoutMs: 10_000 },
    );
    let events: { items: { reason: string; type: string; message: string }[] } = { items: [] };
    for (let i = 0; i < 50 && !events.items.some((e) => e.reason === "Rebooted"); i++) {
      events = JSON.parse(await kubectl("get", "events", "-n", "default", "-o", "json"));
    }
    expect(events.items.find((e) => e.reason === "Rebooted")).toMatchObject({
      type: "Warning",
      message: `Node node-a has been rebooted, boot id: ${boot}`,
    });
    expect(events.items.map((e) => e.reason)).toContain("NodeReady");
  });

  it("recovers after the API server is down for 60 s", async () => {
    let pressure: NodePressure = { memory: false, disk: false, pid: false };
    const { reporter, clock, errors } = await rig("node-a", undefined, { pressure: () => pressure });
    reporter.start();
    await reporter.registered();
    await advanceFakeClock(clock, 0);
    await server.suspend();
    pressure = { memory: false, disk: false, pid: true };
    await advanceFakeClock(clock, 60_000);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.msg === "Error updating node status, will retry")).toBe(true);
    await server.resume();
    await advanceFakeClock(clock, 10_000);
    const node = JSON.parse(await kubectl("get", "node", "node-a", "-o", "json")) as Node;
    expect(node.status?.conditions?.find((c) => c.type === "PIDPressure")?.status).toBe("True");
  });

  it("retries a status patch that fails with injected 409s, re-reading the Node", async () => {
    let pressure: NodePressure = { memory: false, disk: false, pid: false };
    const { reporter, clock, errors } = await rig("node-a", undefined, { pressure: () => pressure });
    reporter.start();
    await reporter.registered();
    await advanceFakeClock(clock, 0);
    server.requests.length = 0;
    server.injectFault({ verb: "patch", resource: "nodes", subresource: "status", status: 409, times: 2 });
    pressure = { memory: false, disk: true, pid: false };
    await advanceFakeClock(clock, 10_000);
    const calls = server.requests.filter((r) => r.resource === "nodes").map((r) => `${r.verb}:${r.code}`);
    expect(calls).toEqual(["patch:409", "get:200", "patch:409", "get:200", "patch:200"]);
    expect(errors.map((e) => [e.msg, e.code, e.causeCode])).toEqual([
      ["Error updating node status, will retry", "UpdateFailed", "Conflict"],
      ["Error updating node status, will retry", "UpdateFailed", "Conflict"],
    ]);
    const node = JSON.parse(await kubectl("get", "node", "node-a", "-o", "json")) as Node;
    expect(node.status?.conditions?.find((c) => c.type === "DiskPressure")?.status).toBe("True");
  });

  it("NodeRestriction: node-a's identity cannot register or patch node-b", async () => {
    const { reporter, clock, errors } = await rig("node-b", "system:node:node-a");
    reporter.start();
    await advanceFakeClock(clock, 1_000);
    expect(errors[0]).toMatchObject({ msg: "Unable to register node with API server", code: "Forbidden" });
    expect(await kubectl("get", "nodes", "-o", "name")).not.toContain("node-b");
  });
});
