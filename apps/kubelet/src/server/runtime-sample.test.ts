import { createFakeClock } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { createRuntimeSampler } from "./runtime-sample.js";

/** A runtime whose reads are counted and numbered, and can be made to fail. */
function fakeRuntime() {
  const rt = { reads: 0, failWith: undefined as Error | undefined };
  const read = async () => {
    rt.reads++;
    if (rt.failWith) throw rt.failWith;
    return `sample ${rt.reads}`;
  };
  return { rt, read };
}

describe("runtime sampler (housekeeping for /stats/summary)", () => {
  it("reads on the first request, then answers from the loop's latest sample without waiting", async () => {
    const clock = createFakeClock();
    const { rt, read } = fakeRuntime();
    const sampler = createRuntimeSampler({ read, clock, intervalMs: 10_000 });
    expect(await sampler.get()).toBe("sample 1");
    await clock.step(5_000);
    expect(await sampler.get()).toBe("sample 1");
    expect(rt.reads).toBe(1);
    await clock.step(5_000); // the loop re-reads on its own
    expect(rt.reads).toBe(2);
    expect(await sampler.get()).toBe("sample 2");
    expect(rt.reads).toBe(2);
    sampler.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("shares one read between concurrent first requests", async () => {
    const clock = createFakeClock();
    const { rt, read } = fakeRuntime();
    const sampler = createRuntimeSampler({ read, clock });
    expect(await Promise.all([sampler.get(), sampler.get(), sampler.get()])).toEqual([
      "sample 1",
      "sample 1",
      "sample 1",
    ]);
    expect(rt.reads).toBe(1);
    sampler.stop();
  });

  it("stops reading when nobody asks, and never serves a sample that went stale meanwhile", async () => {
    const clock = createFakeClock();
    const { rt, read } = fakeRuntime();
    const sampler = createRuntimeSampler({ read, clock, intervalMs: 10_000, idleMs: 30_000 });
    await sampler.get();
    await clock.step(120_000);
    expect(rt.reads).toBe(3); // at 10 s and 20 s; at 30 s the loop saw nobody had asked
    expect(clock.pendingTimers()).toBe(0);
    expect(await sampler.get()).toBe("sample 4"); // read now, not the 100 s old sample 3
    sampler.stop();
  });

  it("keeps serving the last sample through a failed read, then reports the runtime's error", async () => {
    const clock = createFakeClock();
    const { rt, read } = fakeRuntime();
    const sampler = createRuntimeSampler({ read, clock, intervalMs: 10_000 });
    await sampler.get();
    rt.failWith = new Error("rpc error: code = Unavailable");
    await clock.step(10_000); // this background read fails
    expect(await sampler.get()).toBe("sample 1"); // 10 s old: still within two intervals
    await clock.step(10_000);
    await expect(sampler.get()).rejects.toThrow("rpc error: code = Unavailable");
    rt.failWith = undefined;
    expect(await sampler.get()).toMatch(/^sample \d+$/);
    sampler.stop();
  });

  it("after stop, reads on demand and schedules nothing", async () => {
    const clock = createFakeClock();
    const { rt, read } = fakeRuntime();
    const sampler = createRuntimeSampler({ read, clock, intervalMs: 10_000 });
    sampler.stop();
    expect(await sampler.get()).toBe("sample 1");
    expect(clock.pendingTimers()).toBe(0);
    await clock.step(30_000);
    expect(await sampler.get()).toBe("sample 2");
    expect(rt.reads).toBe(2);
  });
});
