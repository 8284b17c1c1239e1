import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { EvictionError } from "../errors.js";

/** Which cgroup hierarchy the memory controller lives in. */
export type CgroupMode = "v1" | "v2";

/** cgroup v1 reports "no limit" as a page-rounded int64 max. */
const V1_UNLIMITED = 2 ** 62;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a host file, wrapping failures in EvictionError("HostRead") naming the path. */
export async function readHostFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new EvictionError("HostRead", `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Detects the memory cgroup layout under `cgroupRoot` (default /sys/fs/cgroup): unified v2 when
 * cgroup.controllers sits at the root and lists memory, else v1 with a memory/ hierarchy.
 */
export async function detectCgroupMode(cgroupRoot = "/sys/fs/cgroup"): Promise<CgroupMode> {
  const controllers = join(cgroupRoot, "cgroup.controllers");
  if (await exists(controllers)) {
    const list = (await readHostFile(controllers)).split(/\s+/);
    if (list.includes("memory")) return "v2";
  }
  if (await exists(join(cgroupRoot, "memory", "memory.usage_in_bytes"))) return "v1";
  throw new EvictionError(
    "HostRead",
    `no memory cgroup found under ${cgroupRoot} (neither cgroup v2 with the memory controller nor a v1 memory hierarchy)`,
  );
}

/** Parses "key value" lines (memory.stat, /proc/meminfo without units handled by caller). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length >= 2) out.set(parts[0]!.replace(/:$/, ""), Number(parts[1]));
  }
  return out;
}

/** Directory of a cgroup (path relative to the hierarchy root, e.g. "/kubepods/burstable/pod123"). */
export function memoryCgroupDir(cgroupRoot: string, mode: CgroupMode, cgroupPath: string): string {
  return mode === "v1" ? join(cgroupRoot, "memory", cgroupPath) : join(cgroupRoot, cgroupPath);
}

/** Raw memory numbers of one cgroup. */
export interface CgroupMemory {
  usageBytes: number;
  inactiveFileBytes: number;
  /** usage - inactive_file, floored at 0 (cadvisor's working set). */
  workingSetBytes: number;
  /** Limit, undefined when unlimited. */
  limitBytes?: number;
}

/**
 * Reads usage, inactive_file and limit of a non-root cgroup.
 * v1: memory.usage_in_bytes, memory.stat total_inactive_file, memory.limit_in_bytes.
 * v2: memory.current, memory.stat inactive_file, memory.max.
 */
export async function readCgroupMemory(
  cgroupRoot: string,
  mode: CgroupMode,
  cgroupPath: string,
): Promise<CgroupMemory> {
  const dir = memoryCgroupDir(cgroupRoot, mode, cgroupPath);
  if (mode === "v1") {
    const [usage, stat, limit] = await Promise.all([
      readHostFile(join(dir, "memory.usage_in_bytes")),
      readHostFile(join(dir, "memory.stat")),
      readHostFile(join(dir, "memory.limit_in_bytes")).catch(() => ""),
    ]);
    const usageBytes = Number(usage.trim());
    const kv = parseKeyValues(stat);
    const inactive = kv.get("total_inactive_file") ?? kv.get("inactive_file") ?? 0;
    const l = Number(limit.trim());
    return {
      usageBytes,
      inactiveFileBytes: inactive,
      workingSetBytes: Math.max(0, usageBytes - inactive),
      ...(limit.trim() !== "" && l < V1_UNLIMITED ? { limitBytes: l } : {}),
    };
  }
  const [current, stat, max] = await Promise.all([
    readHostFile(join(dir, "memory.current")),
    readHostFile(join(dir, "memory.stat")),
    readHostFile(join(dir, "memory.max")).catch(() => "max"),
  ]);
  const usageBytes = Number(current.trim());
  const inactive = parseKeyValues(stat).get("inactive_file") ?? 0;
  return {
    usageBytes,
    inactiveFileBytes: inactive,
    workingSetBytes: Math.max(0, usageBytes - inactive),
    ...(max.trim() !== "max" ? { limitBytes: Number(max.trim()) } : {}),
  };
}

/** Number of tasks in a cgroup from pids.current (v1 pids hierarchy or v2), undefined if unavailable. */
export async function readCgroupPids(
  cgroupRoot: string,
  mode: CgroupMode,
  cgroupPath: string,
): Promise<number | undefined> {
  const file =
    mode === "v1"
      ? join(cgroupRoot, "pids", cgroupPath, "pids.current")
      : join(cgroupRoot, cgroupPath, "pids.current");
  try {
    return Number((await readFile(file, "utf8")).trim());
  } catch {
    return undefined;
  }
}
