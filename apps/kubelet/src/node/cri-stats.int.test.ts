// CRI stats for eviction, read from a private containerd running a real pod that holds memory.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { type CriClient, CriError, createCriClient, NamespaceMode } from "@kubenode/cri-client";
import { type Containerd, canUseRealComponents, startContainerd, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriPodStatsSource, criImageFsStats } from "./cri-stats.js";

const realComponents = await canUseRealComponents();
const MiB = 1024 * 1024;

describe.runIf(realComponents)("CRI stats (containerd)", () => {
  let containerd: Containerd;
  let cri: CriClient;
  let sandboxId: string | undefined;
  const uid = randomUUID();

  beforeAll(async () => {
    containerd = await startContainerd();
    cri = createCriClient({ endpoint: containerd.endpoint });
    const config = {
      metadata: { name: "stats", namespace: "default", uid, attempt: 0 },
      logDirectory: join(containerd.dir, "pod-logs", `default_stats_${uid}`),
      labels: {
        "io.kubernetes.pod.name": "stats",
        "io.kubernetes.pod.namespace": "default",
        "io.kubernetes.pod.uid": uid,
      },
      linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } },
    };
    ({ podSandboxId: sandboxId } = await cri.runPodSandbox({ config }));
    const { containerId } = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig: config,
      config: {
        metadata: { name: "hold", attempt: 0 },
        labels: {
          "io.kubernetes.pod.uid": uid,
          "io.kubernetes.pod.name": "stats",
          "io.kubernetes.pod.namespace": "default",
          "io.kubernetes.container.name": "hold",
        },
        image: { image: containerd.busyboxImage },
        // Holds 40 MiB in shared memory, charged to the container's cgroup as anonymous memory.
        command: ["sh", "-c", "dd if=/dev/zero of=/dev/shm/hold bs=1048576 count=40 && sleep 3600"],
        logPath: "hold/0.log",
      },
    });
    await cri.startContainer({ containerId });
  }, 180_000);

  afterAll(async () => {
    const errors: unknown[] = [];
    if (sandboxId) {
      await cri.stopPodSandbox({ podSandboxId: sandboxId }).catch((e) => errors.push(e));
      await cri.removePodSandbox({ podSandboxId: sandboxId }).catch((e) => errors.push(e));
    }
    cri?.close();
    await containerd?.stop().catch((e) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  });

  it("reports the pod's and its container's working set and writable layer by pod UID", async () => {
    const sandboxErrors: string[] = [];
    const source = createCriPodStatsSource(cri, (err) => sandboxErrors.push((err as Error).message));
    const pod = await waitFor(
      "pod stats with the memory held",
      async () => {
        const p = (await source.podStats()).find((s) => s.uid === uid);
        return (p?.memoryWorkingSetBytes ?? 0) > 32 * MiB ? p : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const hold = pod.containers?.find((c) => c.name === "hold");
    expect(hold?.memoryWorkingSetBytes).toBeGreaterThan(32 * MiB);
    expect(hold?.rootfs?.usedBytes).toBeGreaterThanOrEqual(0);
    // containerd 1.6 cannot give sandbox stats for a sandbox without a cgroup parent and fails the
    // whole call; the numbers above then came from ListContainerStats.
    for (const message of sandboxErrors) expect(message).toContain("ListPodSandboxStats");
  });

  it("falls back to ListContainerStats per pod when sandbox stats are unimplemented", async () => {
    let sandboxCalls = 0;
    const noSandboxStats = new Proxy(cri, {
      get(target, prop, receiver) {
        if (prop === "listPodSandboxStats") {
          return async () => {
            sandboxCalls++;
            throw new CriError("Unimplemented", "ListPodSandboxStats: unknown method", {
              rpc: "ListPodSandboxStats",
            });
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const source = createCriPodStatsSource(noSandboxStats);
    const pod = await waitFor(
      "pod stats from container stats",
      async () =>
        (await source.podStats()).find((s) => s.uid === uid && (s.memoryWorkingSetBytes ?? 0) > 32 * MiB),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(pod.containers?.map((c) => c.name)).toEqual(["hold"]);
    await source.podStats();
    // Asked once, then remembered.
    expect(sandboxCalls).toBe(1);
  });

  it("reads the image filesystem's capacity through ImageFsInfo and statfs", async () => {
    const fs = await criImageFsStats(cri, Date.now());
    expect(fs?.capacityBytes).toBeGreaterThan(0);
    expect(fs?.availableBytes).toBeGreaterThan(0);
  });
});
