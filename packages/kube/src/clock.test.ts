import { describe, expect, it } from "vitest";
import { createFakeClock, createRealClock } from "./clock.js";

describe("fake clock", () => {
  it("fires timers in due order only when stepped", async () => {
    const clock = createFakeClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 200);
    clock.setTimeout(() => fired.push("a"), 100);
    const cancelled = clock.setTimeout(() => fired.push("never"), 150);
    clock.clearTimeout(cancelled);
    await clock.step(99);
    expect(fired).toEqual([]);
    await clock.step(1);
    expect(fired).toEqual(["a"]);
    expect(clock.now()).toBe(1_100);
    await clock.step(500);
    expect(fired).toEqual(["a", "b"]);
    expect(clock.now()).toBe(1_600);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("lets code awaiting sleep schedule the next sleep within the same step", async () => {
    const clock = createFakeClock(0);
    const ticks: number[] = [];
    (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10);
        ticks.push(clock.now());
      }
    })();
    await clock.step(30);
    expect(ticks).toEqual([10, 20, 30]);
  });

  it("rejects a sleep when its signal aborts and cancels the timer", async () => {
    const clock = createFakeClock(0);
    const ac = new AbortController();
    const p = clock.sleep(1_000, ac.signal);
    expect(clock.pendingTimers()).toBe(1);
    ac.abort(new Error("bye"));
    await expect(p).rejects.toThrow("bye");
    expect(clock.pendingTimers()).toBe(0);
  });

  it("refuses a negative step", async () => {
    await expect(createFakeClock().step(-1)).rejects.toThrow(/non-negative/);
  });
});

describe("real clock", () => {
  it("sleeps on real timers", async () => {
    const clock = createRealClock();
    const before = clock.now();
    await clock.sleep(5);
    expect(clock.now()).toBeGreaterThanOrEqual(before + 4);
  });
});
