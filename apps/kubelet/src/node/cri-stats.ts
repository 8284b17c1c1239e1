// Pod and container statistics from the CRI (upstream's CRI stats provider, pkg/kubelet/stats),
// for the eviction manager's ranking, and the runtime's image filesystem for imagefs.* signals.
import type { CriClient } from "@kubenode/cri-client";
import { CriError } from "@kubenode/cri-client";
import { type FsStats, type PodStats, type PodStatsSource, readFsStats } from "@kubenode/eviction";

const POD_UID_LABEL = "io.kubernetes.pod.uid";
const CONTAINER_NAME_LABEL = "io.kubernetes.container.name";

interface CriContainerStats {
  attributes?: { metadata?: { name: string } | undefined; labels: Record<string, string> } | undefined;
  memory?: { workingSetBytes?: { value: bigint } | undefined } | undefined;
  writableLayer?:
    | { usedBytes?: { value: bigint } | undefined; inodesUsed?: { value: bigint } | undefined }
    | undefined;
}

const num = (v: { value: bigint } | undefined): number | undefined =>
  v === undefined ? undefined : Number(v.value);

function containerStats(c: CriContainerStats): NonNullable<PodStats["containers"]>[number] | undefined {
  const name = c.attributes?.labels[CONTAINER_NAME_LABEL] ?? c.attributes?.metadata?.name;
  if (!name) return undefined;
  const workingSet = num(c.memory?.workingSetBytes);
  const used = num(c.writableLayer?.usedBytes);
  const inodes = num(c.writableLayer?.inodesUsed);
  return {
    name,
    ...(workingSet === undefined ? {} : { memoryWorkingSetBytes: workingSet }),
    ...(used === undefined && inodes === undefined
      ? {}
      : {
          rootfs: {
            ...(used === undefined ? {} : { usedBytes: used }),
            ...(inodes === undefined ? {} : { inodesUsed: inodes }),
          },
        }),
  };
}

function sumRootfs(containers: NonNullable<PodStats["containers"]>): number | undefined {
  let total: number | undefined;
  for (const c of containers)
    if (c.rootfs?.usedBytes !== undefined) total = (total ?? 0) + c.rootfs.usedBytes;
  return total;
}

/**
 * Per-pod stats from `ListPodSandboxStats` (pod working set, process count, containers' working
 * sets and writable layers), falling back to `ListContainerStats` summed per pod when the runtime
 * does not implement sandbox stats or fails them (reported to `onSandboxStatsError`). Ephemeral
 * storage counts writable layers only here; emptyDir volumes are added by `withEmptyDirUsage`.
 */
export function createCriPodStatsSource(
  cri: CriClient,
  onSandboxStatsError?: (err: unknown) => void,
): PodStatsSource {
  let sandboxStatsUnimplemented = false;

  async function fromContainers(signal?: AbortSignal): Promise<PodStats[]> {
    const { stats } = await cri.listContainerStats({}, signal ? { signal } : {});
    const byPod = new Map<string, NonNullable<PodStats["containers"]>>();
    for (const s of stats as CriContainerStats[]) {
      const uid = s.attributes?.labels[POD_UID_LABEL];
      const c = containerStats(s);
      if (!uid || !c) continue;
      const list = byPod.get(uid) ?? [];
      list.push(c);
      byPod.set(uid, list);
    }
    return [...byPod].map(([uid, containers]) => {
      const memory = containers.reduce<number | undefined>(
        (acc, c) => (c.memoryWorkingSetBytes === undefined ? acc : (acc ?? 0) + c.memoryWorkingSetBytes),
        undefined,
      );
      const rootfs = sumRootfs(containers);
      return {
        uid,
        containers,
        ...(memory === undefined ? {} : { memoryWorkingSetBytes: memory }),
        ...(rootfs === undefined ? {} : { ephemeralStorageUsedBytes: rootfs }),
      };
    });
  }

  return {
    async podStats(signal) {
      if (sandboxStatsUnimplemented) return fromContainers(signal);
      let response: Awaited<ReturnType<CriClient["listPodSandboxStats"]>>;
      try {
        response = await cri.listPodSandboxStats({}, signal ? { signal } : {});
      } catch (err) {
        // containerd 1.6 fails the whole call when one sandbox has no cgroup parent ("cgroupPath
        // is empty"); container stats still work then. Unimplemented is remembered.
        if (err instanceof CriError && err.code === "Unimplemented") sandboxStatsUnimplemented = true;
        else onSandboxStatsError?.(err);
        return fromContainers(signal);
      }
      const byUid = new Map<string, PodStats>();
      for (const s of response.stats) {
        const uid = s.attributes?.metadata?.uid ?? s.attributes?.labels[POD_UID_LABEL];
        if (!uid || !s.linux) continue;
        const containers = s.linux.containers
          .map((c) => containerStats(c as CriContainerStats))
          .filter((c) => c !== undefined);
        const memory = num(s.linux.memory?.workingSetBytes);
        const processes = num(s.linux.process?.processCount);
        const rootfs = sumRootfs(containers);
        const stats: PodStats = {
          uid,
          containers,
          ...(memory === undefined ? {} : { memoryWorkingSetBytes: memory }),
          ...(processes === undefined ? {} : { processCount: processes }),
          ...(rootfs === undefined ? {} : { ephemeralStorageUsedBytes: rootfs }),
        };
        // A pod may have an old, stopped sandbox next to the current one: keep the one with containers.
        const previous = byUid.get(uid);
        if (!previous || (previous.containers?.length ?? 0) <= containers.length) byUid.set(uid, stats);
      }
      return [...byUid.values()];
    },
  };
}

/**
 * The runtime's image filesystem (CRI `ImageFsInfo`, then statfs of its mount point for capacity
 * and availability), or undefined when the runtime reports none.
 */
export async function criImageFsStats(cri: CriClient, nowMs: number): Promise<FsStats | undefined> {
  const mountpoint = await criImageFsMountpoint(cri);
  return mountpoint ? readFsStats(mountpoint, nowMs) : undefined;
}

/** Mount point of the runtime's first image filesystem. */
export async function criImageFsMountpoint(cri: CriClient): Promise<string | undefined> {
  const info = await cri.imageFsInfo({});
  return info.imageFilesystems[0]?.fsId?.mountpoint || undefined;
}
