// End to end: pods run by createKubelet on a private containerd, driven through the API simulator.
import { readFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerStatus, Pod } from "../src/api.js";
import type { Kubelet } from "../src/kubelet.js";
import { httpd, type Rig, realComponents, startRig } from "./rig.js";

const status = (pod: Pod, name: string): ContainerStatus | undefined =>
  pod.status?.containerStatuses?.find((c) => c.name === name);
const cond = (pod: Pod, type: string) => pod.status?.conditions?.find((c) => c.type === type)?.status;

describe.runIf(realComponents)("kubelet pod lifecycle (containerd + API simulator)", () => {
  let rig: Rig;
  let kubelet: Kubelet;
  let image: string;

  beforeAll(async () => {
    rig = await startRig();
    image = rig.containerd.busyboxImage;
    kubelet = await rig.startKubelet();
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it("runs a pod to Running with upstream's status, its IP reachable on the pod network", async () => {
    const created = await rig.createPod({
      metadata: { name: "web", labels: { app: "web" } },
      spec: {
        containers: [
          {
            name: "web",
            image,
            command: httpd("hello-web"),
            ports: [{ containerPort: 8080 }],
            resources: { limits: { cpu: "250m", memory: "64Mi" } },
          },
        ],
      },
    });
    const pod = await rig.waitPod("web", "Ready", (p) => cond(p, "Ready") === "True");
    const cs = status(pod, "web")!;
    expect(pod.status?.phase).toBe("Running");
    expect(cs.state.running?.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(cs).toMatchObject({ ready: true, started: true, restartCount: 0, lastState: {} });
    expect(cs.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    expect(cs.imageID).not.toBe("");
    expect(pod.status?.qosClass).toBe("Guaranteed");
    expect(pod.status?.hostIP).toBe("127.0.0.1");
    expect(pod.status?.startTime).toBeDefined();
    for (const t of ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"])
      expect(cond(pod, t)).toBe("True");
    const podIP = pod.status?.podIP ?? "";
    const subnetPrefix = rig.containerd.podSubnet!.split(".").slice(0, 3).join(".");
    expect(podIP.startsWith(`${subnetPrefix}.`)).toBe(true);
    expect(pod.status?.podIPs).toEqual([{ ip: podIP }]);
    const body = await fetchRetry(`http://${podIP}:8080/`);
    expect(body.trim()).toBe("hello-web");

    // What crictl and a restarted kubelet read: upstream's labels and annotations.
    const { containers } = await rig.cri.listContainers({
      filter: { labelSelector: { "io.kubernetes.pod.uid": created.metadata.uid! } },
    });
    expect(containers).toHaveLength(1);
    expect(containers[0]!.labels).toEqual({
      "io.kubernetes.pod.name": "web",
      "io.kubernetes.pod.namespace": "default",
      "io.kubernetes.pod.uid": created.metadata.uid,
      "io.kubernetes.container.name": "web",
    });
    expect(containers[0]!.annotations["io.kubernetes.container.restartCount"]).toBe("0");
    expect(containers[0]!.annotations["io.kubernetes.container.hash"]).toMatch(/^[0-9a-f]+$/);
    const { items: sandboxes } = await rig.cri.listPodSandbox({
      filter: { labelSelector: { "io.kubernetes.pod.uid": created.metadata.uid! } },
    });
    expect(sandboxes[0]!.labels.app).toBe("web");
    // The CRI log of restart 0 under <podLogsDir>/<ns>_<name>_<uid>/<container>/0.log exists.
    const logFile = join(rig.podLogsDir, `default_web_${created.metadata.uid}`, "web", "0.log");
    await expect(readFile(logFile, "utf8")).resolves.toBeTypeOf("string");
    const wide = await rig.kubectl(["get", "pods", "web", "-o", "wide"]);
    expect(wide).toMatch(
      new RegExp(`web\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${podIP.replaceAll(".", "\\.")}\\s+node-a`),
    );
  });

  it("runs every container of a multi-container pod in one sandbox", async () => {
    await rig.createPod({
      metadata: { name: "multi" },
      spec: {
        containers: [
          { name: "server", image, command: httpd("from-server") },
          // The second container reaches the first over the shared localhost, then keeps running.
          {
            name: "client",
            image,
            command: [
              "sh",
              "-c",
              "until wget -q -O /tmp/got http://127.0.0.1:8080/; do sleep 0.2; done; cat /tmp/got; exec sleep 3600",
            ],
          },
        ],
      },
    });
    const pod = await rig.waitPod("multi", "both containers ready", (p) => cond(p, "Ready") === "True");
    expect(pod.status?.containerStatuses?.map((c) => c.name)).toEqual(["server", "client"]);
    expect(status(pod, "server")!.containerID).not.toBe(status(pod, "client")!.containerID);
    // The client is running (Ready) before its wget loop got an answer: wait for the line.
    const logPath = join(rig.podLogsDir, `default_multi_${pod.metadata.uid}`, "client", "0.log");
    const log = await waitFor(
      "the client's log shows the server's answer",
      async () => {
        const text = await readFile(logPath, "utf8").catch(() => "");
        return / stdout F from-server$/m.test(text) ? text : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(log).toMatch(/ stdout F from-server$/m);
  });

  it("ends restartPolicy Never pods Succeeded on exit 0 and Failed with the exit code on exit 1", async () => {
    for (const [name, code] of [
      ["ok", 0],
      ["bad", 1],
    ] as const) {
      await rig.createPod({
        metadata: { name },
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "main", image, command: ["sh", "-c", `exit ${code}`] }],
        },
      });
    }
    const ok = await rig.waitPod("ok", "Succeeded", (p) => p.status?.phase === "Succeeded");
    expect(status(ok, "main")!.state.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
    expect(cond(ok, "Ready")).toBe("False");
    const bad = await rig.waitPod("bad", "Failed", (p) => p.status?.phase === "Failed");
    expect(status(bad, "main")!.state.terminated).toMatchObject({ exitCode: 1, reason: "Error" });
    expect(status(bad, "main")!.restartCount).toBe(0);
  });

  it("runs init containers in order before the app container, and fails a Never pod whose init container fails", async () => {
    await rig.createPod({
      metadata: { name: "init" },
      spec: {
        initContainers: [
          { name: "first", image, command: ["sh", "-c", "echo first"] },
          { name: "second", image, command: ["sh", "-c", "echo second"] },
        ],
        containers: [{ name: "main", image, command: ["sleep", "3600"] }],
      },
    });
    const pod = await rig.waitPod("init", "Ready", (p) => cond(p, "Ready") === "True");
    expect(cond(pod, "Initialized")).toBe("True");
    const inits = pod.status?.initContainerStatuses ?? [];
    expect(
      inits.map((c) => [c.name, c.ready, c.state.terminated?.exitCode, c.state.terminated?.reason]),
    ).toEqual([
      ["first", true, 0, "Completed"],
      ["second", true, 0, "Completed"],
    ]);
    // "second" started only after "first" finished.
    expect(Date.parse(inits[1]!.state.terminated!.startedAt!)).toBeGreaterThanOrEqual(
      Date.parse(inits[0]!.state.terminated!.finishedAt!),
    );

    await rig.createPod({
      metadata: { name: "init-fails" },
      spec: {
        restartPolicy: "Never",
        initContainers: [{ name: "check", image, command: ["sh", "-c", "exit 7"] }],
        containers: [{ name: "main", image, command: ["sleep", "3600"] }],
      },
    });
    const failed = await rig.waitPod("init-fails", "Failed", (p) => p.status?.phase === "Failed");
    expect(failed.status?.initContainerStatuses?.[0]?.state.terminated).toMatchObject({
      exitCode: 7,
      reason: "Error",
    });
    expect(status(failed, "main")!.state.waiting?.reason).toBe("PodInitializing");
  });

  it("replaces a sandbox that died: new attempt, containers restarted with their count incremented", async () => {
    const created = await rig.createPod({
      metadata: { name: "phoenix" },
      spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
    });
    const before = await rig.waitPod("phoenix", "Ready", (p) => cond(p, "Ready") === "True");
    const selector = { labelSelector: { "io.kubernetes.pod.uid": created.metadata.uid! } };
    const {
      items: [sandbox],
    } = await rig.cri.listPodSandbox({ filter: selector });
    // Something outside the kubelet stops the sandbox (and with it the container).
    await rig.cri.stopPodSandbox({ podSandboxId: sandbox!.id });
    const after = await rig.waitPod("phoenix", "running again in a new sandbox", (p) => {
      const cs = status(p, "main");
      // Usually 1. A relist that sees the container gone before the sandbox is marked NOTREADY
      // restarts it in the dying sandbox first, which fails (StartError) and counts too, as in
      // upstream's computePodActions, which also trusts the sandbox state of the same relist.
      return cs?.state.running !== undefined && cs.restartCount >= 1;
    });
    expect(status(after, "main")!.containerID).not.toBe(status(before, "main")!.containerID);
    const { items } = await rig.cri.listPodSandbox({ filter: selector });
    const ready = items.filter((s) => s.state === 0);
    expect(ready).toHaveLength(1);
    expect(ready[0]!.metadata?.attempt).toBe(1);
    expect(after.status?.podIP).toBeDefined();
  });

  it("terminates a pod deleted while its image pull hangs, without waiting for the pull", async () => {
    // A registry that accepts connections and never answers: the pull hangs.
    const sockets = new Set<Socket>();
    const blackhole = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => blackhole.listen(0, "127.0.0.1", resolve));
    try {
      const port = (blackhole.address() as AddressInfo).port;
      await rig.createPod({
        metadata: { name: "stuck" },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [{ name: "main", image: `127.0.0.1:${port}/slow/image:1.0` }],
        },
      });
      await waitFor("the pull reached the registry", () => (sockets.size > 0 ? true : undefined), {
        timeoutMs: 60_000,
      });
      const pod = await rig.getPod("stuck");
      expect(status(pod!, "main")?.state.waiting?.reason).toBe("ContainerCreating");
      const t0 = Date.now();
      await rig.admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods/stuck" });
      await waitFor("pod stuck deleted", async () => ((await rig.getPod("stuck")) ? undefined : true), {
        timeoutMs: 60_000,
      });
      // The pull was cancelled: the pod went long before its 30 s grace period or any pull timeout.
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => blackhole.close(resolve));
    }
  });

  it("stops a deleted pod with SIGTERM within its grace period, then the pod leaves the API", async () => {
    const created = await rig.createPod({
      metadata: { name: "graceful" },
      spec: {
        terminationGracePeriodSeconds: 30,
        containers: [
          {
            name: "main",
            image,
            command: ["sh", "-c", "trap 'echo got-TERM; exit 0' TERM; while true; do sleep 0.2; done"],
          },
        ],
      },
    });
    await rig.waitPod("graceful", "Running", (p) => cond(p, "Ready") === "True");
    const t0 = Date.now();
    await rig.admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods/graceful" });
    await waitFor("pod graceful deleted", async () => ((await rig.getPod("graceful")) ? undefined : true), {
      timeoutMs: 60_000,
    });
    // Gone well within the 30 s grace period: the container honoured SIGTERM.
    expect(Date.now() - t0).toBeLessThan(30_000);
    const log = await readFile(
      join(rig.podLogsDir, `default_graceful_${created.metadata.uid}`, "main", "0.log"),
      "utf8",
    );
    expect(log).toMatch(/stdout F got-TERM/);
    await waitFor("runtime state of the pod removed", async () => {
      const { containers } = await rig.cri.listContainers({
        filter: { labelSelector: { "io.kubernetes.pod.uid": created.metadata.uid! } },
      });
      const { items } = await rig.cri.listPodSandbox({
        filter: { labelSelector: { "io.kubernetes.pod.uid": created.metadata.uid! } },
      });
      return containers.length === 0 && items.length === 0 ? true : undefined;
    });
  });

  it("gives a bad pod a clear waiting reason and leaves the other pods running", async () => {
    await rig.createPod({
      metadata: { name: "bad-image" },
      spec: { containers: [{ name: "main", image: "Not A Valid//Image" }] },
    });
    await rig.createPod({
      metadata: { name: "bad-env" },
      spec: {
        containers: [
          {
            name: "main",
            image,
            command: ["sleep", "3600"],
            env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "nope", key: "k" } } }],
          },
        ],
      },
    });
    await rig.createPod({
      metadata: { name: "good" },
      spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
    });
    const badImage = await rig.waitPod(
      "bad-image",
      "InvalidImageName",
      (p) => status(p, "main")?.state.waiting?.reason === "InvalidImageName",
    );
    expect(status(badImage, "main")!.state.waiting!.message).toContain(
      'couldn\'t parse image name "Not A Valid//Image"',
    );
    expect(badImage.status?.phase).toBe("Pending");
    const badEnv = await rig.waitPod(
      "bad-env",
      "CreateContainerConfigError",
      (p) => status(p, "main")?.state.waiting?.reason === "CreateContainerConfigError",
    );
    expect(status(badEnv, "main")!.state.waiting!.message).toBe('configmap "nope" not found');
    await rig.waitPod("good", "Running", (p) => cond(p, "Ready") === "True");
    expect(cond((await rig.getPod("web"))!, "Ready")).toBe("True");
    expect(kubelet.plegHealth()).toEqual({ healthy: true });
  });
});

async function fetchRetry(url: string): Promise<string> {
  return waitFor(
    `GET ${url}`,
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        return res.ok ? await res.text() : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}
