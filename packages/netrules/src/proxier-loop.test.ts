import { describe, expect, it } from "vitest";
import { createFlushCheck } from "./proxier-loop.js";

describe("createFlushCheck", () => {
  it("probes once per kube-proxy syncPeriod (30 s) by default, never before the first sync", () => {
    let t = 0;
    const check = createFlushCheck({ now: () => t });
    expect(check.due(false)).toBe(false);
    expect(check.due(true)).toBe(true);
    t = 29_999;
    expect(check.due(true)).toBe(false);
    t = 30_000;
    expect(check.due(true)).toBe(true);
  });

  it("probes before every sync with an interval of 0", () => {
    const check = createFlushCheck({ flushCheckIntervalMs: 0 });
    expect([check.due(true), check.due(true)]).toEqual([true, true]);
  });

  it("probes at most once per interval, counting from the last full sync", () => {
    let t = 0;
    const check = createFlushCheck({ flushCheckIntervalMs: 30_000, now: () => t });
    expect(check.due(true)).toBe(true);
    t = 10_000;
    expect(check.due(true)).toBe(false);
    t = 30_000;
    expect(check.due(true)).toBe(true);
    t = 45_000;
    check.reset();
    t = 70_000;
    expect(check.due(true)).toBe(false);
    t = 75_000;
    expect(check.due(true)).toBe(true);
  });
});
