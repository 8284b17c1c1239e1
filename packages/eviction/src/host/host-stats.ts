import { stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, createRealClock } from "@kubenode/kube";
import { EvictionError } from "../errors.js";
import type { FsStats, MemoryStats, NodeStats, PodStats, StatsProvider, StatsSummary } from "../types.js";
import {
  type CgroupMode,
  detectCgroupMode,
  parseKeyValues,
  readCgroupMemory,
  readHostFile,
} from "./cgroup.js";

/** Supplies per-pod statistics (CRI stats, cgroups, or anything else). */
export interface PodStatsSource {
  podStats(signal?: AbortSignal): Promise<PodStats[]>;
}

/** Options of createHostStatsProvider. */
export interface HostStatsOptions {
  /** Directory whose filesystem is nodefs (the kubelet root dir). Default "/". */
  rootDir?: string | undefined;
  /**
   * The image filesystem: a directory to statfs (e.g. containerd's root), or a function such as
   * one calling CRI ImageFsInfo. When omitted, imagefs reports the nodefs numbers (one filesystem).
   */
  imageFs?: string | (() => Promise<FsStats | undefined>) | undefined;
  /** Pods cgroup (e.g. "/kubepods") for allocatableMemory.available; omitted: no such signal. */
  podsCgroup?: string | undefined;
  /** Per-pod stats; omitted: no pod stats (pods then rank as "no stats", first). */
  pods?: PodStatsSource | undefined;
  /** Default "/proc". */
  procRoot?: string | undefined;
  /** Default "/sys/fs/cgroup". */
  cgroupRoot?: string | undefined;
  /** Force a cgroup mode instead of detecting it. */
  cgroupMode?: CgroupMode | undefined;
  clock?: Clock | undefined;
}

/** Node memory from /proc/meminfo + the root memory cgroup. */
export async function readNodeMemory(
  procRoot: string,
  cgroupRoot: string,
  mode: CgroupMode,
  nowMs: number,
): Promise<MemoryStats & { capacityBytes: number }> {
  const meminfo = parseKeyValues(await readHostFile(join(procRoot, "meminfo")));
  const totalKb = meminfo.get("MemTotal");
  if (totalKb === undefined)
    throw new EvictionError("HostRead", `MemTotal missing from ${join(procRoot, "meminfo")}`);
  const capacityBytes = totalKb * 1024;
  let usageBytes: number;
  let inactive: number;
  if (mode === "v1") {
    // Mirrors cadvisor's root container on cgroup v1: root memory.usage_in_bytes - total_inactive_file.
    const m = await readCgroupMemory(cgroupRoot, "v1", "/");
    usageBytes = m.usageBytes;
    inactive = m.inactiveFileBytes;
  } else {
    // cgroup v2 has no memory.current at the root: usage = MemTotal - MemFree, inactive_file from
    // the root memory.stat (or meminfo's Inactive(file)), as cadvisor does.
    usageBytes = capacityBytes - (meminfo.get("MemFree") ?? 0) * 1024;
    let inactiveFile: number | undefined;
    try {
      inactiveFile = parseKeyValues(await readHostFile(join(cgroupRoot, "memory.stat"))).get("inactive_file");
    } catch {
      inactiveFile = undefined;
    }
    inactive = inactiveFile ?? (meminfo.get("Inactive(file)") ?? 0) * 1024;
  }
  const workingSetBytes = Math.max(0, usageBytes - inactive);
  return {
    capacityBytes,
    usageBytes,
    workingSetBytes,
    availableBytes: Math.max(0, capacityBytes - workingSetBytes),
    timeMs: nowMs,
  };
}

/** statfs of a path as FsStats (available = bavail, like df's Avail column). */
export async function readFsStats(path: string, nowMs: number): Promise<FsStats> {
  let s: Awaited<ReturnType<typeof statfs>>;
  try {
    s = await statfs(path);
  } catch (err) {
    throw new EvictionError("HostRead", `statfs ${path} failed: ${(err as Error).message}`, { cause: err });
  }
  const capacityBytes = s.blocks * s.bsize;
  return {
    capacityBytes,
    availableBytes: s.bavail * s.bsize,
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    inodes: s.files,
    inodesFree: s.ffree,
    inodesUsed: s.files - s.ffree,
    timeMs: nowMs,
  };
}

/** pid.available inputs: min(pid_max, threads-max) and the running task count from /proc/loadavg. */
export async function readRlimit(procRoot: string, nowMs: number): Promise<NonNullable<NodeStats["rlimit"]>> {
  const [pidMax, threadsMax, loadavg] = await Promise.all([
    readHostFile(join(procRoot, "sys/kernel/pid_max")),
    readHostFile(join(procRoot, "sys/kernel/threads-max")),
    readHostFile(join(procRoot, "loadavg")),
  ]);
  const field = loadavg.trim().split(/\s+/)[3] ?? "";
  const running = Number(field.split("/")[1]);
  if (!Number.isFinite(running)) {
    throw new EvictionError(
      "HostRead",
      `unexpected ${join(procRoot, "loadavg")} content: ${JSON.stringify(loadavg.trim())}`,
    );
  }
  return {
    maxPid: Math.min(Number(pidMax.trim()), Number(threadsMax.trim())),
    runningProcesses: running,
    timeMs: nowMs,
  };
}

/**
 * The default stats provider: memory from /proc/meminfo and the root memory cgroup (v1 or v2),
 * allocatable memory from the pods cgroup, nodefs/imagefs from statfs, pid.available from /proc,
 * and per-pod stats from an optional source.
 */
export function createHostStatsProvider(options: HostStatsOptions = {}): StatsProvider {
  const procRoot = options.procRoot ?? "/proc";
  const cgroupRoot = options.cgroupRoot ?? "/sys/fs/cgroup";
  const rootDir = options.rootDir ?? "/";
  const clock = options.clock ?? createRealClock();
  let mode: CgroupMode | undefined = options.cgroupMode;

  return {
    async getSummary(signal?: AbortSignal): Promise<StatsSummary> {
      mode ??= await detectCgroupMode(cgroupRoot);
      const now = clock.now();
      const imageFs = options.imageFs;
      const [memory, nodeFs, rlimit, image, pods, allocatable] = await Promise.all([
        readNodeMemory(procRoot, cgroupRoot, mode, now),
        readFsStats(rootDir, now),
        readRlimit(procRoot, now),
        typeof imageFs === "string"
          ? readFsStats(imageFs, now)
          : typeof imageFs === "function"
            ? imageFs()
            : Promise.resolve(undefined),
        options.pods ? options.pods.podStats(signal) : Promise.resolve([]),
        options.podsCgroup
          ? readCgroupMemory(cgroupRoot, mode, options.podsCgroup)
          : Promise.resolve(undefined),
      ]);
      const { capacityBytes, ...mem } = memory;
      // Writable layers share the image filesystem here (cadvisor reports containerfs = imagefs unless
      // the runtime splits them), so containerfs.* thresholds have an observation too.
      const imageStats = image ?? nodeFs;
      const node: NodeStats = { memory: mem, nodeFs, imageFs: imageStats, containerFs: imageStats, rlimit };
      if (allocatable) {
        const cap = allocatable.limitBytes ?? capacityBytes;
        node.allocatableMemory = {
          usageBytes: allocatable.usageBytes,
          workingSetBytes: allocatable.workingSetBytes,
          availableBytes: Math.max(0, cap - allocatable.workingSetBytes),
          timeMs: now,
        };
      }
      return { node, pods };
    },
  };
}

/**
 * Whether the image directory lives on a different filesystem (device) than the root dir, which
 * is what the kubelet's HasDedicatedImageFs reports. Pass the result as `dedicatedImageFs`.
 */
export async function hasDedicatedImageFs(rootDir: string, imageDir: string): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([stat(rootDir), stat(imageDir)]);
    return a.dev !== b.dev;
  } catch (err) {
    throw new EvictionError("HostRead", `cannot stat ${rootDir} or ${imageDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
