import { createFakeClock } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { FakeKiller, Gi, Mi, makePod } from "../test/fixtures.js";
import { createEvictionManager } from "./manager.js";
import { createMemoryThresholdNotifier, createMemoryThresholdNotifiers } from "./notifier.js";
import { parseThresholdConfig } from "./thresholds.js";
import type { StatsSummary, Threshold } from "./types.js";

const threshold: Threshold = {
  signal: "memory.available",
  operator: "LessThan",
  value: { quantity: Gi },
  gracePeriodMs: 0,
};

/** A node with 8Gi, `workingSet` in use and 512Mi of inactive file cache. */
function summary(workingSet: number): StatsSummary {
  return {
    node: {
      memory: {
        usageBytes: workingSet + 512 * Mi,
        workingSetBytes: workingSet,
        availableBytes: 8 * Gi - workingSet,
      },
    },
    pods: [{ uid: "uid-hog", memoryWorkingSetBytes: workingSet }],
  };
}

describe("createMemoryThresholdNotifier (upstream TestUpdateMemcgThreshold semantics)", () => {
  it("fires when usage crosses capacity - threshold + inactive_file, in either direction", async () => {
    const clock = createFakeClock();
    let usage = 2 * Gi;
    const n = createMemoryThresholdNotifier({ threshold, clock, readUsageBytes: async () => usage });
    const fired: string[] = [];
    n.updateThreshold(summary(2 * Gi));
    n.start((r) => fired.push(r));
    await clock.step(100);
    expect(fired).toEqual([]);
    // usage threshold = 8Gi - 1Gi + 512Mi
    usage = 7 * Gi + 512 * Mi - 1;
    await clock.step(100);
    expect(fired).toEqual([]);
    usage = 7 * Gi + 512 * Mi;
    await clock.step(100);
    expect(fired).toEqual(["eviction manager: hard memory eviction threshold crossed"]);
    await clock.step(300);
    expect(fired).toHaveLength(1);
    usage = Gi;
    await clock.step(100);
    expect(fired).toHaveLength(2);
    n.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("needs complete memory stats and a memory signal", () => {
    const n = createMemoryThresholdNotifier({ threshold, readUsageBytes: async () => 0 });
    expect(() => n.updateThreshold({ node: {}, pods: [] })).toThrow("summary was incomplete");
    expect(() =>
      createMemoryThresholdNotifier({ threshold: { ...threshold, signal: "nodefs.available" } }),
    ).toThrow("memory threshold notifier needs a memory signal, got nodefs.available");
  });

  it("makes one notifier per memory threshold", () => {
    const ts = parseThresholdConfig({
      evictionHard: "memory.available<1Gi",
      evictionSoft: "memory.available<2Gi",
      evictionSoftGracePeriod: "memory.available=30s",
      enforceNodeAllocatable: ["pods"],
    });
    expect(createMemoryThresholdNotifiers(ts).map((n) => n.description)).toEqual([
      "hard memory eviction threshold",
      "soft memory eviction threshold",
    ]);
    expect(createMemoryThresholdNotifiers(ts, { podsCgroup: "/kubepods" })).toHaveLength(3);
  });
});

describe("manager with a notifier", () => {
  it("evicts within one poll interval of the crossing instead of waiting for the 10 s loop", async () => {
    const clock = createFakeClock();
    const hog = makePod("hog");
    let workingSet = 2 * Gi;
    let sample = 0;
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: [threshold],
      stats: {
        getSummary: async () => {
          const s = summary(workingSet);
          s.node.memory!.timeMs = ++sample;
          return s;
        },
      },
      pods: { activePods: () => [hog] },
      killer,
      clock,
      notifiers: [
        createMemoryThresholdNotifier({
          threshold,
          clock,
          readUsageBytes: async () => workingSet + 512 * Mi,
        }),
      ],
    });
    m.start();
    await clock.step(0);
    expect(killer.requests).toHaveLength(0);
    await clock.step(1000);
    workingSet = 7.5 * Gi;
    await clock.step(100);
    expect(killer.lastPod).toBe("hog");
    // 1.1 s after start, well before the next 10 s tick
    expect(clock.now() - Date.UTC(2026, 0, 1)).toBe(1100);
    await m.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});
