import { podPriority, podRequest } from "./pod.js";
import type { StatsLookup } from "./signals.js";
import type { EvictionPod, PodStats, Signal } from "./types.js";

/** Which parts of a pod's storage count for a disk signal. */
export type FsStatsType = "root" | "logs" | "localVolumeSource" | "images";

/** Orders pods in place, first = evicted first. */
export type RankFunc = (pods: EvictionPod[], stats: StatsLookup) => void;

type Cmp = (a: EvictionPod, b: EvictionPod) => number;

/** true sorts before false. */
function cmpBool(a: boolean, b: boolean): number {
  if (a === b) return 0;
  return a ? -1 : 1;
}

function orderedBy(...cmps: Cmp[]): (pods: EvictionPod[]) => void {
  return (pods) => {
    pods.sort((a, b) => {
      for (const c of cmps) {
        const r = c(a, b);
        if (r !== 0) return r;
      }
      return 0;
    });
  };
}

/** Lower priority first. */
const byPriority: Cmp = (a, b) => podPriority(a) - podPriority(b);

function withStats(
  stats: StatsLookup,
  f: (a: EvictionPod, sa: PodStats, b: EvictionPod, sb: PodStats) => number,
): Cmp {
  return (a, b) => {
    const sa = stats(a.metadata?.uid);
    const sb = stats(b.metadata?.uid);
    // Pods without stats are evicted first (mirrors kubelet).
    if (!sa || !sb) return cmpBool(!sa, !sb);
    return f(a, sa, b, sb);
  };
}

const memUsage = (s: PodStats) => s.memoryWorkingSetBytes ?? 0;

/** Memory: usage above requests first, then lower priority, then larger usage - request. */
export function rankMemoryPressure(pods: EvictionPod[], stats: StatsLookup): void {
  orderedBy(
    withStats(stats, (a, sa, b, sb) =>
      cmpBool(memUsage(sa) > podRequest(a, "memory"), memUsage(sb) > podRequest(b, "memory")),
    ),
    byPriority,
    withStats(
      stats,
      (a, sa, b, sb) => memUsage(sb) - podRequest(b, "memory") - (memUsage(sa) - podRequest(a, "memory")),
    ),
  )(pods);
}

/** PIDs: lower priority first, then more processes. */
export function rankPIDPressure(pods: EvictionPod[], stats: StatsLookup): void {
  orderedBy(
    byPriority,
    withStats(stats, (_a, sa, _b, sb) => (sb.processCount ?? 0) - (sa.processCount ?? 0)),
  )(pods);
}

function isLocalVolume(pod: EvictionPod, name: string): boolean {
  const v = pod.spec?.volumes?.find((x) => x.name === name);
  if (!v) return false;
  if (v.hostPath !== undefined) return true;
  return v.emptyDir !== undefined && v.emptyDir.medium !== "Memory";
}

/** Disk usage (bytes or inodes) of a pod for the given fs stats types (upstream's podDiskUsage). */
export function podDiskUsage(
  pod: EvictionPod,
  s: PodStats,
  measure: readonly FsStatsType[],
  resource: "ephemeral-storage" | "inodes",
): number {
  const bytes = resource === "ephemeral-storage";
  let total = 0;
  for (const c of s.containers ?? []) {
    if (measure.includes("root")) total += (bytes ? c.rootfs?.usedBytes : c.rootfs?.inodesUsed) ?? 0;
    if (measure.includes("logs")) total += (bytes ? c.logs?.usedBytes : c.logs?.inodesUsed) ?? 0;
  }
  if (measure.includes("localVolumeSource")) {
    for (const v of s.volumes ?? []) {
      if (isLocalVolume(pod, v.name)) total += (bytes ? v.usedBytes : v.inodesUsed) ?? 0;
    }
  }
  return total;
}

/** Disk: usage above the ephemeral-storage request first, then lower priority, then larger usage - request. */
export function rankDiskPressureFunc(
  measure: readonly FsStatsType[],
  resource: "ephemeral-storage" | "inodes",
): RankFunc {
  return (pods, stats) => {
    const usage = (p: EvictionPod, s: PodStats) => podDiskUsage(p, s, measure, resource);
    orderedBy(
      withStats(stats, (a, sa, b, sb) =>
        cmpBool(usage(a, sa) > podRequest(a, resource), usage(b, sb) > podRequest(b, resource)),
      ),
      byPriority,
      withStats(stats, (a, sa, b, sb) => {
        // Upstream subtracts the ephemeral-storage request for both bytes and inodes.
        const ua = usage(a, sa) - podRequest(a, "ephemeral-storage");
        const ub = usage(b, sb) - podRequest(b, "ephemeral-storage");
        return ub - ua;
      }),
    )(pods);
  };
}

/**
 * Rank function per signal for a filesystem layout (mirrors kubelet's buildSignalToRankFunc).
 * Without an image filesystem every disk signal measures images, rootfs, logs and local volumes.
 */
export function buildSignalToRankFunc(
  dedicatedImageFs: boolean,
  splitContainerImageFs = false,
): Map<Signal, RankFunc> {
  const m = new Map<Signal, RankFunc>([
    ["memory.available", rankMemoryPressure],
    ["allocatableMemory.available", rankMemoryPressure],
    ["pid.available", rankPIDPressure],
  ]);
  const set = (nodefs: FsStatsType[], imagefs: FsStatsType[], containerfs: "nodefs" | "imagefs") => {
    m.set("nodefs.available", rankDiskPressureFunc(nodefs, "ephemeral-storage"));
    m.set("nodefs.inodesFree", rankDiskPressureFunc(nodefs, "inodes"));
    m.set("imagefs.available", rankDiskPressureFunc(imagefs, "ephemeral-storage"));
    m.set("imagefs.inodesFree", rankDiskPressureFunc(imagefs, "inodes"));
    m.set("containerfs.available", m.get(`${containerfs}.available`)!);
    m.set("containerfs.inodesFree", m.get(`${containerfs}.inodesFree`)!);
  };
  if (dedicatedImageFs && !splitContainerImageFs) {
    set(["logs", "localVolumeSource"], ["root", "images"], "imagefs");
  } else if (dedicatedImageFs && splitContainerImageFs) {
    set(["logs", "localVolumeSource", "root"], ["images"], "nodefs");
  } else {
    const all: FsStatsType[] = ["images", "root", "logs", "localVolumeSource"];
    set(all, all, "nodefs");
  }
  return m;
}
