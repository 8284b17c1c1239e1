import { createFakeClock } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { createKeyedBackoff, goDuration } from "./backoff.js";

describe("keyed backoff (flowcontrol.Backoff as the kubelet uses it)", () => {
  it("doubles from 10 s to a 5 min cap, per key", () => {
    const clock = createFakeClock();
    const b = createKeyedBackoff({ clock });
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      b.next("k", clock.now());
      seen.push(b.get("k"));
    }
    expect(seen).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    expect(b.get("other")).toBe(0);
  });

  it("is in backoff until the current delay passed since the event", async () => {
    const clock = createFakeClock();
    const b = createKeyedBackoff({ clock });
    const exit = clock.now();
    expect(b.inBackoffSince("k", exit)).toBe(false);
    b.next("k", exit);
    expect(b.inBackoffSince("k", exit)).toBe(true);
    await clock.step(9_999);
    expect(b.inBackoffSince("k", exit)).toBe(true);
    await clock.step(1);
    expect(b.inBackoffSince("k", exit)).toBe(false);
    expect(b.expiresAt("k", exit)).toBe(exit + 10_000);
  });

  it("starts over after 10 min (twice the cap) without failures", async () => {
    const clock = createFakeClock();
    const b = createKeyedBackoff({ clock });
    for (let i = 0; i < 4; i++) b.next("k", clock.now());
    expect(b.get("k")).toBe(80_000);
    await clock.step(600_001);
    b.next("k", clock.now());
    expect(b.get("k")).toBe(10_000);
  });

  it("tracks backoff since the last update (image pulls)", async () => {
    const clock = createFakeClock();
    const b = createKeyedBackoff({ clock });
    b.next("img", clock.now());
    expect(b.inBackoffSinceUpdate("img")).toBe(true);
    await clock.step(10_000);
    expect(b.inBackoffSinceUpdate("img")).toBe(false);
  });

  it("prints durations like Go", () => {
    expect([10_000, 20_000, 80_000, 160_000, 300_000].map(goDuration)).toEqual([
      "10s",
      "20s",
      "1m20s",
      "2m40s",
      "5m0s",
    ]);
  });
});
