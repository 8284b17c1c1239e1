import { describe, expect, it } from "vitest";
import { EvictionError } from "./errors.js";
import {
  DEFAULT_EVICTION_HARD,
  parseThresholdConfig,
  thresholdQuantity,
  withContainerFsThresholds,
} from "./thresholds.js";
import type { Threshold } from "./types.js";

const Mi = 2 ** 20;
const Gi = 2 ** 30;

function bySignal(ts: Threshold[]) {
  return Object.fromEntries(ts.map((t) => [`${t.signal}${t.gracePeriodMs ? "/soft" : ""}`, t]));
}

describe("parseThresholdConfig", () => {
  it("uses upstream's Linux defaults when nothing is set", () => {
    const ts = parseThresholdConfig();
    expect(ts.map((t) => t.signal)).toEqual(Object.keys(DEFAULT_EVICTION_HARD));
    const m = bySignal(ts);
    expect(m["memory.available"]!.value).toEqual({ quantity: 100 * Mi, format: "BinarySI" });
    expect(m["nodefs.available"]!.value.percentage).toBeCloseTo(0.1, 6);
    expect(m["imagefs.available"]!.value.percentage).toBeCloseTo(0.15, 6);
    expect(ts.every((t) => t.gracePeriodMs === 0 && t.operator === "LessThan")).toBe(true);
  });

  it("parses kubelet flag syntax", () => {
    const ts = parseThresholdConfig({
      evictionHard: "memory.available<1Gi,nodefs.available<10%",
      mergeDefaultEvictionSettings: false,
    });
    expect(ts).toEqual([
      {
        signal: "memory.available",
        operator: "LessThan",
        value: { quantity: Gi, format: "BinarySI" },
        gracePeriodMs: 0,
      },
      {
        signal: "nodefs.available",
        operator: "LessThan",
        value: { percentage: Math.fround(Math.fround(10) / 100) },
        gracePeriodMs: 0,
      },
    ]);
  });

  it("keeps the other defaults when one hard threshold is overridden (our default, merge=true)", () => {
    const ts = parseThresholdConfig({ evictionHard: { "memory.available": "500Mi" } });
    const m = bySignal(ts);
    expect(Object.keys(m).sort()).toEqual(Object.keys(DEFAULT_EVICTION_HARD).sort());
    expect(m["memory.available"]!.value.quantity).toBe(500 * Mi);
  });

  it("drops the other defaults like upstream when mergeDefaultEvictionSettings is false", () => {
    const ts = parseThresholdConfig({
      evictionHard: { "memory.available": "500Mi" },
      mergeDefaultEvictionSettings: false,
    });
    expect(ts.map((t) => t.signal)).toEqual(["memory.available"]);
  });

  it("ignores 0% and 100%, so a default can be switched off explicitly", () => {
    const ts = parseThresholdConfig({
      evictionHard: { "nodefs.inodesFree": "0%", "imagefs.inodesFree": "100%" },
    });
    expect(ts.map((t) => t.signal).sort()).toEqual([
      "imagefs.available",
      "memory.available",
      "nodefs.available",
    ]);
  });

  it("attaches grace periods to soft thresholds and minimum reclaim to every threshold of a signal", () => {
    const ts = parseThresholdConfig({
      evictionHard: "memory.available<1Gi",
      evictionSoft: "memory.available<2Gi",
      evictionSoftGracePeriod: "memory.available=1m30s",
      evictionMinimumReclaim: { "memory.available": "500Mi", "nodefs.available": "5%" },
      mergeDefaultEvictionSettings: false,
    });
    const m = bySignal(ts);
    expect(m["memory.available"]).toMatchObject({ gracePeriodMs: 0, minReclaim: { quantity: 500 * Mi } });
    expect(m["memory.available/soft"]).toMatchObject({
      gracePeriodMs: 90_000,
      value: { quantity: 2 * Gi },
      minReclaim: { quantity: 500 * Mi },
    });
  });

  it("copies hard memory.available to allocatableMemory.available when enforcing pods allocatable", () => {
    const ts = parseThresholdConfig({
      evictionHard: "memory.available<1Gi",
      enforceNodeAllocatable: ["pods"],
      mergeDefaultEvictionSettings: false,
    });
    expect(ts.map((t) => t.signal)).toEqual(["memory.available", "allocatableMemory.available"]);
    expect(ts[1]!.value.quantity).toBe(Gi);
  });

  it.each([
    [
      "memory.available>1Gi",
      'invalid eviction threshold statement "memory.available>1Gi": only the "<" operator is supported',
    ],
    [
      "memory.available=1Gi",
      'invalid eviction threshold statement "memory.available=1Gi": only the "<" operator is supported',
    ],
    ["foo<1", 'unsupported eviction signal "foo"'],
    ["nodefs.available<120%", "eviction percentage threshold nodefs.available must be <= 100%: 120%"],
    ["nodefs.available<-5%", "eviction percentage threshold nodefs.available must be >= 0%: -5%"],
    ["memory.available<0", "eviction threshold memory.available must be positive: 0"],
    ["memory.available<lots", 'invalid eviction threshold memory.available<lots: invalid quantity "lots"'],
    ["memory.available", 'invalid eviction threshold statement "memory.available": expected signal<quantity'],
  ])("rejects %s with a clear error", (evictionHard, message) => {
    let caught: unknown;
    try {
      parseThresholdConfig({ evictionHard });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EvictionError);
    expect((caught as EvictionError).code).toBe("InvalidThreshold");
    expect((caught as EvictionError).message).toContain(message);
  });

  it("requires a grace period for each soft threshold", () => {
    expect(() => parseThresholdConfig({ evictionSoft: "memory.available<2Gi" })).toThrow(
      "grace period must be specified for the soft eviction threshold memory.available",
    );
    expect(() => parseThresholdConfig({ evictionSoft: "memory.available<2Gi" })).toThrow(
      expect.objectContaining({ code: "InvalidConfig" }),
    );
  });

  it("rejects bad grace periods and minimum reclaims", () => {
    expect(() =>
      parseThresholdConfig({
        evictionSoft: "memory.available<2Gi",
        evictionSoftGracePeriod: "memory.available=soon",
      }),
    ).toThrow('invalid eviction grace period for memory.available: invalid duration "soon"');
    expect(() =>
      parseThresholdConfig({
        evictionSoft: "memory.available<2Gi",
        evictionSoftGracePeriod: "memory.available=-1s",
      }),
    ).toThrow("invalid eviction grace period specified: -1s, must be a positive value");
    expect(() => parseThresholdConfig({ evictionMinimumReclaim: "memory.available=-1Mi" })).toThrow(
      "negative eviction minimum reclaim specified for memory.available",
    );
    expect(() => parseThresholdConfig({ evictionMinimumReclaim: "bar=1Mi" })).toThrow(
      'unsupported eviction signal "bar" in evictionMinimumReclaim',
    );
    expect(() => parseThresholdConfig({ evictionMinimumReclaim: "nodefs.available=0%" })).toThrow(
      "eviction percentage minimum reclaim nodefs.available must be positive: 0%",
    );
  });
});

describe("thresholdQuantity", () => {
  it("computes percentages of capacity and keeps absolute quantities", () => {
    expect(thresholdQuantity({ quantity: 5 }, 1000)).toBe(5);
    expect(thresholdQuantity({ percentage: 0.1 }, 1000)).toBe(100);
  });
});

describe("withContainerFsThresholds", () => {
  const base = parseThresholdConfig({ mergeDefaultEvictionSettings: true });
  it("copies nodefs thresholds on a single filesystem", () => {
    const ts = withContainerFsThresholds(base, false);
    const c = ts.find((t) => t.signal === "containerfs.available")!;
    expect(c.value).toEqual(ts.find((t) => t.signal === "nodefs.available")!.value);
  });
  it("copies imagefs thresholds with a dedicated image filesystem", () => {
    const ts = withContainerFsThresholds(base, true);
    const c = ts.find((t) => t.signal === "containerfs.available")!;
    expect(c.value).toEqual(ts.find((t) => t.signal === "imagefs.available")!.value);
  });
});
