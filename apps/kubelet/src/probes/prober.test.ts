import { createFakeClock, silentLogger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import type { Container, Pod, PodStatus, Probe } from "../api.js";
import type { ExecSyncResult, PodRuntime } from "../runtime/types.js";
import { ExecTimeoutError } from "../runtime/types.js";
import type { PodEvent } from "./events.js";
import { createProbeMetrics, type ProbeMetrics } from "./metrics.js";
import { createProber, initialResult, type ProbeType, probeSettings } from "./prober.js";

const UID = "uid-1";

/** A pod of one container `app` with the given probes, and a runtime whose exec answers are scripted. */
function setup(
  probes: Partial<Pick<Container, "livenessProbe" | "readinessProbe" | "startupProbe">>,
  startMs = 0,
  metrics?: ProbeMetrics,
) {
  const clock = createFakeClock(1_000_000);
  const pod: Pod = {
    metadata: { name: "p", namespace: "default", uid: UID },
    spec: { containers: [{ name: "app", image: "busybox", ...probes }] },
  };
  let exitCode = 0;
  let throwTimeout = false;
  let errors = 0;
  const execs: { id: string; command: readonly string[]; timeoutMs: number }[] = [];
  const runtime = {
    async execSync(id: string, command: readonly string[], timeoutMs: number): Promise<ExecSyncResult> {
      execs.push({ id, command, timeoutMs });
      if (throwTimeout) throw new ExecTimeoutError(command);
      if (errors > 0) {
        errors--;
        throw new Error("runtime unavailable");
      }
      return { exitCode, output: exitCode === 0 ? "" : "nope\n", stderr: "" };
    },
  } as unknown as PodRuntime;
  let containerId = "c1";
  let running = true;
  const changes: ProbeType[] = [];
  const events: PodEvent[] = [];
  const prober = createProber({
    runtime,
    clock,
    logger: silentLogger,
    random: () => 0.5,
    podStatus: (): PodStatus => {
      const view = prober.view(UID, "app", `containerd://${containerId}`, running);
      return {
        phase: "Running",
        podIP: "10.0.0.5",
        containerStatuses: [
          {
            name: "app",
            state: running
              ? { running: { startedAt: new Date(startMs || 1_000_000).toISOString() } }
              : { terminated: { exitCode: 137 } },
            lastState: {},
            ready: view.ready,
            started: view.started,
            restartCount: 0,
            image: "busybox",
            imageID: "",
            containerID: `containerd://${containerId}`,
          },
        ],
      };
    },
    onChange: (_uid, type) => changes.push(type),
    events: { record: (_pod, e) => events.push(e) },
    ...(metrics ? { metrics } : {}),
  });
  return {
    clock,
    pod,
    prober,
    execs,
    changes,
    events,
    view: () => prober.view(UID, "app", `containerd://${containerId}`, running),
    setExit: (code: number) => {
      exitCode = code;
    },
    setTimeout: (v: boolean) => {
      throwTimeout = v;
    },
    /** The next `n` execs fail to run at all (a runtime error, not a failed check). */
    setErrors: (n: number) => {
      errors = n;
    },
    replaceContainer: (id: string) => {
      containerId = id;
    },
    setRunning: (v: boolean) => {
      running = v;
    },
  };
}

const exec = (extra: Partial<Probe> = {}): Probe => ({ exec: { command: ["check"] }, ...extra });

describe("probe settings", () => {
  it("applies upstream's defaults: period 10 s, timeout 1 s, thresholds 1 and 3, no delay", () => {
    expect(probeSettings(exec())).toEqual({
      periodMs: 10_000,
      timeoutMs: 1_000,
      initialDelayMs: 0,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(
      probeSettings(exec({ periodSeconds: 2, timeoutSeconds: 5, initialDelaySeconds: 7 })),
    ).toMatchObject({
      periodMs: 2_000,
      timeoutMs: 5_000,
      initialDelayMs: 7_000,
    });
  });

  it("starts readiness failed, liveness succeeded and startup unknown", () => {
    expect(initialResult("readiness")).toBe("failure");
    expect(initialResult("liveness")).toBe("success");
    expect(initialResult("startup")).toBe("unknown");
  });
});

describe("prober", () => {
  it("delays the first probe by a random part of the period right after start, then probes every period", async () => {
    const t = setup({ readinessProbe: exec({ periodSeconds: 10 }) });
    t.prober.addPod(t.pod);
    await t.clock.step(4_999);
    expect(t.execs).toHaveLength(0);
    await t.clock.step(1);
    expect(t.execs).toHaveLength(1);
    expect(t.execs[0]).toEqual({ id: "c1", command: ["check"], timeoutMs: 1_000 });
    await t.clock.step(10_000);
    expect(t.execs).toHaveLength(2);
    t.prober.stop();
  });

  it("probes a pod added later than one period after start at once", async () => {
    const t = setup({ readinessProbe: exec({ periodSeconds: 1 }) });
    await t.clock.step(5_000);
    t.prober.addPod(t.pod);
    await t.clock.step(0);
    expect(t.execs).toHaveLength(1);
    t.prober.stop();
  });

  it("makes a container ready on success and unready after failureThreshold failures", async () => {
    const t = setup({ readinessProbe: exec({ periodSeconds: 1, failureThreshold: 3 }) });
    t.prober.addPod(t.pod);
    expect(t.view()).toEqual({ started: true, ready: false });
    await t.clock.step(1_000);
    expect(t.view()).toEqual({ started: true, ready: true });
    expect(t.changes).toEqual(["readiness"]);
    t.setExit(1);
    await t.clock.step(2_000);
    expect(t.view().ready).toBe(true); // two failures: below the threshold
    await t.clock.step(1_000);
    expect(t.view().ready).toBe(false);
    expect(t.changes).toEqual(["readiness", "readiness"]);
    expect(t.events.at(-1)).toEqual({
      type: "Warning",
      reason: "Unhealthy",
      message: "Readiness probe failed: nope\n",
      fieldPath: "spec.containers{app}",
    });
    t.prober.stop();
  });

  it("reports a liveness failure once at the threshold, then holds until the container is replaced", async () => {
    const t = setup({ livenessProbe: exec({ periodSeconds: 1, failureThreshold: 2 }) });
    t.prober.addPod(t.pod);
    await t.clock.step(1_000);
    expect(t.prober.failed(UID, "app", "c1")).toBeUndefined();
    t.setExit(1);
    await t.clock.step(1_000);
    expect(t.prober.failed(UID, "app", "c1")).toBeUndefined();
    await t.clock.step(1_000);
    expect(t.prober.failed(UID, "app", "c1")).toBe("liveness");
    expect(t.changes).toEqual(["liveness"]);
    const probes = t.execs.length;
    await t.clock.step(5_000);
    expect(t.execs).toHaveLength(probes); // on hold
    // The restarted container starts over from the initial result (success).
    t.replaceContainer("c2");
    t.setExit(0);
    await t.clock.step(1_000);
    expect(t.prober.failed(UID, "app", "c2")).toBeUndefined();
    expect(t.execs.at(-1)!.id).toBe("c2");
    t.prober.stop();
  });

  it("runs liveness and readiness only after the startup probe succeeded", async () => {
    const t = setup({
      startupProbe: { exec: { command: ["started"] }, periodSeconds: 1, failureThreshold: 30 },
      livenessProbe: { exec: { command: ["alive"] }, periodSeconds: 1 },
      readinessProbe: { exec: { command: ["ready"] }, periodSeconds: 1 },
    });
    t.setExit(1);
    t.prober.addPod(t.pod);
    await t.clock.step(3_000);
    expect(new Set(t.execs.map((e) => e.command[0]))).toEqual(new Set(["started"]));
    expect(t.view()).toEqual({ started: false, ready: false });
    t.setExit(0);
    await t.clock.step(1_000);
    expect(t.view().started).toBe(true);
    await t.clock.step(2_000);
    expect(t.execs.map((e) => e.command[0])).toContain("alive");
    expect(t.execs.map((e) => e.command[0])).toContain("ready");
    expect(t.view()).toEqual({ started: true, ready: true });
    const startups = t.execs.filter((e) => e.command[0] === "started").length;
    await t.clock.step(3_000);
    expect(t.execs.filter((e) => e.command[0] === "started")).toHaveLength(startups);
    t.prober.stop();
  });

  it("waits initialDelaySeconds after the container started", async () => {
    const t = setup({ livenessProbe: exec({ periodSeconds: 1, initialDelaySeconds: 5 }) });
    t.prober.addPod(t.pod);
    await t.clock.step(4_000);
    expect(t.execs).toHaveLength(0);
    await t.clock.step(2_000);
    expect(t.execs.length).toBeGreaterThan(0);
    t.prober.stop();
  });

  it("counts an exec timeout as a failure with upstream's text", async () => {
    const t = setup({ livenessProbe: exec({ periodSeconds: 1, failureThreshold: 1 }) });
    t.setTimeout(true);
    t.prober.addPod(t.pod);
    await t.clock.step(1_000);
    expect(t.prober.failed(UID, "app", "c1")).toBe("liveness");
    expect(t.events.at(-1)?.message).toBe('Liveness probe failed: command "check" timed out');
    t.prober.stop();
  });

  it("retries a probe that errors up to 3 times in one round (maxProbeRetries)", async () => {
    const t = setup({ readinessProbe: exec({ periodSeconds: 1 }) });
    t.prober.addPod(t.pod);
    t.setErrors(2);
    await t.clock.step(1_000);
    expect(t.execs).toHaveLength(3);
    expect(t.view().ready).toBe(true);
    expect(t.events).toEqual([]);
    t.prober.stop();
  });

  it("throws away a round whose 3 attempts all errored, with upstream's event", async () => {
    const t = setup({ readinessProbe: exec({ periodSeconds: 1 }) });
    t.prober.addPod(t.pod);
    await t.clock.step(1_000);
    expect(t.view().ready).toBe(true);
    t.setErrors(3);
    await t.clock.step(1_000);
    expect(t.execs).toHaveLength(4);
    // The errored round changes nothing: the container stays ready.
    expect(t.view().ready).toBe(true);
    expect(t.events).toEqual([
      {
        type: "Warning",
        reason: "Unhealthy",
        message: "Readiness probe errored and resulted in unknown state: runtime unavailable",
        fieldPath: "spec.containers{app}",
      },
    ]);
    await t.clock.step(1_000);
    expect(t.execs).toHaveLength(5);
    t.prober.stop();
  });

  it("counts rounds by result in prober_probe_total and times successful ones, with upstream's labels", async () => {
    const metrics = createProbeMetrics(undefined, 1_700_000_000);
    const t = setup({ readinessProbe: exec({ periodSeconds: 1 }) }, 0, metrics);
    t.prober.addPod(t.pod);
    await t.clock.step(2_000);
    t.setExit(1);
    await t.clock.step(1_000);
    const ids = 'container="app",pod="p",namespace="default"';
    const text = metrics.registry.render();
    // Go's writer prints it in exponent form, as a real kubelet does.
    expect(text).toContain("process_start_time_seconds 1.7e+09\n");
    expect(text).toContain(
      `prober_probe_total{probe_type="Readiness",result="successful",${ids},pod_uid="uid-1"} 2\n`,
    );
    expect(text).toContain(
      `prober_probe_total{probe_type="Readiness",result="failed",${ids},pod_uid="uid-1"} 1\n`,
    );
    // The duration has no result or pod_uid label and counts only the successful rounds.
    expect(text).toContain(`prober_probe_duration_seconds_count{probe_type="Readiness",${ids}} 2\n`);
    // A removed pod's series go away with its workers.
    t.prober.removePod(UID);
    expect(metrics.registry.render()).not.toContain('pod="p"');
  });

  it("stops probing a removed pod and leaves no timers", async () => {
    const t = setup({ readinessProbe: exec({ periodSeconds: 1 }) });
    t.prober.addPod(t.pod);
    await t.clock.step(2_000);
    t.prober.removePod(UID);
    const n = t.execs.length;
    await t.clock.step(5_000);
    expect(t.execs).toHaveLength(n);
    expect(t.clock.pendingTimers()).toBe(0);
  });

  it("marks a container that stopped running unready", async () => {
    const t = setup({ readinessProbe: exec({ periodSeconds: 1 }) });
    t.prober.addPod(t.pod);
    await t.clock.step(1_000);
    expect(t.view().ready).toBe(true);
    t.setRunning(false);
    await t.clock.step(1_000);
    t.setRunning(true);
    // The same container ID reported running again (it cannot be, but the result says failure).
    expect(t.prober.view(UID, "app", "containerd://c1", true).ready).toBe(false);
    t.prober.stop();
  });
});
