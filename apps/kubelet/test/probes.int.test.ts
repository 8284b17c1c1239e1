// End to end: probes and lifecycle hooks of pods run by createKubelet on a private containerd,
// observed the way a user does (pod status and Events in the API, container logs).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerStatus, Pod } from "../src/api.js";
import { type Rig, realComponents, startRig } from "./rig.js";

const status = (pod: Pod, name: string): ContainerStatus | undefined =>
  pod.status?.containerStatuses?.find((c) => c.name === name);
const cond = (pod: Pod, type: string) => pod.status?.conditions?.find((c) => c.type === type)?.status;

interface Event {
  reason: string;
  message: string;
  type: string;
  involvedObject: { name: string; fieldPath?: string };
  source?: { component?: string };
}

describe.runIf(realComponents)("kubelet probes and lifecycle hooks (containerd + API simulator)", () => {
  let rig: Rig;
  let image: string;

  beforeAll(async () => {
    rig = await startRig();
    image = rig.containerd.busyboxImage;
    await rig.startKubelet();
  });
  afterAll(async () => {
    await rig?.stop();
  });

  async function events(pod: string): Promise<Event[]> {
    const list = await rig.admin.request<{ items: Event[] }>({
      method: "GET",
      path: "/api/v1/namespaces/default/events",
    });
    return list.items.filter((e) => e.involvedObject.name === pod);
  }

  async function waitEvent(pod: string, reason: string, message: RegExp | string): Promise<Event> {
    return waitFor(
      `event ${reason} of ${pod}`,
      async () =>
        (await events(pod)).find(
          (e) =>
            e.reason === reason &&
            (typeof message === "string" ? e.message === message : message.test(e.message)),
        ),
      { timeoutMs: 90_000, intervalMs: 250 },
    );
  }

  /** Runs a command in the pod's container through CRI, as `kubectl exec` would. */
  async function execIn(pod: Pod, container: string, cmd: string[]): Promise<void> {
    const id = status(pod, container)!.containerID!.replace(/^containerd:\/\//, "");
    const r = await rig.cri.execSync({ containerId: id, cmd, timeout: 10n });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
  }

  it("restarts a container whose httpGet liveness probe starts failing, with upstream's events", async () => {
    await rig.createPod({
      metadata: { name: "live" },
      spec: {
        containers: [
          {
            name: "web",
            image,
            command: ["sh", "-c", "mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www"],
            ports: [{ name: "http", containerPort: 8080 }],
            // Port by name, a custom header, one period a second, two failures to act.
            livenessProbe: {
              httpGet: { path: "/healthz", port: "http", httpHeaders: [{ name: "X-Probe", value: "1" }] },
              periodSeconds: 1,
              failureThreshold: 2,
            },
          },
        ],
      },
    });
    const running = await rig.waitPod(
      "live",
      "running",
      (p) => status(p, "web")?.state.running !== undefined,
    );
    expect(status(running, "web")!.restartCount).toBe(0);

    await execIn(running, "web", ["rm", "/www/healthz"]);
    const restarted = await rig.waitPod(
      "live",
      "restarted after liveness failures",
      (p) => (status(p, "web")?.restartCount ?? 0) >= 1 && status(p, "web")?.state.running !== undefined,
    );
    const cs = status(restarted, "web")!;
    expect(cs.lastState).toMatchObject({ terminated: { containerID: status(running, "web")!.containerID } });
    expect(cs.containerID).not.toBe(status(running, "web")!.containerID);
    const unhealthy = await waitEvent(
      "live",
      "Unhealthy",
      "Liveness probe failed: HTTP probe failed with statuscode: 404",
    );
    expect(unhealthy).toMatchObject({
      type: "Warning",
      involvedObject: { fieldPath: "spec.containers{web}" },
      source: { component: "kubelet" },
    });
    const killing = await waitEvent(
      "live",
      "Killing",
      "Container web failed liveness probe, will be restarted",
    );
    expect(killing.type).toBe("Normal");
  });

  it("flips Ready both ways from an exec readiness probe", async () => {
    await rig.createPod({
      metadata: { name: "ready-exec" },
      spec: {
        containers: [
          {
            name: "app",
            image,
            command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"],
            readinessProbe: { exec: { command: ["test", "-f", "/tmp/ready"] }, periodSeconds: 1 },
          },
        ],
      },
    });
    // Running but not ready: readiness starts failed.
    const notReady = await rig.waitPod(
      "ready-exec",
      "running, not ready",
      (p) => status(p, "app")?.state.running !== undefined && cond(p, "Ready") === "False",
    );
    expect(status(notReady, "app")).toMatchObject({ ready: false, started: true });
    expect(notReady.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      reason: "ContainersNotReady",
      message: "containers with unready status: [app]",
    });
    expect(cond(notReady, "ContainersReady")).toBe("False");

    await execIn(notReady, "app", ["touch", "/tmp/ready"]);
    const ready = await rig.waitPod("ready-exec", "Ready", (p) => cond(p, "Ready") === "True");
    expect(status(ready, "app")!.ready).toBe(true);
    expect(cond(ready, "ContainersReady")).toBe("True");

    await execIn(ready, "app", ["rm", "/tmp/ready"]);
    const again = await rig.waitPod("ready-exec", "not Ready again", (p) => cond(p, "Ready") === "False");
    expect(status(again, "app")!.ready).toBe(false);
    // Readiness never restarts a container.
    expect(status(again, "app")!.restartCount).toBe(0);
    const unhealthy = await events("ready-exec");
    expect(
      unhealthy.some((e) => e.reason === "Unhealthy" && e.message.startsWith("Readiness probe failed")),
    ).toBe(true);
  });

  it("is ready once a tcpSocket readiness probe connects", async () => {
    await rig.createPod({
      metadata: { name: "ready-tcp" },
      spec: {
        containers: [
          {
            name: "app",
            image,
            // Listens only once told to.
            command: ["sh", "-c", "until [ -f /tmp/go ]; do sleep 0.2; done; exec httpd -f -p 9090 -h /"],
            readinessProbe: { tcpSocket: { port: 9090 }, periodSeconds: 1 },
          },
        ],
      },
    });
    const notReady = await rig.waitPod(
      "ready-tcp",
      "running, not ready",
      (p) => status(p, "app")?.state.running !== undefined && cond(p, "Ready") === "False",
    );
    await waitEvent(
      "ready-tcp",
      "Unhealthy",
      /^Readiness probe failed: dial tcp [\d.]+:9090: connect: connection refused$/,
    );
    await execIn(notReady, "app", ["touch", "/tmp/go"]);
    const ready = await rig.waitPod("ready-tcp", "Ready", (p) => cond(p, "Ready") === "True");
    expect(status(ready, "app")).toMatchObject({ ready: true, started: true, restartCount: 0 });
  });

  it("gates readiness on a startup probe: not started until it succeeds", async () => {
    await rig.createPod({
      metadata: { name: "startup" },
      spec: {
        containers: [
          {
            name: "app",
            image,
            command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"],
            startupProbe: {
              exec: { command: ["test", "-f", "/tmp/started"] },
              periodSeconds: 1,
              failureThreshold: 600,
            },
          },
        ],
      },
    });
    const waiting = await rig.waitPod(
      "startup",
      "running, not started",
      (p) => status(p, "app")?.state.running !== undefined,
    );
    expect(status(waiting, "app")).toMatchObject({ started: false, ready: false });
    await execIn(waiting, "app", ["touch", "/tmp/started"]);
    const started = await rig.waitPod("startup", "started and Ready", (p) => cond(p, "Ready") === "True");
    expect(status(started, "app")).toMatchObject({ started: true, ready: true });
  });

  it("runs preStop before the container gets SIGTERM", async () => {
    const created = await rig.createPod({
      metadata: { name: "prestop" },
      spec: {
        terminationGracePeriodSeconds: 20,
        containers: [
          {
            name: "app",
            image,
            // PID 1 logs the SIGTERM it gets; the hook writes to PID 1's stdout (the container log).
            command: [
              "sh",
              "-c",
              "trap 'echo got-SIGTERM; exit 0' TERM; echo started; while :; do sleep 1 & wait $!; done",
            ],
            lifecycle: {
              preStop: { exec: { command: ["sh", "-c", "echo prestop-ran > /proc/1/fd/1; sleep 1"] } },
            },
          },
        ],
      },
    });
    await rig.waitPod("prestop", "running", (p) => status(p, "app")?.state.running !== undefined);
    await rig.admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods/prestop" });
    await waitFor("pod prestop gone", async () => ((await rig.getPod("prestop")) ? undefined : true), {
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    const log = await readFile(
      join(rig.podLogsDir, `default_prestop_${created.metadata.uid}`, "app", "0.log"),
      "utf8",
    );
    const lines = log
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ").slice(3).join(" "));
    expect(lines).toEqual(["started", "prestop-ran", "got-SIGTERM"]);
    expect(
      (await events("prestop")).some((e) => e.reason === "Killing" && e.message === "Stopping container app"),
    ).toBe(true);
  });

  it("kills and restarts a container whose postStart hook fails, with FailedPostStartHook", async () => {
    await rig.createPod({
      metadata: { name: "poststart" },
      spec: {
        containers: [
          {
            name: "app",
            image,
            command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"],
            lifecycle: { postStart: { exec: { command: ["sh", "-c", "echo bad >&2; exit 3"] } } },
          },
        ],
      },
    });
    const ev = await waitEvent("poststart", "FailedPostStartHook", "PostStartHook failed");
    expect(ev).toMatchObject({ type: "Warning", involvedObject: { fieldPath: "spec.containers{app}" } });
    await waitEvent("poststart", "Killing", "FailedPostStartHook");
    const pod = await rig.waitPod(
      "poststart",
      "restarted",
      (p) => (status(p, "app")?.restartCount ?? 0) >= 1,
    );
    const cs = status(pod, "app")!;
    expect("terminated" in cs.lastState).toBe(true);
    // While it waits to start again, the reason is upstream's with the hook's message.
    const waiting = await rig.waitPod(
      "poststart",
      "waiting after a failed postStart",
      (p) =>
        status(p, "app")?.state.waiting?.reason === "PostStartHookError" ||
        (status(p, "app")?.restartCount ?? 0) >= 2,
    );
    const w = status(waiting, "app")!.state.waiting;
    if (w?.reason === "PostStartHookError")
      expect(w.message).toMatch(
        /^Exec lifecycle hook \(\[sh -c echo bad >&2; exit 3\]\) for Container "app" in Pod "poststart_default\([0-9a-f-]+\)" failed - error: command 'sh -c echo bad >&2; exit 3' exited with 3: bad\n, message: "bad\\n"$/,
      );
  });
});
