import { describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import type { RuntimeContainer, RuntimePod } from "../runtime/types.js";
import { computePodStatus, podPhase, type StatusInputs } from "./compute.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const pod = (restartPolicy: "Always" | "OnFailure" | "Never" = "Always", names = ["main"]): Pod => ({
  metadata: { name: "p", namespace: "ns", uid: "u" },
  spec: { restartPolicy, containers: names.map((name) => ({ name, image: "busybox:1.36" })) },
});
const container = (name: string, over: Partial<RuntimeContainer>): RuntimeContainer => ({
  id: `${name}-${over.restartCount ?? 0}`,
  name,
  sandboxId: "sb",
  state: "running",
  restartCount: 0,
  hash: "h",
  image: "docker.io/library/busybox:1.36",
  imageRef: "docker.io/library/busybox@sha256:aaa",
  createdAtMs: T0,
  startedAtMs: T0 + 1000,
  finishedAtMs: 0,
  exitCode: 0,
  reason: "",
  message: "",
  ...over,
});
const runtimePod = (containers: RuntimeContainer[], ready = true): RuntimePod => ({
  uid: "u",
  name: "p",
  namespace: "ns",
  sandboxes: [
    {
      id: "sb",
      state: ready ? "ready" : "notready",
      attempt: 0,
      createdAtMs: T0,
      ips: ready ? ["10.1.0.5"] : [],
      hostNetwork: false,
    },
  ],
  containers,
});
const inputs = (rp: RuntimePod | undefined, over: Partial<StatusInputs> = {}): StatusInputs => ({
  runtimePod: rp,
  waiting: new Map(),
  runtimeName: "containerd",
  nodeIPs: ["192.0.2.10"],
  nowMs: T0 + 5000,
  ...over,
});

describe("pod status computation", () => {
  it("takes started and ready from the probes: one unready container makes ContainersReady and Ready false", () => {
    const rp = runtimePod([container("web", {}), container("db", {})]);
    const seen: [string, string | undefined, boolean][] = [];
    const s = computePodStatus(
      pod("Always", ["web", "db"]),
      inputs(rp, {
        probes: (name, id, running) => {
          seen.push([name, id, running]);
          return name === "db" ? { started: true, ready: false } : { started: true, ready: true };
        },
      }),
    );
    expect(seen).toEqual([
      ["web", "web-0", true],
      ["db", "db-0", true],
    ]);
    expect(s.containerStatuses?.map((c) => [c.name, c.started, c.ready])).toEqual([
      ["web", true, true],
      ["db", true, false],
    ]);
    expect(s.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ContainersNotReady",
      message: "containers with unready status: [db]",
    });
    expect(s.conditions?.find((c) => c.type === "ContainersReady")?.status).toBe("False");
    expect(s.phase).toBe("Running");
  });

  it("reports a running pod: phase, conditions, IPs, container status, QoS, start time", () => {
    const s = computePodStatus(pod(), inputs(runtimePod([container("main", {})])));
    expect(s).toMatchObject({
      phase: "Running",
      hostIP: "192.0.2.10",
      hostIPs: [{ ip: "192.0.2.10" }],
      podIP: "10.1.0.5",
      podIPs: [{ ip: "10.1.0.5" }],
      startTime: "2026-01-01T12:00:05Z",
      qosClass: "BestEffort",
    });
    expect(s.containerStatuses).toEqual([
      {
        name: "main",
        state: { running: { startedAt: "2026-01-01T12:00:01Z" } },
        lastState: {},
        ready: true,
        started: true,
        restartCount: 0,
        image: "docker.io/library/busybox:1.36",
        imageID: "docker.io/library/busybox@sha256:aaa",
        containerID: "containerd://main-0",
      },
    ]);
    expect(s.conditions?.map((c) => [c.type, c.status])).toEqual([
      ["PodReadyToStartContainers", "True"],
      ["Initialized", "True"],
      ["ContainersReady", "True"],
      ["Ready", "True"],
    ]);
  });

  it("shows a crash-looping container as waiting with the previous run as lastState; the pod stays Running", () => {
    const dead = container("main", {
      state: "exited",
      restartCount: 2,
      exitCode: 3,
      reason: "Error",
      finishedAtMs: T0 + 2000,
    });
    const older = container("main", {
      state: "exited",
      restartCount: 1,
      exitCode: 3,
      reason: "Error",
      finishedAtMs: T0 + 1500,
    });
    const waiting = new Map([
      [
        "main",
        { reason: "CrashLoopBackOff", message: "back-off 20s restarting failed container=main pod=p_ns(u)" },
      ],
    ]);
    const s = computePodStatus(pod(), inputs(runtimePod([dead, older]), { waiting }));
    const cs = s.containerStatuses![0]!;
    expect(cs.state).toEqual({
      waiting: {
        reason: "CrashLoopBackOff",
        message: "back-off 20s restarting failed container=main pod=p_ns(u)",
      },
    });
    expect(cs.lastState).toEqual({
      terminated: {
        exitCode: 3,
        reason: "Error",
        startedAt: "2026-01-01T12:00:01Z",
        finishedAt: "2026-01-01T12:00:02Z",
        containerID: "containerd://main-2",
      },
    });
    expect(cs.restartCount).toBe(2);
    expect(s.phase).toBe("Running");
    expect(s.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ContainersNotReady",
      message: "containers with unready status: [main]",
    });
  });

  it("computes phases like getPhase", () => {
    const exit = (code: number) => container("main", { state: "exited", exitCode: code });
    const st = (p: Pod, cs: RuntimeContainer[], terminal = false) =>
      computePodStatus(p, inputs(runtimePod(cs), { terminal })).phase;
    expect(st(pod("Never"), [exit(0)])).toBe("Succeeded");
    expect(st(pod("Never"), [exit(1)])).toBe("Failed");
    expect(st(pod("OnFailure"), [exit(0)])).toBe("Succeeded");
    expect(st(pod("OnFailure"), [exit(1)])).toBe("Running");
    expect(st(pod("Always"), [exit(0)])).toBe("Running");
    expect(st(pod("Always"), [exit(0)], true)).toBe("Succeeded");
    expect(st(pod("Always"), [exit(137)], true)).toBe("Failed");
    expect(computePodStatus(pod(), inputs(undefined)).phase).toBe("Pending");
    // One container running, one still waiting to be created: Pending.
    expect(
      podPhase(
        pod("Always", ["a", "b"]),
        computePodStatus(pod("Always", ["a", "b"]), inputs(runtimePod([container("a", {})])))
          .containerStatuses!,
        false,
      ),
    ).toBe("Pending");
  });

  it("defaults containers without runtime state to waiting ContainerCreating, or the last start error", () => {
    const s = computePodStatus(
      pod(),
      inputs(undefined, { waiting: new Map([["main", { reason: "ErrImagePull", message: "not found" }]]) }),
    );
    expect(s.containerStatuses![0]!.state).toEqual({
      waiting: { reason: "ErrImagePull", message: "not found" },
    });
    expect(computePodStatus(pod(), inputs(undefined)).containerStatuses![0]!.state).toEqual({
      waiting: { reason: "ContainerCreating" },
    });
  });

  it("keeps terminal phases, start time, transition times of unchanged conditions and the last pod IPs", () => {
    const first = computePodStatus(pod(), inputs(runtimePod([container("main", {})])));
    const later = computePodStatus(
      pod(),
      inputs(runtimePod([container("main", {})]), { nowMs: T0 + 60_000, previous: first }),
    );
    expect(later.startTime).toBe(first.startTime);
    expect(later.conditions).toEqual(first.conditions);
    const done = computePodStatus(
      pod(),
      inputs(runtimePod([container("main", { state: "exited", exitCode: 0 })], false), {
        previous: { ...first, phase: "Succeeded" },
      }),
    );
    expect(done.phase).toBe("Succeeded");
    expect(done.podIP).toBe("10.1.0.5");
    expect(done.conditions?.find((c) => c.type === "Ready")?.reason).toBe("PodCompleted");
  });

  it("reports init containers: PodInitializing app containers, Initialized=False until done, Failed on an init failure with Never", () => {
    const withInit = (policy: "Always" | "Never"): Pod => ({
      ...pod(policy),
      spec: { ...pod(policy).spec, initContainers: [{ name: "setup", image: "x:1" }] },
    });
    const initRunning = computePodStatus(withInit("Always"), inputs(runtimePod([container("setup", {})])));
    expect(initRunning.phase).toBe("Pending");
    expect(initRunning.containerStatuses![0]!.state).toEqual({ waiting: { reason: "PodInitializing" } });
    expect(initRunning.initContainerStatuses![0]).toMatchObject({
      name: "setup",
      ready: false,
      state: { running: {} },
    });
    expect(initRunning.conditions?.find((c) => c.type === "Initialized")).toMatchObject({
      status: "False",
      reason: "ContainersNotInitialized",
      message: "containers with incomplete status: [setup]",
    });
    const initDone = computePodStatus(
      withInit("Always"),
      inputs(runtimePod([container("main", {}), container("setup", { state: "exited", exitCode: 0 })])),
    );
    expect(initDone.phase).toBe("Running");
    expect(initDone.initContainerStatuses![0]!.ready).toBe(true);
    expect(initDone.conditions?.find((c) => c.type === "Initialized")?.status).toBe("True");
    const initFailed = computePodStatus(
      withInit("Never"),
      inputs(runtimePod([container("setup", { state: "exited", exitCode: 2 })])),
    );
    expect(initFailed.phase).toBe("Failed");
  });
});
