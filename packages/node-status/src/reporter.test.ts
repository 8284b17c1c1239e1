import { createFakeClock } from "@kubenode/kube";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeNodeApi } from "./__tests__/fake-node-api.js";
import type { MachineInfo, NodePressure } from "./providers.js";
import { createNodeStatusReporter, type NodeStatusReporter } from "./reporter.js";

const running: NodeStatusReporter[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

const T0 = Date.UTC(2026, 0, 1);

function setup(over: { bootID?: () => string; pressure?: () => NodePressure } = {}) {
  const clock = createFakeClock(T0);
  const api = createFakeNodeApi();
  const machine: MachineInfo = {
    cpuCores: 8,
    memoryBytes: 32 * 2 ** 30,
    hugePagesBytes: {},
    ephemeralStorageBytes: 200 * 2 ** 30,
    machineID: "mid",
    systemUUID: "suuid",
    bootID: "boot-1",
    kernelVersion: "6.1.0",
    osImage: "Test OS",
    operatingSystem: "linux",
    architecture: "arm64",
  };
  const reporter = createNodeStatusReporter({
    client: api.client,
    nodeName: "virt-1",
    clock,
    providers: {
      machine: { machineInfo: async () => ({ ...machine, bootID: over.bootID?.() ?? machine.bootID }) },
      addresses: {
        addresses: async () => [
          { type: "InternalIP", address: "10.1.0.1" },
          { type: "Hostname", address: "virt-1" },
        ],
      },
      pressure: { pressure: async () => over.pressure?.() ?? { memory: false, disk: false, pid: false } },
      extendedResources: () => ({ "nvidia.com/gpu": "8" }),
    },
    register: {
      labels: { type: "virtual" },
      taints: [{ key: "virtual-kubelet.io/provider", value: "sim", effect: "NoSchedule" }],
    },
  });
  running.push(reporter);
  return { clock, api, reporter };
}

const patches = (api: ReturnType<typeof createFakeNodeApi>) => api.calls.filter((c) => c.method === "PATCH");

describe("node status reporter", () => {
  it("registers the node with default labels, taints and a full status", async () => {
    const { clock, api, reporter } = setup();
    reporter.start();
    await clock.step(0);
    const node = api.nodes.get("virt-1")!;
    expect(node.metadata.labels).toEqual({
      type: "virtual",
      "kubernetes.io/hostname": "virt-1",
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "arm64",
    });
    expect(node.metadata.annotations?.["volumes.kubernetes.io/controller-managed-attach-detach"]).toBe(
      "true",
    );
    expect(node.spec?.taints).toEqual([
      { key: "virtual-kubelet.io/provider", value: "sim", effect: "NoSchedule" },
    ]);
    expect(node.status?.capacity).toMatchObject({
      cpu: "8",
      memory: "32Gi",
      pods: "110",
      "nvidia.com/gpu": "8",
    });
    expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect((await reporter.registered()).metadata.uid).toBe("uid-1");
  });

  it("patches only on change, else every 5 minutes, with a strategic merge patch of the status subresource", async () => {
    let pressure: NodePressure = { memory: false, disk: false, pid: false };
    const { clock, api, reporter } = setup({ pressure: () => pressure });
    reporter.start();
    await clock.step(0);
    expect(patches(api)).toHaveLength(0); // created with status; nothing changed yet
    await clock.step(10_000 * 29);
    expect(patches(api)).toHaveLength(0);
    await clock.step(10_000); // 300 s since the report at registration
    expect(patches(api)).toHaveLength(1);
    const p = patches(api)[0]!;
    expect(p.path).toBe("/api/v1/nodes/virt-1/status");
    expect(p.contentType).toBe("application/strategic-merge-patch+json");
    expect(Object.keys((p.body as { status: object }).status)).toEqual(["conditions"]);

    pressure = { memory: false, disk: true, pid: false };
    await clock.step(10_000);
    expect(patches(api)).toHaveLength(2);
    const disk = api.nodes.get("virt-1")!.status!.conditions!.find((c) => c.type === "DiskPressure")!;
    expect(disk).toMatchObject({
      status: "True",
      reason: "KubeletHasDiskPressure",
      lastTransitionTime: "2026-01-01T00:05:10Z",
    });
    await clock.step(10_000);
    expect(patches(api)).toHaveLength(2);
    await clock.step(0);
    expect(api.events.map((e) => e.reason)).toContain("NodeHasDiskPressure");
  });

  it("records a Rebooted warning when the boot ID changes", async () => {
    let boot = "boot-1";
    const { clock, api, reporter } = setup({ bootID: () => boot });
    reporter.start();
    await clock.step(0);
    boot = "boot-2";
    await clock.step(10_000);
    const rebooted = api.events.find((e) => e.reason === "Rebooted")!;
    expect(rebooted).toMatchObject({
      type: "Warning",
      message: "Node virt-1 has been rebooted, boot id: boot-2",
      involvedObject: { kind: "Node", name: "virt-1", uid: "virt-1" },
    });
  });

  it("reconciles an existing Node instead of failing (AlreadyExists)", async () => {
    const { clock, api, reporter } = setup();
    api.nodes.set("virt-1", {
      metadata: {
        name: "virt-1",
        uid: "old-uid",
        labels: { "kubernetes.io/hostname": "wrong", custom: "kept" },
      },
      status: { capacity: { cpu: "1", "hugepages-1Gi": "2Gi" } },
    });
    reporter.start();
    await clock.step(0);
    const node = api.nodes.get("virt-1")!;
    expect(node.metadata.uid).toBe("old-uid");
    expect(node.metadata.labels).toMatchObject({
      "kubernetes.io/hostname": "virt-1",
      custom: "kept",
      "kubernetes.io/arch": "arm64",
    });
    expect(node.status?.capacity?.cpu).toBe("8");
    expect(node.status?.capacity?.["hugepages-1Gi"]).toBeUndefined();
  });

  it("retries a failed update, reading the Node again", async () => {
    let pressure: NodePressure = { memory: false, disk: false, pid: false };
    const { clock, api, reporter } = setup({ pressure: () => pressure });
    reporter.start();
    await clock.step(0);
    pressure = { memory: true, disk: false, pid: false };
    api.inject("PATCH", api.fail(500, "InternalError", "etcd leader changed"), 2);
    api.calls.length = 0;
    await clock.step(10_000);
    expect(api.calls.filter((c) => !c.path.includes("events")).map((c) => c.method)).toEqual([
      "PATCH",
      "GET",
      "PATCH",
      "GET",
      "PATCH",
    ]);
    expect(
      api.nodes.get("virt-1")!.status!.conditions!.find((c) => c.type === "MemoryPressure")!.status,
    ).toBe("True");
  });

  it("refuses an invalid node name", () => {
    const api = createFakeNodeApi();
    expect(() => createNodeStatusReporter({ client: api.client, nodeName: "UPPER" })).toThrow(
      /not a valid node name/,
    );
  });
});
