// Observations the rows share: what a user of the node would look at (lease, Node Ready, pod
// status, Service traffic) and what the runtime holds (sandboxes and containers per pod).
import { type CriClient, createCriClient } from "@kubenode/cri-client";
import { findResource, waitFor } from "@kubenode/testkit";
import { expect } from "vitest";
import { NODE, type NodeRig } from "./node-rig.js";

export interface Pod {
  metadata: { name: string; namespace?: string; uid?: string; deletionTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: {
    phase?: string;
    containerStatuses?: {
      name: string;
      containerID?: string;
      restartCount: number;
      state: {
        running?: { startedAt?: string };
        waiting?: { reason?: string; message?: string };
        terminated?: { reason?: string; message?: string };
      };
    }[];
  };
}

/** The lease's renewTime in epoch ms (MicroTime), or 0 when there is none yet. */
export async function leaseRenewMs(rig: NodeRig): Promise<number> {
  const lease = await rig.admin.request<{ spec?: { renewTime?: string } }>({
    method: "GET",
    path: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`,
  });
  return lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
}

/** The Node's Ready condition. */
export async function nodeReady(
  rig: NodeRig,
): Promise<{ status: string; reason?: string; message?: string; lastHeartbeatTime?: string } | undefined> {
  const node = await rig.admin.request<{
    status?: { conditions?: { type: string; status: string; lastHeartbeatTime?: string }[] };
  }>({ method: "GET", path: `/api/v1/nodes/${NODE}` });
  return node.status?.conditions?.find((c) => c.type === "Ready");
}

export async function getPod(rig: NodeRig, name: string): Promise<Pod | undefined> {
  return rig.admin
    .request<Pod>({ method: "GET", path: `/api/v1/namespaces/default/pods/${name}` })
    .catch((err: { code?: string }) => {
      if (err.code === "NotFound") return undefined;
      throw err;
    });
}

export function podBody(name: string, image: string, command: string[], extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { app: name } },
    spec: {
      nodeName: NODE,
      terminationGracePeriodSeconds: 2,
      containers: [{ name: "main", image, imagePullPolicy: "IfNotPresent", command }],
      ...extra,
    },
  };
}

export async function createPod(rig: NodeRig, body: ReturnType<typeof podBody>): Promise<Pod> {
  return rig.admin.request<Pod>({ method: "POST", path: "/api/v1/namespaces/default/pods", body });
}

/** Creates a pod in the simulator's storage directly: for while the API server is down for everyone. */
export function createPodOffline(rig: NodeRig, body: ReturnType<typeof podBody>): Pod {
  return rig.server.core.create(findResource("", "v1", "pods")!, "default", body) as unknown as Pod;
}

export async function waitPod(
  rig: NodeRig,
  name: string,
  what: string,
  ok: (p: Pod) => boolean,
  timeoutMs = 90_000,
): Promise<Pod> {
  let last: Pod | undefined;
  try {
    return await waitFor(
      `pod ${name}: ${what}`,
      async () => {
        last = await getPod(rig, name);
        return last && ok(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`, {
      cause: err,
    });
  }
}

export const running = (p: Pod) => p.status?.containerStatuses?.[0]?.state.running !== undefined;

/** A container command serving HTTP on 8080 with a body naming the pod. */
export function httpd(body: string): string[] {
  return ["sh", "-c", `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 8080 -h /www`];
}

/** A ClusterIP Service for pods labelled app=`name`, port 80 -> 8080; returns its ClusterIP. */
export async function createService(rig: NodeRig, name: string): Promise<string> {
  const svc = await rig.admin.request<{ spec: { clusterIP: string } }>({
    method: "POST",
    path: "/api/v1/namespaces/default/services",
    body: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  });
  return svc.spec.clusterIP;
}

/** What every row starts from: a pod "web" Running and answering through its Service. */
export interface WebPod {
  pod: Pod;
  clusterIP: string;
}

/** Runs pod "web" (busybox httpd) behind Service "web" and waits until its ClusterIP answers. */
export async function startWebPod(rig: NodeRig): Promise<WebPod> {
  await createPod(rig, podBody("web", rig.containerd.busyboxImage, httpd("web")));
  const clusterIP = await createService(rig, "web");
  const pod = await waitPod(rig, "web", "Running", running);
  await waitFor("Service traffic to web", () => rig.httpGet(`http://${clusterIP}/`).catch(() => undefined), {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  return { pod, clusterIP };
}

/** The web pod still runs the same container, never restarted, and answers through its Service. */
export async function webUntouched(rig: NodeRig, web: WebPod): Promise<void> {
  const now = await getPod(rig, "web");
  const before = web.pod.status!.containerStatuses![0]!;
  const after = now?.status?.containerStatuses?.[0];
  expect(after?.containerID).toBe(before.containerID);
  expect(after?.restartCount).toBe(before.restartCount);
  expect(after?.state.running?.startedAt).toBe(before.state.running?.startedAt);
  expect((await rig.httpGet(`http://${web.clusterIP}/`)).trim()).toBe("web");
}

/** Sandboxes and containers the runtime holds, by pod UID. */
export interface RuntimeView {
  sandboxes: Map<string, { id: string; ready: boolean }[]>;
  containers: Map<string, { id: string; running: boolean }[]>;
  close(): void;
}

export function criOf(rig: NodeRig): CriClient {
  return createCriClient({ endpoint: rig.containerd.endpoint });
}

export async function runtimeView(cri: CriClient): Promise<Omit<RuntimeView, "close">> {
  const [{ items }, { containers }] = await Promise.all([cri.listPodSandbox({}), cri.listContainers({})]);
  const sandboxes = new Map<string, { id: string; ready: boolean }[]>();
  for (const s of items) {
    const uid = s.labels["io.kubernetes.pod.uid"] ?? "";
    sandboxes.set(uid, [...(sandboxes.get(uid) ?? []), { id: s.id, ready: s.state === 0 }]);
  }
  const byUid = new Map<string, { id: string; running: boolean }[]>();
  for (const c of containers) {
    const uid = c.labels["io.kubernetes.pod.uid"] ?? "";
    byUid.set(uid, [...(byUid.get(uid) ?? []), { id: c.id, running: c.state === 1 }]);
  }
  return { sandboxes, containers: byUid };
}

/** Ready sandboxes per pod UID that has more than one: duplicates a kubelet made. */
export async function duplicateSandboxes(cri: CriClient): Promise<Record<string, number>> {
  const { sandboxes } = await runtimeView(cri);
  const dup: Record<string, number> = {};
  for (const [uid, list] of sandboxes) {
    const ready = list.filter((s) => s.ready).length;
    if (ready > 1) dup[uid] = ready;
  }
  return dup;
}

/** Throws naming the agent that is no longer running. */
export function assertAlive(rig: NodeRig): void {
  for (const a of [rig.kubelet, rig.proxy]) if (!a.alive()) throw new Error(a.crash() || `${a.name} is gone`);
}
