import { describe, expect, it } from "vitest";
import { createBackoff, jitterMs } from "./backoff.js";

describe("backoff", () => {
  it("doubles from initial to the cap and resets", () => {
    // The lease controller's ensure-lease backoff: 200 ms doubling to 7 s.
    const b = createBackoff({ initialMs: 200, maxMs: 7_000 });
    const delays = Array.from({ length: 8 }, () => b.next());
    expect(delays).toEqual([200, 400, 800, 1_600, 3_200, 6_400, 7_000, 7_000]);
    expect(b.attempts).toBe(8);
    b.reset();
    expect(b.next()).toBe(200);
  });

  it("adds up to jitter x delay of extra wait", () => {
    const b = createBackoff({ initialMs: 1_000, maxMs: 10_000, jitter: 0.5, random: () => 0.5 });
    expect(b.next()).toBe(1_250);
    expect(b.next()).toBe(2_500);
    expect(jitterMs(10_000, 0.04, () => 0.999)).toBeCloseTo(10_399.6);
    expect(jitterMs(10_000, 0)).toBe(10_000);
  });

  it("rejects nonsense settings with a message naming the field", () => {
    expect(() => createBackoff({ initialMs: -1, maxMs: 5 })).toThrow(/initialMs/);
    expect(() => createBackoff({ initialMs: 10, maxMs: 5 })).toThrow(/maxMs/);
    expect(() => createBackoff({ initialMs: 1, maxMs: 5, factor: 0.5 })).toThrow(/factor/);
  });
});
