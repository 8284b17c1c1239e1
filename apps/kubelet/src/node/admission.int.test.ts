// Admission through the kubelet: with the node module's handler added, pods beyond maxPods or not
// matching the Node are never started and end Failed with upstream's reason and message.
import { waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Rig, realComponents, startRig } from "../../test/rig.js";
import type { Kubelet } from "../kubelet.js";
import { createNodeModule, type NodeModule } from "./node-module.js";

describe.runIf(realComponents)("admission through the kubelet", () => {
  let rig: Rig;
  let kubelet: Kubelet;
  let node: NodeModule;

  beforeAll(async () => {
    rig = await startRig();
    kubelet = await rig.startKubelet();
    node = createNodeModule({
      nodeName: "node-a",
      client: rig.nodeClient,
      runtime: kubelet.runtime,
      cri: rig.cri,
      kubelet,
      config: { rootDir: rig.tmp, maxPods: 1, nodeStatusUpdateFrequencyMs: 500 },
    });
    kubelet.addAdmitHandler((pod, active) => node.admit(pod, active));
    node.start();
    await waitFor(
      "node capacity reported",
      async () => {
        const n = await rig.admin.request<{ status?: { allocatable?: Record<string, string> } }>({
          method: "GET",
          path: "/api/v1/nodes/node-a",
        });
        return n.status?.allocatable?.pods === "1" ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }, 180_000);

  afterAll(async () => {
    await node?.stop().catch(() => undefined);
    await rig?.stop();
  });

  it("rejects a pod beyond maxPods with OutOfpods and one whose nodeSelector does not match with NodeAffinity", async () => {
    const image = rig.containerd.busyboxImage;
    const sleeper = (name: string, extra: Record<string, unknown> = {}) => ({
      metadata: { name },
      spec: { containers: [{ name: "c", image, command: ["sleep", "3600"] }], ...extra },
    });
    await rig.createPod(sleeper("first"));
    await rig.waitPod("first", "Running", (p) => p.status?.phase === "Running", 120_000);

    await rig.createPod(sleeper("second"));
    const second = await rig.waitPod("second", "rejected", (p) => p.status?.phase === "Failed", 60_000);
    expect(second.status).toMatchObject({
      phase: "Failed",
      reason: "OutOfpods",
      // upstream rejectPod prefixes the handler message
      message: "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 1, capacity: 1",
    });

    // Once the first pod is gone there is room, and the predicate that fails is node affinity.
    await rig.admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods/first" });
    await waitFor("first pod gone", async () => ((await rig.getPod("first")) ? undefined : true), {
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    await waitFor("no active pods", () => (kubelet.activePods().length === 0 ? true : undefined), {
      timeoutMs: 30_000,
    });
    await rig.createPod(sleeper("elsewhere", { nodeSelector: { "disk-type": "ssd" } }));
    const elsewhere = await rig.waitPod("elsewhere", "rejected", (p) => p.status?.phase === "Failed", 60_000);
    expect(elsewhere.status).toMatchObject({
      reason: "NodeAffinity",
      message:
        "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
    });

    // Nothing of the rejected pods reached the runtime.
    const { items } = await rig.cri.listPodSandbox({});
    const names = items.map((s) => s.metadata?.name);
    expect(names).not.toContain("second");
    expect(names).not.toContain("elsewhere");
  }, 300_000);

  it("does not count a finished pod against maxPods (upstream filterOutInactivePods)", async () => {
    const image = rig.containerd.busyboxImage;
    await rig.createPod({
      metadata: { name: "done" },
      spec: { restartPolicy: "Never", containers: [{ name: "c", image, command: ["true"] }] },
    });
    await rig.waitPod("done", "Succeeded", (p) => p.status?.phase === "Succeeded", 120_000);
    // The finished pod is still on the node (not deleted), yet the next one fits in maxPods=1.
    await rig.createPod({
      metadata: { name: "next" },
      spec: { containers: [{ name: "c", image, command: ["sleep", "3600"] }] },
    });
    const next = await rig.waitPod("next", "Running", (p) => p.status?.phase === "Running", 120_000);
    expect(next.status?.reason).toBeUndefined();
    expect(kubelet.activePods().map((p) => p.metadata.name)).toEqual(["next"]);
  }, 300_000);
});
