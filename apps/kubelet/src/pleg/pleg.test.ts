import { createFakeClock, silentLogger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import type { RuntimePod } from "../runtime/types.js";
import { createPleg, formatDuration } from "./pleg.js";

const pod = (uid: string, state: "running" | "exited"): RuntimePod => ({
  uid,
  name: uid,
  namespace: "ns",
  sandboxes: [],
  containers: [
    {
      id: `${uid}-c`,
      name: "c",
      sandboxId: "s",
      state,
      restartCount: 0,
      hash: "",
      image: "",
      imageRef: "",
      createdAtMs: 0,
      startedAtMs: 0,
      finishedAtMs: 0,
      exitCode: 0,
      reason: "",
      message: "",
    },
  ],
});

describe("PLEG", () => {
  it("relists every second and wakes only pods whose runtime state changed (or vanished)", async () => {
    const clock = createFakeClock();
    let pods = [pod("a", "running"), pod("b", "running")];
    const changed: string[] = [];
    const pleg = createPleg({
      runtime: { listPods: async () => pods },
      clock,
      logger: silentLogger,
      onPodChanged: (u) => changed.push(u),
    });
    pleg.start();
    await clock.step(0);
    expect(changed.sort()).toEqual(["a", "b"]);
    changed.length = 0;
    await clock.step(1000);
    expect(changed).toEqual([]);
    pods = [pod("a", "exited")];
    await clock.step(1000);
    expect(changed.sort()).toEqual(["a", "b"]);
    await pleg.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("reports health with upstream's messages", async () => {
    const clock = createFakeClock();
    let fail = false;
    const pleg = createPleg({
      runtime: {
        listPods: async () => {
          if (fail) throw new Error("runtime down");
          return [];
        },
      },
      clock,
      logger: silentLogger,
      onPodChanged: () => {},
    });
    expect(pleg.health()).toEqual({ healthy: false, message: "pleg has yet to be successful" });
    pleg.start();
    await clock.step(0);
    expect(pleg.health()).toEqual({ healthy: true });
    fail = true;
    await clock.step(181_000);
    expect(pleg.health()).toEqual({
      healthy: false,
      message: "PLEG is not healthy: pleg was last seen active 3m1s ago; threshold is 3m0s",
    });
    await pleg.stop();
  });

  it("formats durations like Go", () => {
    expect([850, 1500, 180_000, 190_500].map(formatDuration)).toEqual(["850ms", "1.5s", "3m0s", "3m10.5s"]);
  });
});
