import { describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import { containerHash } from "../runtime/labels.js";
import type { RuntimeContainer, RuntimePod, RuntimeSandbox } from "../runtime/types.js";
import { computePodActions, initProgress, sandboxChange } from "./actions.js";

const spec = { name: "main", image: "busybox:1.36" };
const pod = (restartPolicy: "Always" | "OnFailure" | "Never" = "Always", hostNetwork = false): Pod => ({
  metadata: { name: "p", namespace: "ns", uid: "u" },
  spec: { restartPolicy, hostNetwork, containers: [spec] },
});
const sandbox = (over: Partial<RuntimeSandbox> = {}): RuntimeSandbox => ({
  id: "sb1",
  state: "ready",
  attempt: 0,
  createdAtMs: 1,
  ips: ["10.0.0.2"],
  hostNetwork: false,
  ...over,
});
const ctr = (over: Partial<RuntimeContainer> = {}): RuntimeContainer => ({
  id: "c1",
  name: "main",
  sandboxId: "sb1",
  state: "running",
  restartCount: 0,
  hash: containerHash(spec),
  image: "",
  imageRef: "",
  createdAtMs: 1,
  startedAtMs: 1,
  finishedAtMs: 0,
  exitCode: 0,
  reason: "",
  message: "",
  ...over,
});
const rp = (sandboxes: RuntimeSandbox[], containers: RuntimeContainer[]): RuntimePod => ({
  uid: "u",
  name: "p",
  namespace: "ns",
  sandboxes,
  containers,
});

describe("computePodActions", () => {
  it("kills a container that failed its liveness probe and restarts it unless restartPolicy is Never", () => {
    const failed = () => "liveness" as const;
    const a = computePodActions(pod("Always"), rp([sandbox()], [ctr()]), failed);
    expect(a.kill).toEqual([
      {
        container: ctr(),
        message: "Container main failed liveness probe, will be restarted",
        probe: "liveness",
      },
    ]);
    expect(a.start.map((s) => [s.container.name, s.restartCount])).toEqual([["main", 1]]);
    const never = computePodActions(pod("Never"), rp([sandbox()], [ctr()]), () => "startup");
    expect(never.kill.map((k) => k.message)).toEqual(["Container main failed startup probe"]);
    expect(never.start).toEqual([]);
    // A healthy container is left alone.
    expect(computePodActions(pod(), rp([sandbox()], [ctr()]), () => undefined)).toMatchObject({
      kill: [],
      start: [],
    });
  });

  it("creates the sandbox and starts every container for a new pod", () => {
    const a = computePodActions(pod(), undefined);
    expect(a).toMatchObject({ killPod: false, createSandboxAttempt: 0, kill: [] });
    expect(a.start.map((s) => [s.container.name, s.restartCount])).toEqual([["main", 0]]);
  });

  it("does nothing for a running pod whose containers match the spec (adoption)", () => {
    expect(computePodActions(pod(), rp([sandbox()], [ctr()]))).toMatchObject({
      killPod: false,
      createSandboxAttempt: undefined,
      start: [],
      kill: [],
    });
  });

  it("restarts exited containers by restart policy, counting from the newest container's count", () => {
    const exited = (exitCode: number) =>
      rp([sandbox()], [ctr({ state: "exited", exitCode, restartCount: 4 })]);
    expect(computePodActions(pod("Always"), exited(0)).start.map((s) => s.restartCount)).toEqual([5]);
    expect(computePodActions(pod("OnFailure"), exited(0)).start).toEqual([]);
    expect(computePodActions(pod("OnFailure"), exited(2)).start).toHaveLength(1);
    expect(computePodActions(pod("Never"), exited(2)).start).toEqual([]);
  });

  it("replaces a running container whose definition changed", () => {
    const a = computePodActions(pod(), rp([sandbox()], [ctr({ hash: "0ld" })]));
    expect(a.kill.map((k) => k.message)).toEqual(["Container main definition changed"]);
    expect(a.start.map((s) => s.restartCount)).toEqual([1]);
  });

  it("replaces a dead sandbox (new attempt) unless the pod never restarts and already ran", () => {
    const dead = rp(
      [sandbox({ state: "notready", ips: [], attempt: 2 })],
      [ctr({ state: "exited", exitCode: 137, restartCount: 1 })],
    );
    const a = computePodActions(pod(), dead);
    expect(a).toMatchObject({ killPod: true, createSandboxAttempt: 3 });
    expect(a.start.map((s) => s.restartCount)).toEqual([2]);
    expect(computePodActions(pod("Never"), dead)).toMatchObject({
      killPod: true,
      createSandboxAttempt: undefined,
      start: [],
    });
  });

  it("says why a sandbox must be replaced", () => {
    expect(sandboxChange(pod(), rp([sandbox(), sandbox({ id: "sb2" })], []))).toBe(
      "more than one ready sandbox",
    );
    expect(sandboxChange(pod(), rp([sandbox({ ips: [] })], []))).toBe("sandbox has no IP");
    expect(sandboxChange(pod("Always", true), rp([sandbox()], []))).toBe("network namespace changed");
    expect(sandboxChange(pod(), rp([sandbox()], []))).toBeUndefined();
  });

  it("runs init containers one at a time before the app containers, again in a new sandbox", () => {
    const withInit: Pod = {
      ...pod(),
      spec: {
        ...pod().spec,
        initContainers: [
          { name: "i1", image: "x:1" },
          { name: "i2", image: "x:1" },
        ],
      },
    };
    const fresh = computePodActions(withInit, undefined);
    expect(fresh.start.map((s) => s.container.name)).toEqual(["i1"]);
    const i1Done = ctr({ id: "i1", name: "i1", state: "exited", exitCode: 0 });
    expect(computePodActions(withInit, rp([sandbox()], [i1Done])).start.map((s) => s.container.name)).toEqual(
      ["i2"],
    );
    const i2Running = ctr({ id: "i2", name: "i2", state: "running" });
    expect(computePodActions(withInit, rp([sandbox()], [i2Running, i1Done])).start).toEqual([]);
    const i2Done = ctr({ id: "i2", name: "i2", state: "exited", exitCode: 0 });
    expect(
      computePodActions(withInit, rp([sandbox()], [i2Done, i1Done])).start.map((s) => s.container.name),
    ).toEqual(["main"]);
    // Containers of an older sandbox do not count.
    expect(initProgress(withInit, rp([sandbox({ id: "sb2" })], [i2Done, i1Done]), "sb2")).toMatchObject({
      state: "start",
      start: { restartCount: 1 },
    });
  });

  it("restarts a sidecar that failed its liveness or startup probe, even with restartPolicy Never, and nothing else that round", () => {
    const sidecarPod = (policy: "Always" | "Never"): Pod => ({
      ...pod(policy),
      spec: {
        ...pod(policy).spec,
        initContainers: [{ name: "proxy", image: "x:1", restartPolicy: "Always" }],
      },
    });
    const proxyUp = ctr({ id: "p", name: "proxy", state: "running", restartCount: 2 });
    const mainGone = ctr({ state: "exited", exitCode: 1 });
    const failed = (c: RuntimeContainer) => (c.name === "proxy" ? ("liveness" as const) : undefined);
    const a = computePodActions(sidecarPod("Never"), rp([sandbox()], [proxyUp, mainGone]), failed);
    expect(a.kill).toEqual([
      { container: proxyUp, message: "Init container proxy failed liveness probe", probe: "liveness" },
    ]);
    expect(a.start.map((s) => [s.container.name, s.restartCount])).toEqual([["proxy", 3]]);
    const startup = computePodActions(sidecarPod("Always"), rp([sandbox()], [proxyUp]), () => "startup");
    expect(startup.kill.map((k) => k.message)).toEqual(["Init container proxy failed startup probe"]);
    // A healthy sidecar is left alone and the app container runs.
    const healthy = computePodActions(sidecarPod("Always"), rp([sandbox()], [proxyUp]), () => undefined);
    expect(healthy.kill).toEqual([]);
    expect(healthy.start.map((s) => s.container.name)).toEqual(["main"]);
  });

  it("restarts a failed init container, or fails the pod with restartPolicy Never; sidecars keep running", () => {
    const failing = (policy: "Always" | "Never"): Pod => ({
      ...pod(policy),
      spec: { ...pod(policy).spec, initContainers: [{ name: "i1", image: "x:1" }] },
    });
    const i1Failed = ctr({ id: "i1", name: "i1", state: "exited", exitCode: 1 });
    expect(initProgress(failing("Never"), rp([sandbox()], [i1Failed]), "sb1")).toEqual({
      state: "failed",
      container: "i1",
    });
    expect(initProgress(failing("Always"), rp([sandbox()], [i1Failed]), "sb1")).toMatchObject({
      state: "start",
      start: { restartCount: 1 },
    });
    const sidecarPod: Pod = {
      ...pod(),
      spec: { ...pod().spec, initContainers: [{ name: "proxy", image: "x:1", restartPolicy: "Always" }] },
    };
    const proxyUp = ctr({ id: "p", name: "proxy", state: "running" });
    expect(initProgress(sidecarPod, rp([sandbox()], [proxyUp]), "sb1")).toEqual({ state: "done" });
  });
});
