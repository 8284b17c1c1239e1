import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { makeSignalObservations } from "../signals.js";
import { detectCgroupMode } from "./cgroup.js";
import { createHostStatsProvider } from "./host-stats.js";

const Mi = 2 ** 20;

function meminfoKb(key: string): number {
  const line = readFileSync("/proc/meminfo", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${key}:`));
  if (!line) throw new Error(`${key} missing from /proc/meminfo`);
  return Number(line.split(/\s+/)[1]);
}

describe("host signals on this machine (cross-checked against /proc and df)", () => {
  it("memory.available: capacity is MemTotal; available lies between MemFree and MemTotal", async () => {
    const mode = await detectCgroupMode();
    const s = await createHostStatsProvider().getSummary();
    const obs = makeSignalObservations(s).get("memory.available")!;
    const total = meminfoKb("MemTotal") * 1024;
    const free = meminfoKb("MemFree") * 1024;
    expect(obs.capacity).toBe(total);
    // The working set (charged memory minus inactive file cache) never exceeds what is not free.
    // Allow 256Mi for memory moving between the two reads.
    expect(obs.available).toBeGreaterThanOrEqual(free - 256 * Mi);
    expect(obs.available).toBeLessThanOrEqual(total);
    expect(["v1", "v2"]).toContain(mode);
  });

  it("nodefs: statfs of / matches df's size, avail and inode columns", async () => {
    const s = await createHostStatsProvider({ rootDir: "/" }).getSummary();
    const df = execFileSync("df", ["-B1", "--output=size,avail,itotal,iavail", "/"], { encoding: "utf8" })
      .trim()
      .split("\n")[1]!
      .trim()
      .split(/\s+/)
      .map(Number);
    const [size, avail, itotal, iavail] = df as [number, number, number, number];
    const fs = s.node.nodeFs!;
    expect(fs.capacityBytes).toBe(size);
    expect(Math.abs(fs.availableBytes! - avail)).toBeLessThan(256 * Mi);
    expect(fs.inodes).toBe(itotal);
    expect(Math.abs(fs.inodesFree! - iavail)).toBeLessThan(10_000);
    const obs = makeSignalObservations(s);
    expect(obs.get("nodefs.available")).toMatchObject({ capacity: size });
    expect(obs.get("imagefs.available")).toMatchObject({ capacity: size });
  });

  it("pid.available: min(pid_max, threads-max) minus running tasks from /proc/loadavg", async () => {
    const s = await createHostStatsProvider().getSummary();
    const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));
    const threadsMax = Number(readFileSync("/proc/sys/kernel/threads-max", "utf8"));
    expect(s.node.rlimit!.maxPid).toBe(Math.min(pidMax, threadsMax));
    const tasks = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[3]!.split("/")[1]);
    expect(Math.abs(s.node.rlimit!.runningProcesses! - tasks)).toBeLessThan(200);
    const obs = makeSignalObservations(s).get("pid.available")!;
    expect(obs.available).toBe(obs.capacity - s.node.rlimit!.runningProcesses!);
  });
});

describe("hasDedicatedImageFs on this machine", () => {
  it("tells a separate filesystem (/dev/shm tmpfs) from the same one (/tmp on /)", async () => {
    const { hasDedicatedImageFs } = await import("./host-stats.js");
    const rootDev = execFileSync("stat", ["-c", "%d", "/"], { encoding: "utf8" }).trim();
    const shmDev = execFileSync("stat", ["-c", "%d", "/dev/shm"], { encoding: "utf8" }).trim();
    expect(await hasDedicatedImageFs("/", "/dev/shm")).toBe(rootDev !== shmDev);
    expect(await hasDedicatedImageFs("/", "/")).toBe(false);
    await expect(hasDedicatedImageFs("/", "/nonexistent-image-dir")).rejects.toMatchObject({
      code: "HostRead",
    });
  });
});
