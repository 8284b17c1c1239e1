// The real pressure scenario: containers in a private containerd allocate memory (tmpfs pages are
// charged to their memory cgroup and are not reclaimable file cache), a memory.available threshold
// sits just below the free memory measured before the hog starts, and the manager - fed by the
// host stats provider and cgroup pod stats, with the polling notifier on - must pick the hog's pod
// and kill it through `ctr`, leaving the other pods running.
import { type Containerd, canUseRealComponents, startContainerd, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mi } from "../test/fixtures.js";
import { type CgroupMode, detectCgroupMode, readCgroupMemory } from "./host/cgroup.js";
import { createHostStatsProvider } from "./host/host-stats.js";
import { createCgroupPodStatsSource } from "./host/pod-cgroups.js";
import { createEvictionManager, type EvictionManager } from "./manager.js";
import { createMemoryThresholdNotifiers } from "./notifier.js";
import { parseThresholdConfig } from "./thresholds.js";
import type { EvictionPod, KillRequest } from "./types.js";

const real = await canUseRealComponents(["containerd", "runc", "umoci", "busybox-static"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  waitFor(what, fn, { timeoutMs, intervalMs: 100 });

describe.runIf(real)("real memory pressure in a private containerd", () => {
  let ctd: Containerd;
  let manager: EvictionManager | undefined;
  const tag = `${process.pid}`;
  const ids = { steady: `steady-${tag}`, small: `small-${tag}`, hog: `hog-${tag}` };
  const running = new Set<string>();

  // One container per pod; the container id doubles as the pod name, its cgroup is /k8s.io/<id>.
  const podFor = (id: string, requests?: Record<string, string>): EvictionPod => ({
    metadata: { name: id, namespace: "pressure", uid: `uid-${id}` },
    spec: { containers: [{ name: "main", ...(requests ? { resources: { requests } } : {}) }] },
  });
  const pods = {
    steady: podFor(ids.steady, { memory: "512Mi", cpu: "100m" }),
    small: podFor(ids.small),
    hog: podFor(ids.hog),
  };
  const byUid = new Map(Object.values(pods).map((p) => [p.metadata!.uid!, p]));
  const idOf = (p: EvictionPod) => p.metadata!.name!;

  async function runFilling(id: string, mib: number) {
    await ctd.ctr([
      "run",
      "-d",
      "--mount",
      "type=tmpfs,src=tmpfs,dst=/data,options=nosuid:nodev:size=4g",
      ctd.busyboxImage,
      id,
      "sh",
      "-c",
      `dd if=/dev/zero of=/data/fill bs=1M count=${mib} 2>/dev/null; touch /data/done; exec sleep 3600`,
    ]);
    running.add(id);
  }
  let mode: CgroupMode;
  const usageOf = async (id: string) =>
    (await readCgroupMemory("/sys/fs/cgroup", mode, `/k8s.io/${id}`)).workingSetBytes;
  const taskRunning = async (id: string) =>
    new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, "m").test(await ctd.ctr(["tasks", "ls"]));

  beforeAll(async () => {
    mode = await detectCgroupMode();
    ctd = await startContainerd({ cni: false });
  });
  afterAll(async () => {
    await manager?.stop();
    await ctd?.stop();
  });

  it("chooses the pod of the container that allocated the most and kills it through ctr", async () => {
    await runFilling(ids.steady, 64);
    await runFilling(ids.small, 96);
    await until("steady and small pods to allocate", async () =>
      (await usageOf(ids.steady)) >= 64 * Mi && (await usageOf(ids.small)) >= 96 * Mi ? true : undefined,
    );

    const host = createHostStatsProvider({
      pods: createCgroupPodStatsSource({
        pods: () => [...running].map((id) => ({ uid: `uid-${id}`, cgroupPath: `/k8s.io/${id}` })),
      }),
    });
    const before = await host.getSummary();
    const available = before.node.memory!.availableBytes!;
    // Threshold 2Gi below what is free now; the hog then takes 3Gi. The margin is the machine's
    // own: other processes (a whole test suite running beside this one) may take a gigabyte or so
    // meanwhile, and with a 512Mi margin that alone pushed the node back under the threshold after
    // the hog's eviction, so the small pod was evicted too.
    const thresholdMi = Math.floor(available / Mi) - 2048;
    const thresholds = parseThresholdConfig({
      evictionHard: `memory.available<${thresholdMi}Mi`,
      mergeDefaultEvictionSettings: false,
    });

    const kills: Array<KillRequest & { atMs: number }> = [];
    manager = createEvictionManager({
      thresholds,
      stats: host,
      pods: { activePods: () => [...running].map((id) => byUid.get(`uid-${id}`)!) },
      killer: {
        async killPod(req) {
          kills.push({ ...req, atMs: Date.now() });
          const id = idOf(req.pod);
          // SIGTERM, then SIGKILL after the grace period (busybox sh as PID 1 ignores SIGTERM).
          await ctd.ctr(["tasks", "kill", "-s", "SIGTERM", id]).catch(() => undefined);
          const deadline = Date.now() + req.gracePeriodSeconds * 1000;
          while (Date.now() < deadline && (await taskRunning(id))) await sleep(100);
          if (await taskRunning(id)) await ctd.ctr(["tasks", "kill", "-s", "SIGKILL", id]);
          await until(`${id} to stop`, async () => ((await taskRunning(id)) ? undefined : true), 30_000);
          await ctd.ctr(["tasks", "delete", id]).catch(() => undefined);
          await ctd.ctr(["containers", "delete", id]);
          running.delete(id);
        },
      },
      podCleanedUp: async (p) => !(await ctd.ctr(["containers", "ls", "-q"])).split("\n").includes(idOf(p)),
      notifiers: createMemoryThresholdNotifiers(thresholds, { intervalMs: 100 }),
    });
    manager.start();
    await until("the first cycle", async () => (manager!.lastObservations().size > 0 ? true : undefined));
    expect(manager.isUnderMemoryPressure()).toBe(false);
    expect(kills).toEqual([]);

    const hogStarted = Date.now();
    await runFilling(ids.hog, 3072);
    const killed = await until("an eviction", async () => kills[0], 90_000);

    expect(idOf(killed.pod)).toBe(ids.hog);
    expect(killed.gracePeriodSeconds).toBe(1);
    expect(killed.signal).toBe("memory.available");
    expect(killed.status).toMatchObject({
      phase: "Failed",
      reason: "Evicted",
      conditions: [{ type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet" }],
    });
    expect(killed.status.message).toMatch(
      new RegExp(
        `^The node was low on resource: memory\\. Threshold quantity: ${thresholdMi}Mi, available: \\d+(Ki|Mi)?\\. $`,
      ),
    );
    expect(manager.isUnderMemoryPressure()).toBe(true);
    expect(manager.admit(podFor("best-effort-newcomer"))).toMatchObject({ admit: false, reason: "Evicted" });
    expect(manager.admit(podFor("burstable-newcomer", { memory: "64Mi" }))).toEqual({ admit: true });

    await until("the hog's container to be gone", async () =>
      (await ctd.ctr(["containers", "ls", "-q"])).includes(ids.hog) ? undefined : true,
    );
    expect(await taskRunning(ids.steady)).toBe(true);
    expect(await taskRunning(ids.small)).toBe(true);
    // Memory came back: the threshold is no longer met.
    const after = await host.getSummary();
    expect(after.node.memory!.availableBytes!).toBeGreaterThan(thresholdMi * Mi);
    // One eviction only: the others stay below the threshold's needs. Let the manager finish a
    // whole cycle after the recovery before counting.
    const seen = manager.lastObservations();
    await until("a manager cycle after the recovery", async () =>
      manager!.lastObservations() !== seen ? true : undefined,
    );
    expect(kills.map((k) => idOf(k.pod))).toEqual([ids.hog]);
    console.log(
      `eviction: hog started -> kill call ${killed.atMs - hogStarted} ms (includes allocating 3072Mi); threshold ${thresholdMi}Mi`,
    );
  });
});
