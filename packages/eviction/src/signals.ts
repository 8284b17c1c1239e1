import { thresholdQuantity } from "./thresholds.js";
import type {
  EvictionResource,
  PodStats,
  PressureCondition,
  Signal,
  StatsSummary,
  Threshold,
} from "./types.js";

/** What was observed for one signal: available and capacity in the signal's unit. */
export interface SignalObservation {
  available: number;
  capacity: number;
  /** When the underlying stat was collected (epoch ms), if known. */
  timeMs?: number;
}

/** Observations keyed by signal. */
export type SignalObservations = Map<Signal, SignalObservation>;

/** Signal -> node condition (mirrors kubelet's signalToNodeCondition). */
export const SIGNAL_TO_CONDITION: Readonly<Record<Signal, PressureCondition>> = {
  "memory.available": "MemoryPressure",
  "allocatableMemory.available": "MemoryPressure",
  "nodefs.available": "DiskPressure",
  "nodefs.inodesFree": "DiskPressure",
  "imagefs.available": "DiskPressure",
  "imagefs.inodesFree": "DiskPressure",
  "containerfs.available": "DiskPressure",
  "containerfs.inodesFree": "DiskPressure",
  "pid.available": "PIDPressure",
};

/** Signal -> resource reclaimed (mirrors kubelet's signalToResource). */
export const SIGNAL_TO_RESOURCE: Readonly<Record<Signal, EvictionResource>> = {
  "memory.available": "memory",
  "allocatableMemory.available": "memory",
  "nodefs.available": "ephemeral-storage",
  "nodefs.inodesFree": "inodes",
  "imagefs.available": "ephemeral-storage",
  "imagefs.inodesFree": "inodes",
  "containerfs.available": "ephemeral-storage",
  "containerfs.inodesFree": "inodes",
  "pid.available": "pids",
};

/** Units print as bytes (BinarySI) for memory and storage, plain counts for inodes and PIDs. */
export function resourceFormat(resource: EvictionResource): "BinarySI" | "DecimalSI" {
  return resource === "memory" || resource === "ephemeral-storage" ? "BinarySI" : "DecimalSI";
}

function fsObservations(
  out: SignalObservations,
  fs: StatsSummary["node"]["nodeFs"],
  bytes: Signal,
  inodes: Signal,
): void {
  if (!fs) return;
  const t = fs.timeMs === undefined ? {} : { timeMs: fs.timeMs };
  if (fs.availableBytes !== undefined && fs.capacityBytes !== undefined) {
    out.set(bytes, { available: fs.availableBytes, capacity: fs.capacityBytes, ...t });
  }
  if (fs.inodesFree !== undefined && fs.inodes !== undefined) {
    out.set(inodes, { available: fs.inodesFree, capacity: fs.inodes, ...t });
  }
}

/**
 * Derives signal observations from a stats summary (mirrors kubelet's makeSignalObservations):
 * memory capacity = available + workingSet; pid.available = maxPid - running processes.
 */
export function makeSignalObservations(summary: StatsSummary): SignalObservations {
  const out: SignalObservations = new Map();
  const { node } = summary;
  for (const [signal, mem] of [
    ["memory.available", node.memory],
    ["allocatableMemory.available", node.allocatableMemory],
  ] as const) {
    if (mem && mem.availableBytes !== undefined && mem.workingSetBytes !== undefined) {
      out.set(signal, {
        available: mem.availableBytes,
        capacity: mem.availableBytes + mem.workingSetBytes,
        ...(mem.timeMs === undefined ? {} : { timeMs: mem.timeMs }),
      });
    }
  }
  fsObservations(out, node.nodeFs, "nodefs.available", "nodefs.inodesFree");
  fsObservations(out, node.imageFs, "imagefs.available", "imagefs.inodesFree");
  fsObservations(out, node.containerFs, "containerfs.available", "containerfs.inodesFree");
  const r = node.rlimit;
  if (r && r.maxPid !== undefined && r.runningProcesses !== undefined) {
    out.set("pid.available", {
      available: r.maxPid - r.runningProcesses,
      capacity: r.maxPid,
      ...(r.timeMs === undefined ? {} : { timeMs: r.timeMs }),
    });
  }
  return out;
}

/** Looks pod stats up by pod UID. */
export type StatsLookup = (uid: string | undefined) => PodStats | undefined;

/** Builds a UID -> pod stats lookup (upstream's cachedStatsFunc). */
export function podStatsLookup(pods: readonly PodStats[]): StatsLookup {
  const byUid = new Map<string, PodStats>();
  for (const p of pods) byUid.set(p.uid, p);
  return (uid) => (uid === undefined ? undefined : byUid.get(uid));
}

/**
 * Thresholds met regardless of grace period. With `enforceMinReclaim`, a threshold counts as met
 * until available >= quantity + minReclaim (mirrors kubelet's thresholdsMet).
 */
export function thresholdsMet(
  thresholds: readonly Threshold[],
  observations: SignalObservations,
  enforceMinReclaim: boolean,
): Threshold[] {
  const out: Threshold[] = [];
  for (const t of thresholds) {
    const obs = observations.get(t.signal);
    if (!obs) continue;
    let quantity = thresholdQuantity(t.value, obs.capacity);
    if (enforceMinReclaim && t.minReclaim) quantity += thresholdQuantity(t.minReclaim, obs.capacity);
    if (quantity > obs.available) out.push(t);
  }
  return out;
}
