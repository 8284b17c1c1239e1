// A real memory-pressure eviction: the kubelet (createKubelet) runs two pods on a private
// containerd, the node module's eviction manager watches host memory with a hard threshold set just
// below what is free now, one container allocates past it, and that pod (not the idle one) is
// evicted with upstream's status, through the kubelet's own pod killer.

import { join } from "node:path";
import { createHostStatsProvider } from "@kubenode/eviction";
import type { Node } from "@kubenode/node-status";
import { waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Rig, realComponents, startRig } from "../../test/rig.js";
import type { Pod } from "../api.js";
import type { Kubelet } from "../kubelet.js";
import { createNodeModule, type NodeModule } from "./node-module.js";

const MiB = 1024 * 1024;

describe.runIf(realComponents)("memory-pressure eviction through the kubelet", () => {
  let rig: Rig;
  let kubelet: Kubelet;
  let node: NodeModule | undefined;

  beforeAll(async () => {
    rig = await startRig();
    kubelet = await rig.startKubelet();
  }, 180_000);

  afterAll(async () => {
    await node?.stop().catch(() => undefined);
    await rig?.stop();
  });

  it("evicts the pod using memory above its request, with upstream's status, and reports MemoryPressure", async () => {
    const image = rig.containerd.busyboxImage;
    await rig.createPod({
      metadata: { name: "idle" },
      spec: {
        containers: [
          {
            name: "idle",
            image,
            command: ["sleep", "3600"],
            resources: { requests: { memory: "16Mi" }, limits: { memory: "64Mi" } },
          },
        ],
      },
    });
    await rig.createPod({
      metadata: { name: "hog" },
      spec: {
        containers: [
          {
            name: "hog",
            image,
            // After a pause, dd fills a 600 MiB buffer from /dev/zero and holds it, blocked on a
            // pipe nobody reads.
            command: ["sh", "-c", "sleep 4; dd if=/dev/zero bs=600M count=1 | sleep 3600"],
            resources: { limits: { memory: "1Gi" } },
          },
        ],
      },
    });
    for (const name of ["idle", "hog"])
      await rig.waitPod(name, "Running", (p) => p.status?.phase === "Running", 120_000);

    // Hard threshold 300 MiB below the memory available now: crossed once the hog holds 600 MiB.
    const summary = await createHostStatsProvider({ rootDir: rig.tmp }).getSummary();
    const available = summary.node.memory?.availableBytes ?? 0;
    expect(available).toBeGreaterThan(1024 * MiB);
    // An odd number of Ki has no larger exact suffix, so the message prints it just as written.
    const threshold = `${Math.floor((available - 300 * MiB) / 1024) | 1}Ki`;

    node = createNodeModule({
      nodeName: "node-a",
      client: rig.nodeClient,
      runtime: kubelet.runtime,
      cri: rig.cri,
      kubelet,
      evictionIntervalMs: 1000,
      config: {
        rootDir: rig.tmp,
        nodeStatusUpdateFrequencyMs: 500,
        evictionPressureTransitionPeriodMs: 60_000,
        eviction: { evictionHard: { "memory.available": threshold } },
      },
    });
    // The handler stays registered on the shared kubelet: once this test's node module is stopped,
    // later tests admit without it (its MemoryPressure would reject their BestEffort pods).
    kubelet.addAdmitHandler((pod, active) => node?.admit(pod, active) ?? { admit: true });
    node.start();

    const QTY = "\\d+(?:[KMGTPE]i)?";
    const evicted = await rig.waitPod("hog", "evicted", (p) => p.status?.reason === "Evicted", 120_000);
    expect(evicted.status).toMatchObject({
      phase: "Failed",
      reason: "Evicted",
      message: expect.stringMatching(
        new RegExp(
          // Quantities print in their canonical form (resource.Quantity's String()): 19278Mi as
          // readily as 1234567Ki, whichever suffix divides the value exactly.
          `^The node was low on resource: memory\\. Threshold quantity: ${threshold}, available: ${QTY}\\. Container hog was using ${QTY}, request is 0, has larger consumption of memory\\. $`,
        ),
      ),
    });
    expect(evicted.status?.conditions).toContainEqual(
      expect.objectContaining({ type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet" }),
    );
    const nodeObj = await waitFor(
      "MemoryPressure True",
      async () => {
        const n = await rig.admin.request<Node>({ method: "GET", path: "/api/v1/nodes/node-a" });
        return n.status?.conditions?.some((c) => c.type === "MemoryPressure" && c.status === "True")
          ? n
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(nodeObj.status?.conditions?.find((c) => c.type === "MemoryPressure")?.reason).toBe(
      "KubeletHasInsufficientMemory",
    );
    // Stop evicting before anything else on the shared machine moves memory around.
    await node.stop();
    node = undefined;
    const idle = (await rig.getPod("idle")) as Pod;
    expect(idle.status?.phase).toBe("Running");
    const events = await rig.admin.request<{ items: { reason: string; involvedObject: { name: string } }[] }>(
      {
        method: "GET",
        path: "/api/v1/namespaces/default/events",
      },
    );
    expect(events.items.some((e) => e.reason === "Evicted" && e.involvedObject.name === "hog")).toBe(true);
  }, 300_000);

  it("evicts a pod whose disk emptyDir outgrows its sizeLimit, and leaves one within its limit", async () => {
    const image = rig.containerd.busyboxImage;
    const writer = (name: string, kib: number, sizeLimit: string) => ({
      metadata: { name },
      spec: {
        containers: [
          {
            name,
            image,
            command: [
              "sh",
              "-c",
              `sleep 2; dd if=/dev/zero of=/scratch/fill bs=1024 count=${kib}; sleep 3600`,
            ],
            volumeMounts: [{ name: "scratch", mountPath: "/scratch" }],
          },
        ],
        volumes: [{ name: "scratch", emptyDir: { sizeLimit } }],
      },
    });
    await rig.createPod(writer("filler", 4096, "1Mi"));
    await rig.createPod(writer("calm", 100, "10Mi"));
    for (const name of ["filler", "calm"])
      await rig.waitPod(name, "Running", (p) => p.status?.phase === "Running", 120_000);

    node = createNodeModule({
      nodeName: "node-a",
      client: rig.nodeClient,
      runtime: kubelet.runtime,
      cri: rig.cri,
      kubelet,
      evictionIntervalMs: 1000,
      // The kubelet's own root dir: the pods' volumes are under it.
      config: { rootDir: join(rig.tmp, "root"), nodeStatusUpdateFrequencyMs: 500 },
    });
    node.start();
    const evicted = await rig.waitPod("filler", "evicted", (p) => p.status?.reason === "Evicted", 120_000);
    expect(evicted.status).toMatchObject({
      phase: "Failed",
      reason: "Evicted",
      message: 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ',
    });
    expect(((await rig.getPod("calm")) as Pod).status?.phase).toBe("Running");
    await node.stop();
    node = undefined;
  }, 300_000);
});
