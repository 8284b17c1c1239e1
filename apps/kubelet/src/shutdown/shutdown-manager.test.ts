import { createFakeClock, silentLogger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import type { Pod, PodStatus } from "../api.js";
import {
  createShutdownManager,
  NODE_SHUTDOWN_MESSAGE,
  NODE_SHUTDOWN_READY_MESSAGE,
  shutdownPodStatus,
} from "./shutdown-manager.js";

const pod = (name: string, extra: Partial<Pod["spec"]> = {}, annotations?: Record<string, string>): Pod => ({
  metadata: { name, namespace: "default", uid: name, ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: "c", image: "busybox" }], terminationGracePeriodSeconds: 30, ...extra },
});

describe("graceful node shutdown (upstream nodeshutdown manager)", () => {
  it("kills regular pods, then critical ones, each with its share of the budget and upstream's status", async () => {
    const clock = createFakeClock();
    const kills: { name: string; grace: number; status: PodStatus | undefined; atMs: number }[] = [];
    const pending = new Map<string, () => void>();
    const pods = [
      pod("web"),
      pod("short", { terminationGracePeriodSeconds: 3 }),
      pod("critical", { priority: 2_000_001_000 }),
      pod("static", {}, { "kubernetes.io/config.source": "file" }),
    ];
    let synced = 0;
    const m = createShutdownManager({
      kubelet: {
        activePods: () => pods,
        killPod(p, o) {
          kills.push({
            name: p.metadata.name!,
            grace: o.gracePeriodSeconds,
            status: o.status,
            atMs: clock.now(),
          });
          return new Promise<void>((resolve) => pending.set(p.metadata.name!, resolve));
        },
      },
      shutdownGracePeriodSeconds: 30,
      shutdownGracePeriodCriticalPodsSeconds: 10,
      syncNodeStatus: async () => {
        synced++;
      },
      clock,
      logger: silentLogger,
    });
    expect(m.enabled).toBe(true);
    expect(m.readiness()).toBeUndefined();
    expect(m.admit(pod("new"))).toEqual({ admit: true });

    const done = m.shutdown();
    await Promise.resolve();
    await Promise.resolve();
    expect(m.readiness()).toBe(NODE_SHUTDOWN_READY_MESSAGE);
    expect(m.admit(pod("late"))).toEqual({
      admit: false,
      reason: "NodeShutdown",
      message: "Pod was rejected as the node is shutting down.",
    });
    expect(synced).toBe(1);
    // Regular pods first: 30 s - 10 s = 20 s, or less when the pod asks for less.
    await settle(() => kills.length === 2);
    expect(kills.map((k) => [k.name, k.grace])).toEqual([
      ["web", 20],
      ["short", 3],
    ]);
    expect(kills[0]!.status).toEqual(shutdownPodStatus());
    expect(kills[0]!.status).toMatchObject({
      phase: "Failed",
      reason: "Terminated",
      message: NODE_SHUTDOWN_MESSAGE,
    });
    pending.get("web")!();
    pending.get("short")!();
    await settle(() => kills.length === 4);
    expect(kills.slice(2).map((k) => [k.name, k.grace])).toEqual([
      ["critical", 10],
      ["static", 10],
    ]);
    // A critical pod that does not stop in time does not hold the node: the group times out.
    pending.get("critical")!();
    await clock.step(10_000);
    // ... then waits a few seconds for the runtime to confirm the SIGKILL of the one left.
    await clock.step(5_000);
    await done;
  });

  it("is off with shutdownGracePeriod 0", () => {
    const m = createShutdownManager({
      kubelet: { activePods: () => [], killPod: async () => {} },
      shutdownGracePeriodSeconds: 0,
      shutdownGracePeriodCriticalPodsSeconds: 0,
      clock: createFakeClock(),
      logger: silentLogger,
    });
    expect(m.enabled).toBe(false);
  });
});

/** Lets queued promise callbacks run until `ok()` holds (no timers involved). */
async function settle(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise<void>((r) => setImmediate(r));
  expect(ok()).toBe(true);
}
