// Real disk pressure: the node filesystem is a 256Mi tmpfs the test mounts; containers in a private
// containerd write into per-pod "emptyDir" directories on it (bind mounts). With nodefs.available<50%,
// the manager must first run container GC (removing an exited container and its data), see that it is
// not enough, and then evict the pod that wrote the most.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Containerd, canUseRealComponents, startContainerd, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHostStatsProvider } from "./host/host-stats.js";
import { createEvictionManager, type EvictionManager } from "./manager.js";
import { parseThresholdConfig } from "./thresholds.js";
import type { EvictionPod, KillRequest, PodStats } from "./types.js";

const real = await canUseRealComponents(["containerd", "runc", "umoci", "busybox-static"]);

function dirBytes(path: string): number {
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).blocks * 512;
  }
  return total;
}

const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  waitFor(what, fn, { timeoutMs, intervalMs: 100 });

describe.runIf(real)("real disk pressure on a private node filesystem", () => {
  let ctd: Containerd;
  let nodefs: string;
  let manager: EvictionManager | undefined;
  const tag = `${process.pid}`;
  const ids = { small: `dsmall-${tag}`, big: `dbig-${tag}`, exited: `dexited-${tag}` };
  const active = new Set<string>();

  const pod = (id: string): EvictionPod => ({
    metadata: { name: id, namespace: "disk", uid: `uid-${id}` },
    spec: { containers: [{ name: "main" }], volumes: [{ name: "data", emptyDir: {} }] },
  });
  const volumeDir = (id: string) => join(nodefs, "pods", id, "data");

  async function runWriter(id: string, mib: number, keepRunning: boolean) {
    mkdirSync(volumeDir(id), { recursive: true });
    await ctd.ctr([
      "run",
      "-d",
      "--mount",
      `type=bind,src=${volumeDir(id)},dst=/data,options=rbind:rw`,
      ctd.busyboxImage,
      id,
      "sh",
      "-c",
      `dd if=/dev/zero of=/data/fill bs=1M count=${mib} 2>/dev/null; sync${keepRunning ? "; exec sleep 3600" : ""}`,
    ]);
  }
  const tasks = async () => ctd.ctr(["tasks", "ls"]);
  const removeContainer = async (id: string) => {
    await ctd.ctr(["tasks", "kill", "-s", "SIGKILL", id]).catch(() => undefined);
    await until(`${id} to stop`, async () =>
      /RUNNING/.test((await tasks()).split("\n").find((l) => l.startsWith(id)) ?? "") ? undefined : true,
    );
    await ctd.ctr(["tasks", "delete", id]).catch(() => undefined);
    await ctd.ctr(["containers", "delete", id]);
    rmSync(join(nodefs, "pods", id), { recursive: true, force: true });
  };

  beforeAll(async () => {
    nodefs = mkdtempSync(join(tmpdir(), "kubenode-nodefs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256m", "tmpfs", nodefs]);
    ctd = await startContainerd({ cni: false });
  });
  afterAll(async () => {
    await manager?.stop();
    await ctd?.stop();
    if (nodefs) {
      execFileSync("umount", [nodefs]);
      rmSync(nodefs, { recursive: true, force: true });
    }
  });

  it("runs container GC first, then evicts the pod that wrote the most", async () => {
    await runWriter(ids.small, 20, true);
    await runWriter(ids.exited, 30, false);
    await until("the exited writer to finish", async () =>
      (await tasks()).match(new RegExp(`${ids.exited}\\s+\\d+\\s+STOPPED`)) ? true : undefined,
    );
    active.add(ids.small);

    const reclaimCalls: string[] = [];
    const kills: KillRequest[] = [];
    const stats = createHostStatsProvider({
      rootDir: nodefs,
      pods: {
        podStats: async () =>
          [...active].map(
            (id): PodStats => ({
              uid: `uid-${id}`,
              volumes: [{ name: "data", usedBytes: dirBytes(volumeDir(id)) }],
              ephemeralStorageUsedBytes: dirBytes(volumeDir(id)),
            }),
          ),
      },
    });
    manager = createEvictionManager({
      thresholds: parseThresholdConfig({
        evictionHard: "nodefs.available<50%",
        mergeDefaultEvictionSettings: false,
      }),
      stats,
      pods: { activePods: () => [...active].map(pod) },
      monitoringIntervalMs: 500,
      reclaim: {
        async deleteAllUnusedContainers() {
          reclaimCalls.push("containers");
          for (const line of (await tasks()).split("\n")) {
            const [id, , status] = line.trim().split(/\s+/);
            if (id && status === "STOPPED") await removeContainer(id);
          }
        },
        async deleteUnusedImages() {
          reclaimCalls.push("images");
        },
      },
      killer: {
        async killPod(req) {
          kills.push(req);
          const id = req.pod.metadata!.name!;
          await removeContainer(id);
          active.delete(id);
        },
      },
    });
    manager.start();
    await until("the first cycle", async () => (manager!.lastObservations().size > 0 ? true : undefined));
    expect(manager.isUnderDiskPressure()).toBe(false);

    await runWriter(ids.big, 120, true);
    active.add(ids.big);
    const killed = await until("an eviction", async () => kills[0], 60_000);

    expect(reclaimCalls.slice(0, 2)).toEqual(["containers", "images"]);
    expect((await ctd.ctr(["containers", "ls", "-q"])).split("\n")).not.toContain(ids.exited);
    expect(killed.pod.metadata?.name).toBe(ids.big);
    expect(killed.signal).toBe("nodefs.available");
    expect(killed.status.message).toMatch(
      /^The node was low on resource: ephemeral-storage\. Threshold quantity: 128Mi, available: /,
    );
    expect(manager.isUnderDiskPressure()).toBe(true);
    expect(manager.admit(pod("newcomer"))).toEqual({
      admit: false,
      reason: "Evicted",
      message: "The node had condition: [DiskPressure]. ",
    });
    await until("the big writer's pod to be removed", async () => (active.has(ids.big) ? undefined : true));
    const after = await stats.getSummary();
    expect(after.node.nodeFs!.availableBytes!).toBeGreaterThan(128 * 2 ** 20);
    expect(await tasks()).toMatch(new RegExp(`${ids.small}\\s+\\d+\\s+RUNNING`));
    expect(kills).toHaveLength(1);
  });
});
