// A virtual node: the kubelet with a custom runtime module that "runs" pods without containers and
// reports them Running. Pod sources, workers, restarts, status, deletion: all the real kubelet's.
import { randomUUID } from "node:crypto";
import type { KubeClient } from "@kubenode/kube";
// In your code: `from "@kubenode/kubelet"`.
import {
  createKubelet,
  type Kubelet,
  type PodRuntime,
  type RuntimeContainer,
  type RuntimePod,
} from "../src/index.js";

/** An in-memory runtime: sandboxes get an IP from 10.250.0.0/16, containers start at once. */
export function createVirtualRuntime(): PodRuntime {
  const pods = new Map<string, RuntimePod>();
  let nextIp = 1;
  const find = (id: string) =>
    [...pods.values()].flatMap((p) => [...p.sandboxes, ...p.containers]).find((x) => x.id === id);
  const copy = (p: RuntimePod): RuntimePod => structuredClone(p);
  return {
    name: "virtual",
    async start() {},
    async stop() {},
    version: async () => ({ runtimeName: "virtual", runtimeVersion: "1.0.0", runtimeApiVersion: "v1" }),
    health: async () => ({ runtimeReady: true, networkReady: true }),
    listPods: async () => [...pods.values()].map(copy),
    getPod: async (uid) => (pods.has(uid) ? copy(pods.get(uid)!) : undefined),
    async runSandbox(pod, attempt) {
      const uid = pod.metadata.uid!;
      const entry = pods.get(uid) ?? {
        uid,
        name: pod.metadata.name!,
        namespace: pod.metadata.namespace!,
        sandboxes: [],
        containers: [],
      };
      const ip = `10.250.${(nextIp >> 8) & 255}.${nextIp++ & 255}`;
      const sandbox = {
        id: randomUUID(),
        state: "ready" as const,
        attempt,
        createdAtMs: Date.now(),
        ips: [ip],
        hostNetwork: false,
      };
      entry.sandboxes.unshift(sandbox);
      pods.set(uid, entry);
      return { ...sandbox };
    },
    async stopSandbox(id) {
      const sb = find(id);
      if (sb && "ips" in sb) Object.assign(sb, { state: "notready", ips: [] });
    },
    async removeSandbox(id) {
      for (const [uid, p] of pods) {
        if (!p.sandboxes.some((s) => s.id === id)) continue;
        p.sandboxes = p.sandboxes.filter((s) => s.id !== id);
        p.containers = p.containers.filter((c) => c.sandboxId !== id);
        if (p.sandboxes.length === 0) pods.delete(uid);
      }
    },
    ensureImage: async (_pod, container) => `virtual:${container.image}`,
    async startContainer({ pod, container, sandbox, imageRef, restartCount }) {
      const [id, now, image] = [randomUUID().replaceAll("-", ""), Date.now(), container.image ?? ""];
      const times = { createdAtMs: now, startedAtMs: now, finishedAtMs: 0 };
      const state = { state: "running" as const, exitCode: 0, reason: "", message: "" };
      const c: RuntimeContainer = {
        id,
        name: container.name,
        sandboxId: sandbox.id,
        restartCount,
        hash: "",
        image,
        imageRef,
        ...times,
        ...state,
      };
      pods.get(pod.metadata.uid!)!.containers.unshift(c);
      return c.id;
    },
    async stopContainer(id) {
      const c = find(id);
      if (c && "exitCode" in c && c.state === "running")
        Object.assign(c, { state: "exited", finishedAtMs: Date.now(), exitCode: 0, reason: "Completed" });
    },
    async removeContainer(id) {
      for (const p of pods.values()) p.containers = p.containers.filter((c) => c.id !== id);
    },
  };
}

/** A kubelet for `nodeName` whose pods run nowhere but show Running in the API. */
export function createVirtualNode(nodeName: string, client: KubeClient): Kubelet {
  return createKubelet({ nodeName, client, runtime: createVirtualRuntime(), nodeIPs: ["10.250.255.254"] });
}
