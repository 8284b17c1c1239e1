import { describe, expect, it } from "vitest";
import { diskStats, makePod, memoryStats, resources } from "../test/fixtures.js";
import { buildSignalToRankFunc, rankMemoryPressure, rankPIDPressure } from "./ranking.js";
import { podStatsLookup } from "./signals.js";
import type { EvictionPod, PodStats } from "./types.js";

const names = (pods: EvictionPod[]) => pods.map((p) => p.metadata!.name);

describe("rankMemoryPressure (upstream TestOrderedByExceedsRequestMemory / ByPriority / ByMemory)", () => {
  it.each([
    {
      name: "exceeding requests beats priority and usage",
      pods: [
        ["below-requests", { requests: resources("", "500Mi") }, "400Mi"],
        ["above-requests", { requests: resources("", "100Mi"), priority: 10 }, "200Mi"],
      ],
      want: ["above-requests", "below-requests"],
    },
    {
      name: "then lower priority",
      pods: [
        ["high", { priority: 1 }, "900Mi"],
        ["low", { priority: -1 }, "100Mi"],
        ["default", {}, "500Mi"],
      ],
      want: ["low", "default", "high"],
    },
    {
      name: "then larger usage above request",
      pods: [
        ["small", { requests: resources("", "100Mi") }, "200Mi"],
        ["big", { requests: resources("", "100Mi") }, "900Mi"],
        ["mid", {}, "300Mi"],
      ],
      want: ["big", "mid", "small"],
    },
  ] as const)("$name", ({ pods, want }) => {
    const list: EvictionPod[] = [];
    const stats: PodStats[] = [];
    for (const [n, spec, ws] of pods) {
      const p = makePod(n, spec as Parameters<typeof makePod>[1]);
      list.push(p);
      stats.push(memoryStats(p, ws));
    }
    rankMemoryPressure(list, podStatsLookup(stats));
    expect(names(list)).toEqual(want);
  });

  it("puts pods without stats first", () => {
    const a = makePod("with-stats");
    const b = makePod("no-stats", { priority: 100 });
    const list = [a, b];
    rankMemoryPressure(list, podStatsLookup([memoryStats(a, "1Gi")]));
    expect(names(list)).toEqual(["no-stats", "with-stats"]);
  });
});

describe("rankPIDPressure", () => {
  it("orders by priority, then process count", () => {
    const pods = [makePod("a"), makePod("b", { priority: -5 }), makePod("c")];
    const stats: PodStats[] = [
      { uid: "uid-a", processCount: 10 },
      { uid: "uid-b", processCount: 1 },
      { uid: "uid-c", processCount: 50 },
    ];
    rankPIDPressure(pods, podStatsLookup(stats));
    expect(names(pods)).toEqual(["b", "c", "a"]);
  });
});

describe("disk ranking per filesystem layout (upstream buildSignalToRankFunc)", () => {
  const vol = [{ name: "v", emptyDir: {} }];
  const rootfsHog = makePod("rootfs-hog", { volumes: vol });
  const logsHog = makePod("logs-hog", { volumes: vol });
  const volumeHog = makePod("volume-hog", { volumes: vol });
  const stats = podStatsLookup([
    diskStats(rootfsHog, "900Mi", "10Mi", "10Mi"),
    diskStats(logsHog, "10Mi", "500Mi", "10Mi"),
    diskStats(volumeHog, "10Mi", "10Mi", "700Mi"),
  ]);
  it.each([
    { dedicated: false, signal: "nodefs.available", want: ["rootfs-hog", "volume-hog", "logs-hog"] },
    // with an imagefs, nodefs counts logs and local volumes only; imagefs counts rootfs
    { dedicated: true, signal: "nodefs.available", want: ["volume-hog", "logs-hog", "rootfs-hog"] },
    { dedicated: true, signal: "imagefs.available", want: ["rootfs-hog", "logs-hog", "volume-hog"] },
  ] as const)("dedicatedImageFs=$dedicated $signal", ({ dedicated, signal, want }) => {
    const pods = [logsHog, volumeHog, rootfsHog];
    buildSignalToRankFunc(dedicated).get(signal)!(pods, stats);
    expect(names(pods)).toEqual(want);
  });

  it("puts pods above their ephemeral-storage request first", () => {
    const big = makePod("big-with-request", { requests: resources("", "", "2Gi"), volumes: vol });
    const small = makePod("small-no-request", { volumes: vol });
    const s = podStatsLookup([diskStats(big, "1Gi", "", ""), diskStats(small, "10Mi", "", "")]);
    const pods = [big, small];
    buildSignalToRankFunc(false).get("nodefs.available")!(pods, s);
    expect(names(pods)).toEqual(["small-no-request", "big-with-request"]);
  });
});
