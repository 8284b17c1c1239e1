import { readdirSync, readFileSync } from "node:fs";
import { run } from "./exec.js";

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined
 * when it does not exist. With the pid it names one process for good: pids are reused.
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** True while the process that recorded `(pid, startTime)` still runs (not a later one with its pid). */
export function isOwnerAlive(owner: { pid: number; startTime?: number | undefined }): boolean {
  if (!isProcessAlive(owner.pid)) return false;
  if (owner.startTime === undefined) return true;
  const now = processStartTime(owner.pid);
  return now === undefined || now === owner.startTime;
}

/** Pids of the processes whose command line contains `needle` (read from /proc). */
export function pidsWithCmdline(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids.filter((p) => p !== process.pid);
}

/** Mount points at or below `dir`, deepest first (ready to unmount in order). */
export function mountsUnder(dir: string): string[] {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    // mountinfo escapes spaces etc. as octal
    .map((m) => m.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/**
 * `umount -l` of one mount. A mount listed a moment ago may be gone by now (a shim unmounted it
 * while exiting): that is the outcome wanted, so "not mounted" is not an error.
 */
export async function unmountLazily(mountPoint: string): Promise<void> {
  await run(["umount", "-l", mountPoint]).catch((err: unknown) => {
    if (!(err instanceof Error && /not mounted/.test(err.message))) throw err;
  });
}
