// Restart safety: a kubelet process is SIGKILLed and a new one adopts its running containers. State
// comes from the runtime (labels, restart-count annotations) and the API, never from memory.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pod } from "../src/api.js";
import { NODE, type Rig, realComponents, startRig } from "./rig.js";

const root = join(import.meta.dirname, "..");

describe.runIf(realComponents)("kubelet restart safety (SIGKILL, containerd + API simulator)", () => {
  let rig: Rig;
  const children: ChildProcess[] = [];

  async function startProcess(): Promise<ChildProcess> {
    const settings = {
      nodeName: NODE,
      kubeconfig: await rig.server.kubeconfigFor(`system:node:${NODE}`),
      criEndpoint: rig.containerd.endpoint,
      podLogsDir: rig.podLogsDir,
      rootDir: join(rig.tmp, "root"),
    };
    const child = spawn(
      process.execPath,
      [
        "--import",
        "./test/fixtures/ts-hook.ts",
        "test/fixtures/kubelet-process.ts",
        JSON.stringify(settings),
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
    });
    child.stderr!.on("data", (d) => {
      out += d;
    });
    await waitFor(
      "kubelet process started",
      () =>
        out.includes("kubelet started")
          ? true
          : child.exitCode !== null
            ? Promise.reject(new Error(out))
            : undefined,
      {
        timeoutMs: 60_000,
      },
    );
    return child;
  }

  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGKILL");
        await once(c, "exit");
      }
    }
    await rig?.stop();
  });

  it("adopts running containers after SIGKILL: same containers, restartCount and status unchanged", async () => {
    const first = await startProcess();
    const image = rig.containerd.busyboxImage;
    // Restart the container once on purpose (a changed image changes the container hash), so the
    // count to preserve is not just the default 0.
    const alias = "kubenode.test/busybox-alias:1.0";
    await rig.containerd.ctr(["images", "tag", "--force", image, alias]);
    await rig.createPod({
      metadata: { name: "steady" },
      spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
    });
    await rig.waitPod(
      "steady",
      "Running",
      (p) => p.status?.containerStatuses?.[0]?.state.running !== undefined,
    );
    await rig.admin.request({
      method: "PATCH",
      path: "/api/v1/namespaces/default/pods/steady",
      contentType: "application/strategic-merge-patch+json",
      body: { spec: { containers: [{ name: "main", image: alias }] } },
    });
    const before = await rig.waitPod("steady", "restarted once with the new image", (p) => {
      const cs = p.status?.containerStatuses?.[0];
      return cs?.restartCount === 1 && cs.state.running !== undefined;
    });

    // A pod force-deleted while no kubelet runs leaves an orphan in the runtime.
    const orphan = await rig.createPod({
      metadata: { name: "orphan" },
      spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
    });
    await rig.waitPod(
      "orphan",
      "Running",
      (p) => p.status?.containerStatuses?.[0]?.state.running !== undefined,
    );

    first.kill("SIGKILL");
    await once(first, "exit");
    await rig.admin.request({
      method: "DELETE",
      path: "/api/v1/namespaces/default/pods/orphan",
      query: { gracePeriodSeconds: 0 },
    });
    await startProcess();

    // Give the new kubelet time to sync the pod (its status write, if any, would show a change).
    const marker = await rig.createPod({
      metadata: { name: "marker" },
      spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
    });
    await rig.waitPod("marker", "Running", (p) => p.status?.phase === "Running");
    const after = (await rig.getPod("steady")) as Pod;
    const b = before.status!.containerStatuses![0]!;
    const a = after.status!.containerStatuses![0]!;
    expect(a.containerID).toBe(b.containerID);
    expect(a.restartCount).toBe(1);
    expect(a.state.running?.startedAt).toBe(b.state.running?.startedAt);
    expect(after.status?.startTime).toBe(before.status?.startTime);
    expect(after.status?.podIP).toBe(before.status?.podIP);
    const { containers } = await rig.cri.listContainers({
      filter: { labelSelector: { "io.kubernetes.pod.uid": before.metadata.uid! } },
    });
    expect(containers.filter((c) => c.state === 1)).toHaveLength(1);
    void marker;
    // The orphan's containers and sandbox are cleaned up (housekeeping, 1 s grace).
    await waitFor(
      "orphaned pod removed from the runtime",
      async () => {
        const selector = { labelSelector: { "io.kubernetes.pod.uid": orphan.metadata.uid! } };
        const [{ containers: c }, { items: s }] = await Promise.all([
          rig.cri.listContainers({ filter: selector }),
          rig.cri.listPodSandbox({ filter: selector }),
        ]);
        return c.length === 0 && s.length === 0 ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
  });
});
