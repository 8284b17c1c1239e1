// /stats/summary (upstream pkg/kubelet/apis/stats/v1alpha1 Summary) and /metrics/resource
// (pkg/kubelet/metrics/collectors/resource_metrics.go): node numbers from the host (/proc, the root
// cgroup, statfs of the kubelet's root dir, the runtime's image filesystem), pod and container
// numbers from CRI ListContainerStats, as upstream's CRI stats provider does. The runtime is read
// in the background every housekeeping interval (runtime-sample.ts), so a request does not wait for
// containerd; the node's numbers are read per request.
import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ContainerState, type CriClient } from "@kubenode/cri-client";
import { type CgroupMode, detectCgroupMode, readFsStats, readNodeMemory } from "@kubenode/eviction";
import { type Clock, createMetricsRegistry } from "@kubenode/kube";
import type { Pod } from "../api.js";
import { criImageFsStats } from "../node/cri-stats.js";
import { type CpuSample, createCpuRate } from "./cpu-rate.js";
import { createRuntimeSampler } from "./runtime-sample.js";

const POD_UID_LABEL = "io.kubernetes.pod.uid";
const POD_NAME_LABEL = "io.kubernetes.pod.name";
const POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";
const CONTAINER_NAME_LABEL = "io.kubernetes.container.name";
const RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount";

export interface CpuStats {
  time: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}
export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}
export interface FsStats {
  time: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}
export interface ContainerStats {
  name: string;
  startTime: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  rootfs?: FsStats;
  logs?: FsStats;
}
export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CpuStats;
  memory?: MemoryStats;
  "ephemeral-storage"?: FsStats;
}
/** The Summary API object (stats/v1alpha1), the parts this kubelet fills. */
export interface Summary {
  node: {
    nodeName: string;
    startTime: string;
    cpu?: CpuStats;
    memory?: MemoryStats;
    fs?: FsStats;
    runtime?: { imageFs?: FsStats };
  };
  pods: PodStats[];
}

export interface StatsProviderOptions {
  nodeName: string;
  cri: CriClient;
  /** Pods bound to the node (for start times; pods the runtime has but no source knows are left out). */
  pods: () => Pod[];
  /** The kubelet's root dir: its filesystem is nodefs. */
  rootDir: string;
  /** Container log root (podLogsDir), for the logs usage of each container. */
  podLogsDir: string;
  clock: Clock;
  /**
   * How often the runtime's container stats are re-read while someone asks for stats (upstream's
   * --housekeeping-interval). Default 10 s.
   */
  housekeepingIntervalMs?: number | undefined;
  /** Defaults /proc and /sys/fs/cgroup. */
  procRoot?: string;
  cgroupRoot?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const num = (v: { value: bigint } | undefined): number | undefined =>
  v === undefined ? undefined : Number(v.value);
const nsIso = (ns: bigint) => iso(Number(ns / 1_000_000n));

function fsOut(fs: { [k: string]: number | undefined }, timeMs: number): FsStats {
  const out: FsStats = { time: iso(timeMs) };
  for (const k of [
    "availableBytes",
    "capacityBytes",
    "usedBytes",
    "inodesFree",
    "inodes",
    "inodesUsed",
  ] as const)
    if (fs[k] !== undefined) out[k] = fs[k];
  return out;
}

function sum<T>(items: readonly T[], pick: (t: T) => number | undefined): number | undefined {
  let total: number | undefined;
  for (const i of items) {
    const v = pick(i);
    if (v !== undefined) total = (total ?? 0) + v;
  }
  return total;
}

/** Creates the stats provider behind /stats/summary and /metrics/resource. */
export function createStatsProvider(o: StatsProviderOptions) {
  const procRoot = o.procRoot ?? "/proc";
  const cgroupRoot = o.cgroupRoot ?? "/sys/fs/cgroup";
  let mode: CgroupMode | undefined;
  let bootMs: number | undefined;
  // Root-cgroup CPU samples for the node's usageNanoCores (cAdvisor derives it the same way): taken
  // now, by each housekeeping read and by each request, so even the first request has a rate.
  const cpuRate = createCpuRate();
  const sampleCpu = async (): Promise<CpuSample> => {
    mode ??= await detectCgroupMode(cgroupRoot);
    // Read synchronously (a pseudo-file, microseconds) so the timestamp is that of the read and not
    // of whenever the event loop got back to us.
    return { ns: nodeCpuNs(mode), atMs: o.clock.now() };
  };
  const recordCpu = () =>
    sampleCpu().then(
      (s) => cpuRate.record(s),
      () => {},
    );
  void recordCpu();
  const runtime = createRuntimeSampler({
    read: async () => {
      await recordCpu();
      const [{ stats }, { containers }] = await Promise.all([
        o.cri.listContainerStats({}),
        o.cri.listContainers({}),
      ]);
      return { stats, containers };
    },
    clock: o.clock,
    intervalMs: o.housekeepingIntervalMs,
  });

  function nodeCpuNs(m: CgroupMode): number {
    if (m === "v1") return Number(readFileSync(join(cgroupRoot, "cpuacct", "cpuacct.usage"), "utf8").trim());
    const text = readFileSync(join(cgroupRoot, "cpu.stat"), "utf8");
    const usec = /^usage_usec (\d+)$/m.exec(text)?.[1];
    if (usec === undefined) throw new Error(`usage_usec missing from ${join(cgroupRoot, "cpu.stat")}`);
    return Number(usec) * 1000;
  }

  async function bootTimeMs(): Promise<number> {
    if (bootMs === undefined) {
      const btime = /^btime (\d+)$/m.exec(await readFile(join(procRoot, "stat"), "utf8"))?.[1];
      bootMs = Number(btime ?? 0) * 1000;
    }
    return bootMs;
  }

  async function logSize(path: string): Promise<number | undefined> {
    try {
      return (await stat(path)).size;
    } catch {
      return undefined;
    }
  }

  async function summary(): Promise<Summary> {
    mode ??= await detectCgroupMode(cgroupRoot);
    const nowMs = o.clock.now();
    const [memory, nodeFs, imageFs, boot, { stats, containers }] = await Promise.all([
      readNodeMemory(procRoot, cgroupRoot, mode, nowMs),
      readFsStats(o.rootDir, nowMs),
      criImageFsStats(o.cri, nowMs).catch(() => undefined),
      bootTimeMs(),
      runtime.get(),
    ]);
    const cpu = await sampleCpu();
    const usageNanoCores = cpuRate.rate(cpu);
    cpuRate.record(cpu);

    const listed = new Map(containers.map((c) => [c.id, c]));
    const apiPods = new Map(o.pods().map((p) => [p.metadata.uid, p]));
    const byPod = new Map<string, PodStats>();
    // Log sizes are read for all containers at once after the loop (one stat each), not in turn.
    const logReads: { c: ContainerStats; path: string }[] = [];
    for (const s of stats) {
      const labels = s.attributes?.labels ?? {};
      const uid = labels[POD_UID_LABEL];
      const name = labels[CONTAINER_NAME_LABEL] ?? s.attributes?.metadata?.name;
      const container = listed.get(s.attributes?.id ?? "");
      // Only running containers count (upstream leaves terminated ones out of the summary).
      if (!uid || !name || container?.state !== ContainerState.CONTAINER_RUNNING) continue;
      let pod = byPod.get(uid);
      if (!pod) {
        const apiPod = apiPods.get(uid);
        const startMs = apiPod?.status?.startTime ? Date.parse(apiPod.status.startTime) : nowMs;
        pod = {
          podRef: { name: labels[POD_NAME_LABEL] ?? "", namespace: labels[POD_NAMESPACE_LABEL] ?? "", uid },
          startTime: iso(startMs),
          containers: [],
        };
        byPod.set(uid, pod);
      }
      const cpuTime = s.cpu ? Number(s.cpu.timestamp / 1_000_000n) : nowMs;
      const memTime = s.memory ? Number(s.memory.timestamp / 1_000_000n) : nowMs;
      const used = num(s.writableLayer?.usedBytes);
      // The kubelet's log layout: <podLogsDir>/<ns>_<pod>_<uid>/<container>/<restartCount>.log.
      const logPath = join(
        o.podLogsDir,
        `${labels[POD_NAMESPACE_LABEL]}_${labels[POD_NAME_LABEL]}_${uid}`,
        name,
        `${Number(container.annotations[RESTART_COUNT_ANNOTATION] ?? 0)}.log`,
      );
      const c: ContainerStats = {
        name,
        startTime: nsIso(container.createdAt),
        cpu: {
          time: iso(cpuTime),
          ...(num(s.cpu?.usageNanoCores) !== undefined
            ? { usageNanoCores: num(s.cpu?.usageNanoCores)! }
            : {}),
          ...(num(s.cpu?.usageCoreNanoSeconds) !== undefined
            ? { usageCoreNanoSeconds: num(s.cpu?.usageCoreNanoSeconds)! }
            : {}),
        },
        memory: {
          time: iso(memTime),
          ...Object.fromEntries(
            (
              [
                "workingSetBytes",
                "availableBytes",
                "usageBytes",
                "rssBytes",
                "pageFaults",
                "majorPageFaults",
              ] as const
            )
              .map((k) => [k, num(s.memory?.[k])])
              .filter(([, v]) => v !== undefined),
          ),
        },
        rootfs: fsOut(
          {
            availableBytes: imageFs?.availableBytes,
            capacityBytes: imageFs?.capacityBytes,
            usedBytes: used,
            inodesFree: imageFs?.inodesFree,
            inodes: imageFs?.inodes,
            inodesUsed: num(s.writableLayer?.inodesUsed),
          },
          nowMs,
        ),
        logs: { time: iso(nowMs) }, // filled in below
      };
      logReads.push({ c, path: logPath });
      pod.containers.push(c);
    }
    await Promise.all(
      logReads.map(async ({ c, path }) => {
        c.logs = fsOut(
          {
            availableBytes: nodeFs.availableBytes,
            capacityBytes: nodeFs.capacityBytes,
            usedBytes: await logSize(path),
            inodesFree: nodeFs.inodesFree,
            inodes: nodeFs.inodes,
          },
          nowMs,
        );
      }),
    );
    for (const p of byPod.values()) {
      p.containers.sort((a, b) => a.name.localeCompare(b.name));
      const cpu = sum(p.containers, (c) => c.cpu?.usageCoreNanoSeconds);
      const cores = sum(p.containers, (c) => c.cpu?.usageNanoCores);
      p.cpu = {
        time: iso(nowMs),
        ...(cores !== undefined ? { usageNanoCores: cores } : {}),
        ...(cpu !== undefined ? { usageCoreNanoSeconds: cpu } : {}),
      };
      const ws = sum(p.containers, (c) => c.memory?.workingSetBytes);
      const usage = sum(p.containers, (c) => c.memory?.usageBytes);
      const rss = sum(p.containers, (c) => c.memory?.rssBytes);
      p.memory = {
        time: iso(nowMs),
        ...(ws !== undefined ? { workingSetBytes: ws } : {}),
        ...(usage !== undefined ? { usageBytes: usage } : {}),
        ...(rss !== undefined ? { rssBytes: rss } : {}),
      };
      const eph = sum(p.containers, (c) => (c.rootfs?.usedBytes ?? 0) + (c.logs?.usedBytes ?? 0));
      p["ephemeral-storage"] = fsOut(
        {
          availableBytes: nodeFs.availableBytes,
          capacityBytes: nodeFs.capacityBytes,
          usedBytes: eph,
          inodesFree: nodeFs.inodesFree,
          inodes: nodeFs.inodes,
        },
        nowMs,
      );
    }
    return {
      node: {
        nodeName: o.nodeName,
        startTime: iso(boot),
        cpu: {
          time: iso(nowMs),
          ...(usageNanoCores !== undefined ? { usageNanoCores } : {}),
          usageCoreNanoSeconds: cpu.ns,
        },
        memory: {
          time: iso(nowMs),
          ...(memory.availableBytes !== undefined ? { availableBytes: memory.availableBytes } : {}),
          ...(memory.usageBytes !== undefined ? { usageBytes: memory.usageBytes } : {}),
          ...(memory.workingSetBytes !== undefined ? { workingSetBytes: memory.workingSetBytes } : {}),
        },
        fs: fsOut(nodeFs as Record<string, number | undefined>, nowMs),
        ...(imageFs
          ? { runtime: { imageFs: fsOut(imageFs as Record<string, number | undefined>, nowMs) } }
          : {}),
      },
      pods: [...byPod.values()].sort((a, b) =>
        `${a.podRef.namespace}/${a.podRef.name}`.localeCompare(`${b.podRef.namespace}/${b.podRef.name}`),
      ),
    };
  }

  /** /metrics/resource: the resource metrics upstream's metrics-server scrapes, from the summary. */
  async function resourceMetrics(): Promise<string> {
    const registry = createMetricsRegistry();
    const scrapeError = registry.gauge(
      "resource_scrape_error",
      "1 if there was an error while getting container metrics, 0 otherwise",
    );
    let s: Summary;
    try {
      s = await summary();
    } catch {
      scrapeError.set(1);
      return registry.render();
    }
    const nodeCpu = registry.counter(
      "node_cpu_usage_seconds_total",
      "Cumulative cpu time consumed by the node in core-seconds",
    );
    const nodeMem = registry.gauge(
      "node_memory_working_set_bytes",
      "Current working set of the node in bytes",
    );
    const cCpu = registry.counter(
      "container_cpu_usage_seconds_total",
      "Cumulative cpu time consumed by the container in core-seconds",
      true,
    );
    const cMem = registry.gauge(
      "container_memory_working_set_bytes",
      "Current working set of the container in bytes",
      true,
    );
    const cStart = registry.gauge(
      "container_start_time_seconds",
      "Start time of the container since unix epoch in seconds",
      true,
    );
    const pCpu = registry.counter(
      "pod_cpu_usage_seconds_total",
      "Cumulative cpu time consumed by the pod in core-seconds",
      true,
    );
    const pMem = registry.gauge(
      "pod_memory_working_set_bytes",
      "Current working set of the pod in bytes",
      true,
    );
    if (s.node.cpu?.usageCoreNanoSeconds !== undefined) nodeCpu.set(s.node.cpu.usageCoreNanoSeconds / 1e9);
    if (s.node.memory?.workingSetBytes !== undefined) nodeMem.set(s.node.memory.workingSetBytes);
    for (const p of s.pods) {
      const pl = { namespace: p.podRef.namespace, pod: p.podRef.name };
      if (p.cpu?.usageCoreNanoSeconds !== undefined) pCpu.set(p.cpu.usageCoreNanoSeconds / 1e9, pl);
      if (p.memory?.workingSetBytes !== undefined) pMem.set(p.memory.workingSetBytes, pl);
      for (const c of p.containers) {
        const cl = { container: c.name, ...pl };
        if (c.cpu?.usageCoreNanoSeconds !== undefined) cCpu.set(c.cpu.usageCoreNanoSeconds / 1e9, cl);
        if (c.memory?.workingSetBytes !== undefined) cMem.set(c.memory.workingSetBytes, cl);
        cStart.set(Date.parse(c.startTime) / 1000, cl);
      }
    }
    scrapeError.set(0);
    return registry.render();
  }

  return {
    summary,
    resourceMetrics,
    /** Stops the background housekeeping. */
    stop: () => runtime.stop(),
  };
}
