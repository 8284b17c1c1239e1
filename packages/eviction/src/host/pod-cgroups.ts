import { podQos } from "../pod.js";
import type { EvictionPod, PodStats } from "../types.js";
import { type CgroupMode, detectCgroupMode, readCgroupMemory, readCgroupPids } from "./cgroup.js";
import type { PodStatsSource } from "./host-stats.js";

/** Where a pod's (and optionally its containers') cgroup lives, relative to the hierarchy root. */
export interface PodCgroup {
  uid: string;
  cgroupPath: string;
  containers?: { name: string; cgroupPath: string }[];
}

/** Options of createCgroupPodStatsSource. */
export interface CgroupPodStatsOptions {
  /** The pods to measure; called every cycle. */
  pods: () => readonly PodCgroup[] | Promise<readonly PodCgroup[]>;
  /** Default "/sys/fs/cgroup". */
  cgroupRoot?: string | undefined;
  cgroupMode?: CgroupMode | undefined;
}

/**
 * Per-pod memory working set (usage - inactive_file) and task count read straight from cgroups.
 * Pods whose cgroup is gone are left out (they rank as "no stats").
 */
export function createCgroupPodStatsSource(options: CgroupPodStatsOptions): PodStatsSource {
  const cgroupRoot = options.cgroupRoot ?? "/sys/fs/cgroup";
  let mode = options.cgroupMode;
  return {
    async podStats(): Promise<PodStats[]> {
      mode ??= await detectCgroupMode(cgroupRoot);
      const m = mode;
      const pods = await options.pods();
      const results = await Promise.all(
        pods.map(async (p): Promise<PodStats | undefined> => {
          try {
            const [mem, pids, containers] = await Promise.all([
              readCgroupMemory(cgroupRoot, m, p.cgroupPath),
              readCgroupPids(cgroupRoot, m, p.cgroupPath),
              Promise.all(
                (p.containers ?? []).map(async (c) => {
                  const cm = await readCgroupMemory(cgroupRoot, m, c.cgroupPath).catch(() => undefined);
                  return cm ? { name: c.name, memoryWorkingSetBytes: cm.workingSetBytes } : { name: c.name };
                }),
              ),
            ]);
            return {
              uid: p.uid,
              memoryWorkingSetBytes: mem.workingSetBytes,
              ...(pids === undefined ? {} : { processCount: pids }),
              ...(containers.length > 0 ? { containers } : {}),
            };
          } catch {
            return undefined;
          }
        }),
      );
      return results.filter((r): r is PodStats => r !== undefined);
    },
  };
}

/**
 * The kubelet's cgroupfs pod cgroup: /kubepods/pod<uid> (Guaranteed), /kubepods/burstable/pod<uid>,
 * /kubepods/besteffort/pod<uid>.
 */
export function kubeletPodCgroupPath(pod: EvictionPod, podsCgroup = "/kubepods"): string {
  const uid = pod.metadata?.uid ?? "";
  const qos = podQos(pod);
  const base = podsCgroup.replace(/\/$/, "");
  if (qos === "Guaranteed") return `${base}/pod${uid}`;
  return `${base}/${qos.toLowerCase()}/pod${uid}`;
}
