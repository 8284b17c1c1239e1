// Disk usage of pods' emptyDir volumes for the eviction manager (upstream measures local volumes
// with `du` through the volume stats provider): `<root>/pods/<uid>/volumes/kubernetes.io~empty-dir/
// <name>`, allocated bytes and inodes, not crossing into other filesystems (a Memory-medium emptyDir
// is a tmpfs of its own and counts as memory, not disk). Eviction then enforces emptyDir sizeLimit
// and counts the volumes in the pod's ephemeral-storage use.
import type { Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { PodStats, PodStatsSource } from "@kubenode/eviction";
import { POD_UID } from "../pod-dirs.js";

const EMPTY_DIR = "kubernetes.io~empty-dir";

export interface DiskUsage {
  usedBytes: number;
  inodesUsed: number;
}

/** `du -x`: allocated bytes (512-byte blocks) and inodes under `dir`, on `dir`'s filesystem only. */
export async function diskUsage(dir: string): Promise<DiskUsage> {
  const root = await lstat(dir);
  const total: DiskUsage = { usedBytes: 0, inodesUsed: 0 };
  const visit = async (path: string, st: Stats): Promise<void> => {
    if (st.dev !== root.dev) return;
    total.usedBytes += st.blocks * 512;
    total.inodesUsed += 1;
    if (!st.isDirectory()) return;
    for (const entry of await readdir(path).catch(() => [])) {
      const child = join(path, entry);
      const cst = await lstat(child).catch(() => undefined); // removed meanwhile: not counted
      if (cst) await visit(child, cst);
    }
  };
  await visit(dir, root);
  return total;
}

/** The disk emptyDir volumes of one pod, by name. */
async function emptyDirUsage(rootDir: string, uid: string): Promise<NonNullable<PodStats["volumes"]>> {
  if (!POD_UID.test(uid)) return [];
  const base = join(rootDir, "pods", uid, "volumes", EMPTY_DIR);
  const names = await readdir(base).catch(() => []);
  const baseDev = names.length > 0 ? (await lstat(base).catch(() => undefined))?.dev : undefined;
  const out: NonNullable<PodStats["volumes"]> = [];
  for (const name of names) {
    const st = await lstat(join(base, name)).catch(() => undefined);
    if (!st?.isDirectory() || st.dev !== baseDev) continue; // a tmpfs (medium Memory) is not disk
    out.push({ name, ...(await diskUsage(join(base, name)).catch(() => ({}))) });
  }
  return out;
}

/**
 * Adds each pod's disk emptyDir usage to `source`'s stats: as `volumes` (for sizeLimit) and in
 * `ephemeralStorageUsedBytes` (with the containers' writable layers).
 */
export function withEmptyDirUsage(source: PodStatsSource, rootDir: string): PodStatsSource {
  return {
    async podStats(signal) {
      const pods = await source.podStats(signal);
      return Promise.all(
        pods.map(async (p) => {
          const volumes = await emptyDirUsage(rootDir, p.uid);
          if (volumes.length === 0) return p;
          const onDisk = volumes.reduce((sum, v) => sum + (v.usedBytes ?? 0), 0);
          return {
            ...p,
            volumes: [...(p.volumes ?? []), ...volumes],
            ephemeralStorageUsedBytes: (p.ephemeralStorageUsedBytes ?? 0) + onDisk,
          };
        }),
      );
    },
  };
}
