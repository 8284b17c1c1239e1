// Pod-level cgroups (cm/pod_container_manager_linux.go, cm/cgroup_manager_linux.go): each pod's
// sandbox gets a cgroup parent under its QoS tier, `<root>/kubepods[/burstable|/besteffort]/pod<uid>`,
// named for the cgroup driver in use; the runtime creates it with the sandbox. Pod cgroups of pods
// that no longer run are removed by a sweep (upstream's cleanupOrphanedPodCgroups).
import { readdir, rmdir } from "node:fs/promises";
import { join } from "node:path";
import type { Pod } from "../api.js";
import { podQosClass } from "../qos.js";

/** The kubelet's cgroupDriver: how cgroup names are written for the runtime. */
export type CgroupDriver = "cgroupfs" | "systemd";

/** Pod cgroup settings (KubeletConfiguration cgroupsPerQOS, cgroupDriver, cgroupRoot). */
export interface PodCgroupSettings {
  driver: CgroupDriver;
  /** cgroupRoot: where `kubepods` lives, default `/`. */
  root?: string;
}

const UID = /^[A-Za-z0-9_-]{1,128}$/;
const SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** The components of `root` (`/a/b` → [a, b]); rejects anything but plain path segments. */
function rootComponents(root = "/"): string[] {
  const parts = root.split("/").filter((p) => p !== "");
  for (const p of parts)
    if (!SEGMENT.test(p) || p === "." || p === "..")
      throw new RangeError(
        `cgroupRoot ${JSON.stringify(root)}: ${JSON.stringify(p)} is not a valid cgroup name`,
      );
  return parts;
}

/** Components of a pod's cgroup name: root, `kubepods`, the QoS tier (none for Guaranteed), `pod<uid>`. */
export function podCgroupName(pod: Pod, root?: string): string[] {
  const uid = pod.metadata.uid ?? "";
  // The UID becomes a directory name: nothing but a UID's characters may reach it.
  if (!UID.test(uid)) throw new RangeError(`pod UID ${JSON.stringify(uid)} cannot name a cgroup`);
  const qos = podQosClass(pod);
  return [
    ...rootComponents(root),
    "kubepods",
    ...(qos === "Guaranteed" ? [] : [qos.toLowerCase()]),
    `pod${uid}`,
  ];
}

/**
 * The name the runtime gets as cgroup_parent: cgroupfs `/kubepods/burstable/pod<uid>`; systemd the
 * expanded slice path `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice`
 * (dashes in components escaped to `_`, as CgroupName.ToSystemd and ExpandSlice write it).
 */
export function cgroupParentName(name: readonly string[], driver: CgroupDriver): string {
  if (driver === "cgroupfs") return `/${name.join("/")}`;
  const escaped = name.map((c) => c.replaceAll("-", "_"));
  let path = "";
  for (let i = 1; i <= escaped.length; i++) path += `/${escaped.slice(0, i).join("-")}.slice`;
  return path || "/";
}

/** The sandbox cgroup_parent of `pod`. */
export function podCgroupParent(pod: Pod, settings: PodCgroupSettings): string {
  return cgroupParentName(podCgroupName(pod, settings.root), settings.driver);
}

/**
 * Removes the (empty) cgroupfs pod cgroups under `<root>/kubepods` whose pod UID is not in `keep`,
 * in every mounted hierarchy under `fsRoot` (cgroup v1: one per controller; v2: the one tree).
 * A cgroup still holding processes cannot be removed (EBUSY) and is left for the next sweep.
 * Returns the UIDs whose cgroups were removed everywhere.
 */
export async function sweepPodCgroups(
  keep: ReadonlySet<string>,
  settings: PodCgroupSettings,
  fsRoot = "/sys/fs/cgroup",
): Promise<string[]> {
  if (settings.driver !== "cgroupfs") return [];
  const base = [...rootComponents(settings.root), "kubepods"];
  const hierarchies = await readdir(fsRoot, { withFileTypes: true }).catch(() => []);
  // cgroup v2 mounts the tree at fsRoot itself; v1 has one directory per hierarchy.
  const roots = [fsRoot, ...hierarchies.filter((d) => d.isDirectory()).map((d) => join(fsRoot, d.name))];
  const removed = new Set<string>();
  const busy = new Set<string>();
  for (const h of roots) {
    for (const tier of [[], ["burstable"], ["besteffort"]]) {
      const dir = join(h, ...base, ...tier);
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isDirectory() || !e.name.startsWith("pod")) continue;
        const uid = e.name.slice(3);
        if (!UID.test(uid) || keep.has(uid)) continue;
        try {
          await rmdir(join(dir, e.name));
          removed.add(uid);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") busy.add(uid);
        }
      }
    }
  }
  return [...removed].filter((uid) => !busy.has(uid));
}
