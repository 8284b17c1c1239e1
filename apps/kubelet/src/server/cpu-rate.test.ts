import { describe, expect, it } from "vitest";
import { createCpuRate } from "./cpu-rate.js";

// One core busy: 1e9 CPU nanoseconds per second of wall time.
const busy = (cores: number, atMs: number) => ({ ns: cores * 1e6 * atMs, atMs });

describe("createCpuRate", () => {
  it("has no rate before a first sample, then gives nanocores", () => {
    const r = createCpuRate();
    expect(r.rate(busy(1, 1000))).toBeUndefined();
    r.record(busy(1.5, 0));
    expect(r.rate(busy(1.5, 2000))).toBe(1.5e9);
  });

  it("measures against a sample at least the minimum window old, not one taken just before", () => {
    const r = createCpuRate(1000);
    r.record({ ns: 0, atMs: 0 });
    r.record({ ns: 1.9e9, atMs: 1000 }); // 1.9 cores over the first second
    // A housekeeping sample 3 ms before the request, its usage read a little late: over 3 ms of
    // millisecond-resolution time that would read as far more cores than the machine has.
    r.record({ ns: 3.9e9 + 5e6, atMs: 2000 });
    const now = { ns: 3.9e9 + 9e6, atMs: 2003 };
    const rate = r.rate(now)!;
    // Against the sample of t=1000: (3.909e9 - 1.9e9) ns over 1003 ms.
    expect(rate).toBe(Math.round((2.009e9 / 1003) * 1e3));
    expect(rate).toBeLessThan(2.01e9);
  });

  it("uses the oldest sample while none is old enough yet", () => {
    const r = createCpuRate(1000);
    r.record({ ns: 0, atMs: 100 });
    r.record({ ns: 1e8, atMs: 200 });
    expect(r.rate({ ns: 3e8, atMs: 400 })).toBe(1e9);
  });

  it("ignores samples out of order and a counter that went backwards", () => {
    const r = createCpuRate(1000);
    r.record({ ns: 5e9, atMs: 5000 });
    r.record({ ns: 1e9, atMs: 1000 });
    expect(r.rate({ ns: 7e9, atMs: 7000 })).toBe(1e9);
    expect(r.rate({ ns: 1e9, atMs: 8000 })).toBeUndefined();
  });

  it("keeps a bounded number of samples however often it is fed, without shortening the window", () => {
    const r = createCpuRate(1000, 4);
    for (let t = 0; t <= 10_000; t += 10) r.record(busy(1, t));
    // A second core busy for the last 10 ms: over a 30 ms window that would read as 1.33 cores.
    const now = { ns: busy(1, 10_010).ns + 1e7, atMs: 10_010 };
    const rate = r.rate(now)!;
    expect(rate).toBeGreaterThan(1e9);
    expect(rate).toBeLessThanOrEqual(1.01e9);
  });
});
