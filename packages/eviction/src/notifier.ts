import { join } from "node:path";
import { type Clock, createRealClock, type TimerHandle } from "@kubenode/kube";
import { EvictionError } from "./errors.js";
import {
  type CgroupMode,
  detectCgroupMode,
  memoryCgroupDir,
  parseKeyValues,
  readHostFile,
} from "./host/cgroup.js";
import type { ThresholdNotifier } from "./manager.js";
import { isHardThreshold, thresholdQuantity } from "./thresholds.js";
import type { MemoryStats, StatsSummary, Threshold } from "./types.js";

/** Options of createMemoryThresholdNotifier. */
export interface MemoryThresholdNotifierOptions {
  /** A memory.available or allocatableMemory.available threshold. */
  threshold: Threshold;
  /** How often to read memory usage. Default 100 ms. */
  intervalMs?: number | undefined;
  /** Default "/sys/fs/cgroup". */
  cgroupRoot?: string | undefined;
  /** Default "/proc". */
  procRoot?: string | undefined;
  cgroupMode?: CgroupMode | undefined;
  /** The pods cgroup, for allocatableMemory.available thresholds (e.g. "/kubepods"). */
  podsCgroup?: string | undefined;
  /** Reads current usage in bytes; defaults to the memory cgroup (root or pods) of this host. */
  readUsageBytes?: (() => Promise<number>) | undefined;
  clock?: Clock | undefined;
}

/**
 * Sub-second reaction to a memory threshold, reachable from Node without native code.
 *
 * The kubelet arms memory.usage_in_bytes thresholds through cgroup.event_control and an eventfd;
 * Node cannot create an eventfd, and cgroup v2 memory.events only changes for memory.high/max
 * breaches. So this notifier polls the same usage counter (memory.usage_in_bytes on v1,
 * memory.current or MemTotal-MemFree on v2) every `intervalMs` - a single small read - and fires
 * when usage crosses the level that corresponds to the threshold, computed like the kubelet:
 * usage threshold = capacity - eviction threshold + inactive_file.
 */
export function createMemoryThresholdNotifier(options: MemoryThresholdNotifierOptions): ThresholdNotifier {
  const { threshold } = options;
  const allocatable = threshold.signal === "allocatableMemory.available";
  if (threshold.signal !== "memory.available" && !allocatable) {
    throw new EvictionError(
      "Notifier",
      `memory threshold notifier needs a memory signal, got ${threshold.signal}`,
    );
  }
  if (allocatable && !options.podsCgroup && !options.readUsageBytes) {
    throw new EvictionError("Notifier", "an allocatableMemory.available notifier needs podsCgroup");
  }
  const intervalMs = options.intervalMs ?? 100;
  if (!(intervalMs > 0)) throw new EvictionError("Notifier", `intervalMs must be > 0, got ${intervalMs}`);
  const clock = options.clock ?? createRealClock();
  const cgroupRoot = options.cgroupRoot ?? "/sys/fs/cgroup";
  const procRoot = options.procRoot ?? "/proc";
  let mode = options.cgroupMode;

  const readUsage =
    options.readUsageBytes ??
    (async (): Promise<number> => {
      mode ??= await detectCgroupMode(cgroupRoot);
      if (allocatable) {
        const dir = memoryCgroupDir(cgroupRoot, mode, options.podsCgroup!);
        return Number(
          (await readHostFile(join(dir, mode === "v1" ? "memory.usage_in_bytes" : "memory.current"))).trim(),
        );
      }
      if (mode === "v1")
        return Number((await readHostFile(join(cgroupRoot, "memory", "memory.usage_in_bytes"))).trim());
      const mi = parseKeyValues(await readHostFile(join(procRoot, "meminfo")));
      return ((mi.get("MemTotal") ?? 0) - (mi.get("MemFree") ?? 0)) * 1024;
    });

  let usageThreshold: number | undefined;
  let above = false;
  let timer: TimerHandle | undefined;
  let onCrossed: ((reason: string) => void) | undefined;
  let polling = false;
  const description = `${isHardThreshold(threshold) ? "hard" : "soft"} ${allocatable ? "allocatable " : ""}memory eviction threshold`;

  const schedule = () => {
    if (!onCrossed) return;
    timer = clock.setTimeout(poll, intervalMs);
  };
  async function poll(): Promise<void> {
    timer = undefined;
    if (polling || !onCrossed) return;
    polling = true;
    try {
      if (usageThreshold !== undefined) {
        const usage = await readUsage();
        const nowAbove = usage >= usageThreshold;
        // Like a memcg eventfd threshold: notify on every crossing, in either direction.
        if (nowAbove !== above) {
          above = nowAbove;
          onCrossed?.(`eviction manager: ${description} crossed`);
        }
      }
    } catch {
      // A failed read is retried at the next tick; the 10 s loop still covers the threshold.
    } finally {
      polling = false;
      schedule();
    }
  }

  return {
    description,
    updateThreshold(summary: StatsSummary) {
      const m: MemoryStats | undefined = allocatable ? summary.node.allocatableMemory : summary.node.memory;
      if (
        !m ||
        m.usageBytes === undefined ||
        m.workingSetBytes === undefined ||
        m.availableBytes === undefined
      ) {
        throw new EvictionError(
          "Notifier",
          "summary was incomplete: memory usage, working set and available are all needed",
        );
      }
      const inactiveFile = m.usageBytes - m.workingSetBytes;
      const capacity = m.availableBytes + m.workingSetBytes;
      usageThreshold = capacity - thresholdQuantity(threshold.value, capacity) + inactiveFile;
      above = m.usageBytes >= usageThreshold;
    },
    start(handler) {
      if (onCrossed) return;
      onCrossed = handler;
      schedule();
    },
    stop() {
      onCrossed = undefined;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** One notifier per memory.available / allocatableMemory.available threshold. */
export function createMemoryThresholdNotifiers(
  thresholds: readonly Threshold[],
  options: Omit<MemoryThresholdNotifierOptions, "threshold"> = {},
): ThresholdNotifier[] {
  return thresholds
    .filter(
      (t) =>
        t.signal === "memory.available" ||
        (t.signal === "allocatableMemory.available" && options.podsCgroup !== undefined),
    )
    .map((threshold) => createMemoryThresholdNotifier({ ...options, threshold }));
}
