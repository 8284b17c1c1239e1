import { describe, expect, it } from "vitest";
import type { MachineInfo } from "./providers.js";
import { amountOf, formatBytes, formatCpuMillis } from "./quantity.js";
import {
  computeNodeStatus,
  computeResources,
  reportedImages,
  type StatusInputs,
  statusChanged,
  statusPatch,
} from "./status.js";

const GiB = 2 ** 30;
const machine: MachineInfo = {
  cpuCores: 4,
  memoryBytes: 16 * GiB,
  hugePagesBytes: { [2 * 2 ** 20]: GiB },
  ephemeralStorageBytes: 100 * GiB,
  machineID: "m",
  systemUUID: "u",
  bootID: "b1",
  kernelVersion: "6.1.0",
  osImage: "Debian GNU/Linux 12 (bookworm)",
  operatingSystem: "linux",
  architecture: "amd64",
};

const inputs = (over: Partial<StatusInputs> = {}): StatusInputs => ({
  machine,
  addresses: [
    { type: "InternalIP", address: "10.0.0.1" },
    { type: "Hostname", address: "n1" },
  ],
  runtimeVersion: { name: "containerd", version: "1.6.20" },
  runtime: {
    kind: "ok",
    conditions: [
      { type: "RuntimeReady", status: true },
      { type: "NetworkReady", status: true },
    ],
  },
  pressure: { memory: false, disk: false, pid: false },
  images: [],
  readinessErrors: [],
  extendedResources: {},
  ...over,
});

const T0 = Date.UTC(2026, 0, 1);

describe("quantities", () => {
  it("parses and formats like the API server", () => {
    expect(amountOf("100m", "kubeReserved.cpu")).toBeCloseTo(0.1);
    expect(amountOf("1.5Gi", "kubeReserved.cpu")).toBe(1.5 * GiB);
    expect(amountOf("2e3", "kubeReserved.cpu")).toBe(2000);
    expect(amountOf("1k", "kubeReserved.cpu")).toBe(1000);
    expect(() => amountOf("ten", "kubeReserved.cpu")).toThrow(
      'kubeReserved.cpu: "ten" is not a Kubernetes quantity',
    );
    expect(formatCpuMillis(4000)).toBe("4");
    expect(formatCpuMillis(3900)).toBe("3900m");
    expect(formatBytes(16302532 * 1024)).toBe("16302532Ki");
    expect(formatBytes(2 * GiB)).toBe("2Gi");
    // Under 1024, BinarySI prints as DecimalSI (apimachinery Quantity.String).
    expect(formatBytes(1000)).toBe("1k");
    expect(formatBytes(1023)).toBe("1023");
  });
});

describe("capacity and allocatable", () => {
  it("subtracts kube-reserved, system-reserved, hard eviction and hugepages", () => {
    const r = computeResources(
      machine,
      { "nvidia.com/gpu": "2" },
      {
        nodeName: "n1",
        kubeReserved: { cpu: "100m", memory: "1Gi" },
        systemReserved: { cpu: "0.5", memory: "512Mi", "ephemeral-storage": "10Gi" },
      },
    );
    expect(r.capacity).toEqual({
      cpu: "4",
      memory: "16Gi",
      pods: "110",
      "ephemeral-storage": "100Gi",
      "hugepages-2Mi": "1Gi",
      "nvidia.com/gpu": "2",
    });
    // 16Gi - 1Gi - 512Mi - 100Mi (eviction) - 1Gi (hugepages)
    expect(r.allocatable.memory).toBe(formatBytes(16 * GiB - GiB - 512 * 2 ** 20 - 100 * 2 ** 20 - GiB));
    expect(r.allocatable.cpu).toBe("3400m");
    // 100Gi - 10Gi - 10% of 100Gi
    expect(r.allocatable["ephemeral-storage"]).toBe("80Gi");
    expect(r.allocatable["nvidia.com/gpu"]).toBe("2");
  });

  it("floors at zero and rejects bad reservations", () => {
    const r = computeResources(
      { ...machine, cpuCores: 1 },
      {},
      { nodeName: "n", kubeReserved: { cpu: "2" } },
    );
    expect(r.allocatable.cpu).toBe("0");
    expect(() => computeResources(machine, {}, { nodeName: "n", kubeReserved: { memory: "lots" } })).toThrow(
      /kubeReserved.memory/,
    );
    expect(() =>
      computeResources(machine, {}, { nodeName: "n", evictionHard: { "nodefs.available": "150%" } }),
    ).toThrow(/percentage/);
  });
});

describe("conditions", () => {
  it("reports Ready with upstream reasons and keeps lastTransitionTime until status changes", () => {
    const first = computeNodeStatus(inputs(), undefined, { nodeName: "n1" }, T0);
    const ready = first.status.conditions!.find((c) => c.type === "Ready")!;
    expect(ready).toEqual({
      type: "Ready",
      status: "True",
      reason: "KubeletReady",
      message: "kubelet is posting ready status",
      lastHeartbeatTime: "2026-01-01T00:00:00Z",
      lastTransitionTime: "2026-01-01T00:00:00Z",
    });
    expect(first.status.conditions!.map((c) => `${c.type}=${c.status}:${c.reason}`)).toEqual([
      "MemoryPressure=False:KubeletHasSufficientMemory",
      "DiskPressure=False:KubeletHasNoDiskPressure",
      "PIDPressure=False:KubeletHasSufficientPID",
      "Ready=True:KubeletReady",
    ]);
    expect(first.events.map((e) => e.reason)).toEqual([
      "NodeHasSufficientMemory",
      "NodeHasNoDiskPressure",
      "NodeHasSufficientPID",
      "NodeReady",
    ]);

    const second = computeNodeStatus(inputs(), first.status, { nodeName: "n1" }, T0 + 10_000);
    const ready2 = second.status.conditions!.find((c) => c.type === "Ready")!;
    expect(ready2.lastHeartbeatTime).toBe("2026-01-01T00:00:10Z");
    expect(ready2.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    expect(second.events).toEqual([]);
    expect(statusChanged(first.status, second.status)).toBe(false);

    const pressured = computeNodeStatus(
      inputs({ pressure: { memory: true, disk: false, pid: false } }),
      second.status,
      { nodeName: "n1" },
      T0 + 20_000,
    );
    const mem = pressured.status.conditions!.find((c) => c.type === "MemoryPressure")!;
    expect(mem).toMatchObject({
      status: "True",
      reason: "KubeletHasInsufficientMemory",
      lastTransitionTime: "2026-01-01T00:00:20Z",
    });
    expect(pressured.events).toEqual([
      {
        type: "Normal",
        reason: "NodeHasInsufficientMemory",
        message: "Node n1 status is now: NodeHasInsufficientMemory",
      },
    ]);
    expect(statusChanged(second.status, pressured.status)).toBe(true);
  });

  it("explains NotReady with the kubelet's messages", () => {
    const notReady = (over: Partial<StatusInputs>) =>
      computeNodeStatus(inputs(over), undefined, { nodeName: "n1" }, T0).status.conditions!.find(
        (c) => c.type === "Ready",
      )!;
    expect(notReady({ runtime: { kind: "never-synced" } })).toMatchObject({
      status: "False",
      reason: "KubeletNotReady",
      message: "container runtime status check may not have completed yet",
    });
    expect(notReady({ runtime: { kind: "down" } }).message).toBe("container runtime is down");
    expect(
      notReady({
        runtime: {
          kind: "ok",
          conditions: [
            { type: "RuntimeReady", status: true },
            {
              type: "NetworkReady",
              status: false,
              reason: "NetworkPluginNotReady",
              message: "Network plugin returns error: cni plugin not initialized",
            },
          ],
        },
        readinessErrors: ["PLEG is not healthy: pleg was last seen active 3m0s ago; threshold is 3m0s"],
      }).message,
    ).toBe(
      "[container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized, PLEG is not healthy: pleg was last seen active 3m0s ago; threshold is 3m0s]",
    );
    // A virtual node with no runtime at all is Ready.
    expect(notReady({ runtime: undefined, runtimeVersion: undefined }).status).toBe("True");
  });
});

describe("images and patches", () => {
  it("reports the 50 largest images with at most 5 names each", () => {
    const images = Array.from({ length: 60 }, (_, i) => ({
      names: Array.from({ length: 7 }, (_, j) => `img${i}:${j}`),
      sizeBytes: i,
    }));
    const out = reportedImages(images);
    expect(out).toHaveLength(50);
    expect(out[0]).toEqual({ names: ["img59:0", "img59:1", "img59:2", "img59:3", "img59:4"], sizeBytes: 59 });
    expect(out.at(-1)!.sizeBytes).toBe(10);
  });

  it("builds a strategic merge patch of what changed, replacing addresses and nulling removed resources", () => {
    const a = computeNodeStatus(inputs(), undefined, { nodeName: "n1" }, T0).status;
    const b = computeNodeStatus(
      inputs({
        machine: { ...machine, hugePagesBytes: {} },
        addresses: [{ type: "InternalIP", address: "10.0.0.2" }],
      }),
      a,
      { nodeName: "n1" },
      T0 + 10_000,
    ).status;
    const patch = statusPatch(a, b).status;
    expect(Object.keys(patch).sort()).toEqual(["addresses", "allocatable", "capacity", "conditions"]);
    expect((patch.capacity as Record<string, unknown>)["hugepages-2Mi"]).toBeNull();
    expect(patch.addresses).toEqual([{ $patch: "replace" }, { type: "InternalIP", address: "10.0.0.2" }]);
  });
});
