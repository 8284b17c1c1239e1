import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createFakeClock } from "@kubenode/kube";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makePod, resources } from "../../test/fixtures.js";
import { detectCgroupMode } from "./cgroup.js";
import { createHostStatsProvider } from "./host-stats.js";
import { createCgroupPodStatsSource, kubeletPodCgroupPath } from "./pod-cgroups.js";

const Mi = 2 ** 20;
let dir: string;

function write(rel: string, content: string) {
  const p = join(dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
}

function proc() {
  write(
    "proc/meminfo",
    "MemTotal:        4194304 kB\nMemFree:         1048576 kB\nInactive(file):   262144 kB\n",
  );
  write("proc/loadavg", "0.10 0.20 0.30 2/345 6789\n");
  write("proc/sys/kernel/pid_max", "32768\n");
  write("proc/sys/kernel/threads-max", "20000\n");
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "eviction-host-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("createHostStatsProvider on fixture trees", () => {
  it("cgroup v1: memory.available = MemTotal - (usage_in_bytes - total_inactive_file)", async () => {
    proc();
    write("cg/memory/memory.usage_in_bytes", `${2048 * Mi}\n`);
    write("cg/memory/memory.stat", `cache 1\ninactive_file 5\ntotal_inactive_file ${512 * Mi}\n`);
    write("cg/memory/kubepods/memory.usage_in_bytes", `${1024 * Mi}\n`);
    write("cg/memory/kubepods/memory.stat", `total_inactive_file ${256 * Mi}\n`);
    write("cg/memory/kubepods/memory.limit_in_bytes", `${3072 * Mi}\n`);
    expect(await detectCgroupMode(join(dir, "cg"))).toBe("v1");
    const p = createHostStatsProvider({
      procRoot: join(dir, "proc"),
      cgroupRoot: join(dir, "cg"),
      rootDir: dir,
      podsCgroup: "/kubepods",
      clock: createFakeClock(1000),
    });
    const s = await p.getSummary();
    expect(s.node.memory).toEqual({
      usageBytes: 2048 * Mi,
      workingSetBytes: 1536 * Mi,
      availableBytes: 4096 * Mi - 1536 * Mi,
      timeMs: 1000,
    });
    expect(s.node.allocatableMemory).toMatchObject({
      workingSetBytes: 768 * Mi,
      availableBytes: 3072 * Mi - 768 * Mi,
    });
    expect(s.node.rlimit).toEqual({ maxPid: 20000, runningProcesses: 345, timeMs: 1000 });
  });

  it("cgroup v2: usage from meminfo at the root, inactive_file from the root memory.stat", async () => {
    proc();
    write("cg/cgroup.controllers", "cpuset cpu io memory pids\n");
    write("cg/memory.stat", `anon 1\ninactive_file ${128 * Mi}\n`);
    write("cg/kubepods/memory.current", `${100 * Mi}\n`);
    write("cg/kubepods/memory.stat", `inactive_file ${20 * Mi}\n`);
    write("cg/kubepods/memory.max", "max\n");
    expect(await detectCgroupMode(join(dir, "cg"))).toBe("v2");
    const s = await createHostStatsProvider({
      procRoot: join(dir, "proc"),
      cgroupRoot: join(dir, "cg"),
      rootDir: dir,
      podsCgroup: "/kubepods",
    }).getSummary();
    // usage = 4096Mi - 1024Mi free = 3072Mi; working set = 3072Mi - 128Mi
    expect(s.node.memory).toMatchObject({
      usageBytes: 3072 * Mi,
      workingSetBytes: 2944 * Mi,
      availableBytes: 1152 * Mi,
    });
    // unlimited pods cgroup: capacity falls back to node capacity
    expect(s.node.allocatableMemory).toMatchObject({
      workingSetBytes: 80 * Mi,
      availableBytes: 4096 * Mi - 80 * Mi,
    });
  });

  it("reports imagefs as nodefs when no image filesystem is given, or asks the given source", async () => {
    proc();
    write("cg/memory/memory.usage_in_bytes", "1\n");
    write("cg/memory/memory.stat", "total_inactive_file 0\n");
    const base = { procRoot: join(dir, "proc"), cgroupRoot: join(dir, "cg"), rootDir: dir };
    const one = await createHostStatsProvider(base).getSummary();
    expect(one.node.imageFs).toEqual(one.node.nodeFs);
    const two = await createHostStatsProvider({
      ...base,
      imageFs: async () => ({ availableBytes: 5, capacityBytes: 10, inodesFree: 1, inodes: 2 }),
    }).getSummary();
    expect(two.node.imageFs).toEqual({ availableBytes: 5, capacityBytes: 10, inodesFree: 1, inodes: 2 });
  });

  it("fails with a HostRead error naming the missing file", async () => {
    proc();
    rmSync(join(dir, "proc/meminfo"));
    write("cg/memory/memory.usage_in_bytes", "1\n");
    write("cg/memory/memory.stat", "total_inactive_file 0\n");
    const p = createHostStatsProvider({
      procRoot: join(dir, "proc"),
      cgroupRoot: join(dir, "cg"),
      rootDir: dir,
    });
    await expect(p.getSummary()).rejects.toMatchObject({
      code: "HostRead",
      message: expect.stringContaining(`cannot read ${join(dir, "proc/meminfo")}`),
    });
    await expect(detectCgroupMode(join(dir, "nothing"))).rejects.toThrow("no memory cgroup found under");
  });
});

describe("createCgroupPodStatsSource", () => {
  it("reads working set and pids per pod; pods without a cgroup are left out", async () => {
    write("cg/memory/kubepods/burstable/poda/memory.usage_in_bytes", `${300 * Mi}\n`);
    write("cg/memory/kubepods/burstable/poda/memory.stat", `total_inactive_file ${100 * Mi}\n`);
    write("cg/pids/kubepods/burstable/poda/pids.current", "7\n");
    const src = createCgroupPodStatsSource({
      cgroupRoot: join(dir, "cg"),
      cgroupMode: "v1",
      pods: () => [
        { uid: "a", cgroupPath: "/kubepods/burstable/poda" },
        { uid: "gone", cgroupPath: "/kubepods/besteffort/podgone" },
      ],
    });
    expect(await src.podStats()).toEqual([{ uid: "a", memoryWorkingSetBytes: 200 * Mi, processCount: 7 }]);
  });

  it("maps pods to the kubelet's cgroupfs layout by QoS", () => {
    const g = makePod("g", { requests: resources("1", "1Gi"), limits: resources("1", "1Gi") });
    const b = makePod("b", { requests: resources("", "1Gi") });
    const e = makePod("e");
    expect(kubeletPodCgroupPath(g)).toBe("/kubepods/poduid-g");
    expect(kubeletPodCgroupPath(b)).toBe("/kubepods/burstable/poduid-b");
    expect(kubeletPodCgroupPath(e, "/kubepods/")).toBe("/kubepods/besteffort/poduid-e");
  });
});
