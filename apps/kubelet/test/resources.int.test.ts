// End to end: resources, termination messages, garbage collection and admission of what the node
// cannot run, through createKubelet + the node module on a private containerd.
import { randomBytes } from "node:crypto";
import { cp, readdir, readFile, rmdir } from "node:fs/promises";
import { totalmem } from "node:os";
import { join } from "node:path";
import { run, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerStatus, Pod } from "../src/api.js";
import type { Kubelet } from "../src/kubelet.js";
import { createNodeModule, type NodeModule } from "../src/node/node-module.js";
import type { FsUsage } from "../src/runtime/types.js";
import { createKubeletMetrics } from "../src/server/metrics.js";
import { NODE, type Rig, realComponents, startRig } from "./rig.js";

const status = (pod: Pod, name: string): ContainerStatus | undefined =>
  pod.status?.containerStatuses?.find((c) => c.name === name);

interface OciSpec {
  process?: { oomScoreAdj?: number };
  linux?: {
    cgroupsPath?: string;
    resources?: { cpu?: { shares?: number; quota?: number; period?: number }; memory?: { limit?: number } };
  };
}

describe.runIf(realComponents)(
  "kubelet resources, termination messages, GC and admission (containerd)",
  () => {
    let rig: Rig;
    let kubelet: Kubelet;
    let node: NodeModule;
    let image: string;
    // The image filesystem as image GC sees it: the host's unless a test sets a usage.
    let fakeImageFs: FsUsage | undefined;
    // PLEG relists seen, so a test can wait for the kubelet to have looked at the runtime again.
    let relists = 0;
    // Pod cgroups live under a root of this test's own, removed at the end.
    const cgroupRoot = `/kubenode-test-${randomBytes(4).toString("hex")}`;

    beforeAll(async () => {
      rig = await startRig();
      image = rig.containerd.busyboxImage;
      // An image no pod uses, present before the kubelet starts (so older than the minimum GC age).
      await importVariant("gc-victim");
      const metrics = createKubeletMetrics(NODE);
      const observeRelist = metrics.observeRelist.bind(metrics);
      metrics.observeRelist = (seconds, pods) => {
        relists++;
        observeRelist(seconds, pods);
      };
      kubelet = await rig.startKubelet({
        metrics,
        podCgroups: { driver: "cgroupfs", root: cgroupRoot },
        backoffInitialMs: 2000,
        backoffMaxMs: 60_000,
        gc: {
          // Only the passes a test asks for run (the periodic ones would race the assertions).
          containerPeriodMs: 3_600_000,
          imagePeriodMs: 3_600_000,
          imageFsUsage: async () => fakeImageFs ?? { capacityBytes: 100, availableBytes: 90 },
        },
      });
      node = createNodeModule({
        nodeName: NODE,
        client: rig.nodeClient,
        runtime: kubelet.runtime,
        cri: rig.cri,
        kubelet,
        reclaim: kubelet.gc,
        config: { rootDir: rig.tmp, nodeStatusUpdateFrequencyMs: 1000 },
      });
      kubelet.addAdmitHandler((pod, active) => node.admit(pod, active));
      node.start();
    }, 240_000);

    afterAll(async () => {
      await node?.stop().catch(() => undefined);
      await rig?.stop();
      await removeCgroupTree(cgroupRoot);
    });

    /** Removes `root` (now empty of processes) from every cgroup hierarchy, deepest first. */
    async function removeCgroupTree(root: string): Promise<void> {
      const rmTree = async (dir: string): Promise<void> => {
        const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
        if (!entries) return;
        for (const e of entries) if (e.isDirectory()) await rmTree(join(dir, e.name));
        await rmdir(dir);
      };
      const hierarchies = await readdir("/sys/fs/cgroup", { withFileTypes: true });
      const errors: unknown[] = [];
      for (const h of ["", ...hierarchies.filter((d) => d.isDirectory()).map((d) => d.name)])
        await rmTree(join("/sys/fs/cgroup", h, root)).catch((err) => errors.push(err));
      if (errors.length > 0) throw new AggregateError(errors, `removing cgroup ${root} failed`);
    }

    /** Imports a copy of the busybox image with its own ID as `kubenode.test/<name>:1.0`. */
    async function importVariant(name: string): Promise<void> {
      const src = rig.containerd.images.busybox;
      const layout = join(rig.tmp, `layout-${name}`);
      await cp(src.layoutDir, layout, { recursive: true });
      await run([
        "umoci",
        "config",
        "--image",
        `${layout}:${src.tag}`,
        `--config.label=kubenode.test/variant=${name}`,
      ]);
      const tarball = join(rig.tmp, `${name}.tar`);
      await run(["tar", "-C", layout, "-cf", tarball, "."]);
      await rig.containerd.ctr(["images", "import", "--base-name", `kubenode.test/${name}`, tarball]);
    }

    async function imageNamed(ref: string) {
      const { images } = await rig.cri.listImages({});
      return images.find((i) => i.repoTags.includes(ref));
    }

    async function runtimeSpec(containerId: string): Promise<{ spec: OciSpec; pid: number }> {
      const { info } = await rig.cri.containerStatus({ containerId, verbose: true });
      const parsed = JSON.parse(info.info ?? "{}") as { runtimeSpec?: OciSpec; pid?: number };
      return { spec: parsed.runtimeSpec ?? {}, pid: parsed.pid ?? 0 };
    }

    it("gives the CRI container the computed cpu/memory settings, visible in its cgroups, and reports qosClass", async () => {
      await rig.createPod({
        metadata: { name: "sized" },
        spec: {
          containers: [
            {
              name: "app",
              image,
              command: ["sleep", "3600"],
              resources: {
                requests: { cpu: "250m", memory: "32Mi" },
                limits: { cpu: "500m", memory: "64Mi" },
              },
            },
          ],
        },
      });
      const pod = await rig.waitPod("sized", "Running", (p) => status(p, "app")?.state.running !== undefined);
      expect(pod.status?.qosClass).toBe("Burstable");
      const id = status(pod, "app")!.containerID!.replace("containerd://", "");
      const { spec, pid } = await runtimeSpec(id);
      // milliCPUToShares(250) = 256; quota 500m of a 100 ms period = 50 ms; the memory limit in bytes.
      expect(spec.linux?.resources?.cpu).toMatchObject({ shares: 256, quota: 50_000, period: 100_000 });
      expect(spec.linux?.resources?.memory?.limit).toBe(64 * 2 ** 20);
      const expectedAdj = Math.min(999, Math.max(3, 1000 - Math.floor((1000 * 32 * 2 ** 20) / totalmem())));
      expect(spec.process?.oomScoreAdj).toBe(expectedAdj);
      expect(Number((await readFile(`/proc/${pid}/oom_score_adj`, "utf8")).trim())).toBe(expectedAdj);
      // The container sits in the pod cgroup under the Burstable tier.
      const cg = spec.linux?.cgroupsPath ?? "";
      expect(cg.startsWith(`${cgroupRoot}/kubepods/burstable/pod${pod.metadata.uid}/`)).toBe(true);
      // What the kernel enforces (cgroup v1 here; v2 keeps the same numbers in other files).
      const v1 = async (ctrl: string, file: string) =>
        Number((await readFile(join("/sys/fs/cgroup", ctrl, cg, file), "utf8")).trim());
      if (await readFile("/sys/fs/cgroup/memory/memory.limit_in_bytes", "utf8").catch(() => undefined)) {
        expect(await v1("memory", "memory.limit_in_bytes")).toBe(64 * 2 ** 20);
        expect(await v1("cpu", "cpu.shares")).toBe(256);
        expect(await v1("cpu", "cpu.cfs_quota_us")).toBe(50_000);
        expect(await v1("cpu", "cpu.cfs_period_us")).toBe(100_000);
      } else {
        expect((await readFile(join("/sys/fs/cgroup", cg, "memory.max"), "utf8")).trim()).toBe(
          String(64 * 2 ** 20),
        );
        expect((await readFile(join("/sys/fs/cgroup", cg, "cpu.max"), "utf8")).trim()).toBe("50000 100000");
      }
      // BestEffort: oom_score_adj 1000 and the minimum 2 shares.
      await rig.createPod({
        metadata: { name: "besteffort" },
        spec: { containers: [{ name: "app", image, command: ["sleep", "3600"] }] },
      });
      const be = await rig.waitPod(
        "besteffort",
        "Running",
        (p) => status(p, "app")?.state.running !== undefined,
      );
      expect(be.status?.qosClass).toBe("BestEffort");
      const beSpec = await runtimeSpec(status(be, "app")!.containerID!.replace("containerd://", ""));
      expect(beSpec.spec.process?.oomScoreAdj).toBe(1000);
      expect(beSpec.spec.linux?.resources?.cpu?.shares).toBe(2);
      expect(beSpec.spec.linux?.resources?.memory?.limit).toBeUndefined();
      const bePodCgroup = `${cgroupRoot}/kubepods/besteffort/pod${be.metadata.uid}`;
      expect(beSpec.spec.linux?.cgroupsPath?.startsWith(`${bePodCgroup}/`)).toBe(true);
      // Once the pod is gone, so is its pod cgroup.
      await rig.admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods/besteffort" });
      const memoryRoot = (await readdir("/sys/fs/cgroup")).includes("memory")
        ? "/sys/fs/cgroup/memory"
        : "/sys/fs/cgroup";
      await waitFor(
        "pod cgroup removed",
        async () =>
          (await readdir(join(memoryRoot, bePodCgroup)).catch(() => undefined)) ? undefined : true,
        { timeoutMs: 90_000, intervalMs: 250 },
      );
    });

    it("OOM-kills a container that exceeds its memory limit, reports OOMKilled and restarts it", async () => {
      await rig.createPod({
        metadata: { name: "hog" },
        spec: {
          containers: [
            {
              name: "hog",
              image,
              // busybox tail keeps everything after the last newline: /dev/zero has none.
              command: ["tail", "/dev/zero"],
              resources: { limits: { memory: "16Mi" } },
            },
          ],
        },
      });
      const pod = await rig.waitPod(
        "hog",
        "OOMKilled and restarted",
        (p) =>
          (status(p, "hog")?.restartCount ?? 0) >= 1 && status(p, "hog")?.lastState?.terminated !== undefined,
        120_000,
      );
      expect(status(pod, "hog")!.lastState.terminated).toMatchObject({ reason: "OOMKilled", exitCode: 137 });
    });

    it("puts termination messages into terminated.message: the file, or the log tail with FallbackToLogsOnError", async () => {
      await rig.createPod({
        metadata: { name: "fallback" },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "app",
              image,
              command: ["sh", "-c", "for i in $(seq 1 100); do echo line $i; done; exit 3"],
              terminationMessagePolicy: "FallbackToLogsOnError",
            },
          ],
        },
      });
      await rig.createPod({
        metadata: { name: "file-message" },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "app",
              image,
              command: ["sh", "-c", "echo all done > /tmp/the-end; echo not this; exit 0"],
              terminationMessagePath: "/tmp/the-end",
              terminationMessagePolicy: "FallbackToLogsOnError",
            },
          ],
        },
      });
      const fallback = await rig.waitPod("fallback", "Failed", (p) => p.status?.phase === "Failed");
      const lines = Array.from({ length: 80 }, (_, i) => `line ${i + 21}`);
      expect(status(fallback, "app")!.state.terminated).toMatchObject({
        exitCode: 3,
        reason: "Error",
        message: `${lines.join("\n")}\n`,
      });
      const file = await rig.waitPod("file-message", "Succeeded", (p) => p.status?.phase === "Succeeded");
      expect(status(file, "app")!.state.terminated).toMatchObject({ exitCode: 0, message: "all done\n" });
    });

    it("container GC keeps one dead instance per container, the newest", async () => {
      await rig.createPod({
        metadata: { name: "crasher" },
        spec: { containers: [{ name: "app", image, command: ["sh", "-c", "exit 1"] }] },
      });
      const created = await rig.waitPod(
        "crasher",
        "restarted 3 times",
        (p) => (status(p, "app")?.restartCount ?? 0) >= 3,
      );
      const uid = created.metadata.uid!;
      const dead = async () =>
        (
          await rig.cri.listContainers({ filter: { labelSelector: { "io.kubernetes.pod.uid": uid } } })
        ).containers
          .filter((c) => c.state === 2) // CONTAINER_EXITED
          .sort((a, b) => Number(b.createdAt - a.createdAt));
      // The pod workers keep the previous instance and one more; GC takes it down to one.
      const before = await waitFor(
        "two dead instances",
        async () => ((await dead()).length >= 2 ? dead() : undefined),
        {
          timeoutMs: 60_000,
          intervalMs: 200,
        },
      );
      const plan = await kubelet.gc.collectContainers();
      expect(plan.containers.length).toBeGreaterThanOrEqual(1);
      const after = await dead();
      expect(after.map((c) => c.id)).toEqual([before[0]!.id]);
      // The pod keeps crash-looping with lastState intact.
      const pod = await rig.waitPod(
        "crasher",
        "lastState",
        (p) => status(p, "app")?.lastState?.terminated !== undefined,
      );
      expect(status(pod, "app")!.lastState.terminated?.exitCode).toBe(1);
    });

    it("image GC removes an unused image but never one in use, the sandbox image or a new one", async () => {
      const victim = await imageNamed("kubenode.test/gc-victim:1.0");
      expect(victim).toBeDefined();
      // Imported after the kubelet started: younger than imageMinimumGCAge (2 min).
      await importVariant("gc-fresh");
      expect(await imageNamed("kubenode.test/gc-fresh:1.0")).toBeDefined();
      // 85 % used; freeing half the victim brings usage to 80 %.
      const capacityBytes = 10 * Number(victim!.size);
      fakeImageFs = { capacityBytes, availableBytes: Math.floor(capacityBytes * 0.15) };
      try {
        const result = await kubelet.gc.collectImages();
        expect(result?.removed).toEqual([victim!.id]);
      } finally {
        fakeImageFs = undefined;
      }
      expect(await imageNamed("kubenode.test/gc-victim:1.0")).toBeUndefined();
      // busybox runs in the pods above; pause is the sandbox image; gc-fresh is too young.
      expect(await imageNamed(image)).toBeDefined();
      expect(await imageNamed(rig.containerd.sandboxImage)).toBeDefined();
      expect(await imageNamed("kubenode.test/gc-fresh:1.0")).toBeDefined();
      // Eviction's reclaim hook removes every unused image old enough, whatever the usage: still
      // not the young one or those in use.
      await kubelet.gc.deleteUnusedImages();
      expect(await imageNamed("kubenode.test/gc-fresh:1.0")).toBeDefined();
      expect(await imageNamed(image)).toBeDefined();
    });

    it("under disk pressure, eviction's node-level reclaim runs container GC (finished pods) and evicts no pod", async () => {
      const finished = new Set(
        await Promise.all(
          ["fallback", "file-message"].map(async (n) => (await rig.getPod(n))!.metadata.uid!),
        ),
      );
      const finishedContainers = async () =>
        (await rig.cri.listContainers({})).containers.filter((c) =>
          finished.has(c.labels["io.kubernetes.pod.uid"] ?? ""),
        );
      expect((await finishedContainers()).length).toBe(2);
      // The image filesystem is short of space while the finished pods' containers exist.
      const GiB = 2 ** 30;
      const pressure = createNodeModule({
        nodeName: NODE,
        runtime: kubelet.runtime,
        cri: rig.cri,
        kubelet,
        reclaim: kubelet.gc,
        stats: {
          async getSummary() {
            const available = (await finishedContainers()).length > 0 ? 1 * GiB : 50 * GiB;
            return {
              node: {
                nodeFs: { capacityBytes: 100 * GiB, availableBytes: 50 * GiB },
                imageFs: { capacityBytes: 100 * GiB, availableBytes: available },
              },
              pods: [],
            };
          },
        },
        config: { rootDir: rig.tmp, eviction: { evictionHard: { "imagefs.available": "10Gi" } } },
      });
      const result = await pressure.eviction.synchronize();
      expect(result).toMatchObject({
        resourceToReclaim: "ephemeral-storage",
        reclaimedByNode: true,
        evicted: [],
      });
      expect(await finishedContainers()).toEqual([]);
      // Their final statuses stay as they were (terminal pods are not recomputed from the runtime).
      const seen = relists;
      await waitFor("two relists after the removal", () => (relists >= seen + 2 ? true : undefined), {
        timeoutMs: 30_000,
      });
      await kubelet.flushStatuses();
      expect(status((await rig.getPod("fallback"))!, "app")?.state.terminated?.exitCode).toBe(3);
      expect(status((await rig.getPod("file-message"))!, "app")?.state.terminated?.message).toBe(
        "all done\n",
      );
      // Running pods were not touched.
      expect((await rig.getPod("sized"))?.status?.phase).toBe("Running");
    });

    it("rejects a hostPort conflict and a forbidden sysctl with upstream's reasons and an Event; the first pod keeps running", async () => {
      const hostPortPod = (name: string) => ({
        metadata: { name },
        spec: {
          hostNetwork: true,
          containers: [
            {
              name: "app",
              image,
              command: ["sleep", "3600"],
              ports: [{ containerPort: 18181, hostPort: 18181 }],
            },
          ],
        },
      });
      await rig.createPod(hostPortPod("port-first"));
      await rig.waitPod("port-first", "Running", (p) => p.status?.phase === "Running");
      await rig.createPod(hostPortPod("port-second"));
      const second = await rig.waitPod("port-second", "rejected", (p) => p.status?.phase === "Failed");
      expect(second.status).toMatchObject({
        reason: "NodePorts",
        message:
          "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports",
      });

      await rig.createPod({
        metadata: { name: "tuned" },
        spec: {
          securityContext: { sysctls: [{ name: "net.core.somaxconn", value: "1024" }] },
          containers: [{ name: "app", image, command: ["sleep", "3600"] }],
        },
      });
      const tuned = await rig.waitPod("tuned", "rejected", (p) => p.status?.phase === "Failed");
      expect(tuned.status).toMatchObject({
        reason: "SysctlForbidden",
        message: 'Pod was rejected: forbidden sysctl: "net.core.somaxconn" not allowlisted',
      });
      // A safe sysctl is admitted and applied in the pod's network namespace.
      await rig.createPod({
        metadata: { name: "safe-sysctl" },
        spec: {
          securityContext: { sysctls: [{ name: "net.ipv4.ip_local_port_range", value: "20000 30000" }] },
          containers: [
            {
              name: "app",
              image,
              command: ["sh", "-c", "cat /proc/sys/net/ipv4/ip_local_port_range; sleep 3600"],
            },
          ],
        },
      });
      const safe = await rig.waitPod("safe-sysctl", "Running", (p) => p.status?.phase === "Running");
      const log = join(rig.podLogsDir, `default_safe-sysctl_${safe.metadata.uid}`, "app", "0.log");
      await waitFor("sysctl value in the log", async () =>
        (await readFile(log, "utf8").catch(() => "")).includes("20000\t30000") ? true : undefined,
      );

      // Warning Events from the kubelet with the rejection reasons.
      const events = await waitFor(
        "rejection events",
        async () => {
          const list = await rig.admin.request<{
            items: { reason?: string; type?: string; message?: string; involvedObject?: { name?: string } }[];
          }>({ method: "GET", path: "/api/v1/namespaces/default/events" });
          const byPod = new Map(list.items.map((e) => [`${e.involvedObject?.name}/${e.reason}`, e]));
          return byPod.has("port-second/NodePorts") && byPod.has("tuned/SysctlForbidden") ? byPod : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(events.get("port-second/NodePorts")).toMatchObject({ type: "Warning" });
      expect(events.get("tuned/SysctlForbidden")).toMatchObject({
        type: "Warning",
        message: 'forbidden sysctl: "net.core.somaxconn" not allowlisted',
      });

      // Nothing of the rejected pods reached the runtime; the first keeps running.
      for (const name of ["port-second", "tuned"]) {
        const uid = (await rig.getPod(name))!.metadata.uid!;
        const { items } = await rig.cri.listPodSandbox({
          filter: { labelSelector: { "io.kubernetes.pod.uid": uid } },
        });
        expect(items).toEqual([]);
      }
      expect((await rig.getPod("port-first"))?.status?.phase).toBe("Running");
    });
  },
);
