import { createFakeClock } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { createSyncRunner } from "./sync-runner.js";

function setup(opts: { fail?: () => boolean; minIntervalMs?: number; maxIntervalMs?: number } = {}) {
  const clock = createFakeClock(0);
  const starts: number[] = [];
  const errors: number[] = [];
  const runner = createSyncRunner({
    clock,
    minIntervalMs: opts.minIntervalMs ?? 1000,
    maxIntervalMs: opts.maxIntervalMs ?? 30_000,
    sync: async () => {
      starts.push(clock.now());
      if (opts.fail?.()) throw new Error("apply failed");
    },
    onError: (_err, retryInMs) => errors.push(retryInMs),
  });
  return { clock, starts, errors, runner };
}

describe("sync runner", () => {
  it("syncs at start, then every syncPeriod when nothing changes", async () => {
    const { clock, starts, runner } = setup();
    runner.start();
    await clock.step(0);
    expect(starts).toEqual([0]);
    await clock.step(29_999);
    expect(starts).toEqual([0]);
    await clock.step(1);
    expect(starts).toEqual([0, 30_000]);
    await clock.step(30_000);
    expect(starts).toEqual([0, 30_000, 60_000]);
    await runner.stop();
  });

  it("batches changes arriving faster than minSyncPeriod into one sync", async () => {
    const { clock, starts, runner } = setup();
    runner.start();
    await clock.step(0);
    for (let i = 0; i < 10; i++) {
      await clock.step(50);
      runner.run();
    }
    // 10 changes within 500 ms of the first sync: one more sync, at t = 1000 (minSyncPeriod).
    await clock.step(2000);
    expect(starts).toEqual([0, 1000]);
    await runner.stop();
  });

  it("syncs at once when minSyncPeriod has passed since the last sync", async () => {
    const { clock, starts, runner } = setup();
    runner.start();
    await clock.step(5000);
    runner.run();
    await clock.step(0);
    expect(starts).toEqual([0, 5000]);
    // The periodic sync is pushed back to syncPeriod after the last one.
    await clock.step(29_999);
    expect(starts).toEqual([0, 5000]);
    await clock.step(1);
    expect(starts).toEqual([0, 5000, 35_000]);
    await runner.stop();
  });

  it("retries a failed sync with a growing backoff, then goes back to the periodic pace", async () => {
    let failures = 3;
    const { clock, starts, errors, runner } = setup({ fail: () => failures-- > 0 });
    runner.start();
    await clock.step(0);
    await clock.step(1000 + 2000 + 4000);
    expect(starts).toEqual([0, 1000, 3000, 7000]);
    expect(errors).toEqual([1000, 2000, 4000]);
    await clock.step(30_000);
    expect(starts).toEqual([0, 1000, 3000, 7000, 37_000]);
    await runner.stop();
  });

  it("caps the retry delay at syncPeriod", async () => {
    const { clock, errors, runner } = setup({ fail: () => true, maxIntervalMs: 5000 });
    runner.start();
    await clock.step(60_000);
    expect(Math.max(...errors)).toBe(5000);
    await runner.stop();
  });

  it("leaves no timer behind after stop", async () => {
    const { clock, runner } = setup();
    runner.start();
    await clock.step(0);
    await runner.stop();
    expect(clock.pendingTimers()).toBe(0);
    runner.run();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("rejects nonsensical intervals", () => {
    const clock = createFakeClock(0);
    expect(() =>
      createSyncRunner({ clock, minIntervalMs: 0, maxIntervalMs: 0, sync: async () => {} }),
    ).toThrow(/maxIntervalMs/);
  });
});
