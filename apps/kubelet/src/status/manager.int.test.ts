// The status manager against the API simulator: only differences are patched, and statuses set
// while the API server is down are written (the latest one) once it is back.
import {
  createKubeClient,
  createRealClock,
  type KubeClient,
  loadKubeConfig,
  silentLogger,
} from "@kubenode/kube";
import { type ApiServer, startApiServer, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pod, PodStatus } from "../api.js";
import { createStatusManager, statusDiff } from "./manager.js";

describe("status manager (API simulator)", () => {
  let server: ApiServer;
  let admin: KubeClient;
  let node: KubeClient;
  let pod: Pod;

  beforeAll(async () => {
    server = await startApiServer({ controllers: { nodeLifecycle: false, scheduler: false } });
    admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
    node = createKubeClient(loadKubeConfig({ path: await server.kubeconfigFor("system:node:n1") }));
    pod = await admin.request<Pod>({
      method: "POST",
      path: "/api/v1/namespaces/default/pods",
      body: { metadata: { name: "s" }, spec: { nodeName: "n1", containers: [{ name: "c", image: "x:1" }] } },
    });
  });
  afterAll(async () => {
    admin?.close();
    node?.close();
    await server?.stop();
  });

  it("diffs only the fields the kubelet owns", () => {
    const current: PodStatus = { phase: "Pending", podIP: "10.0.0.1", nominatedNodeName: "x" };
    expect(statusDiff(current, { phase: "Running" })).toEqual({ phase: "Running", podIP: null });
    expect(
      statusDiff(
        { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
        { phase: "Running", conditions: [{ status: "True", type: "Ready" }] },
      ),
    ).toEqual({});
    // Keyed lists: removed fields become null, removed items are deleted (a two-way merge patch).
    expect(
      statusDiff(
        {
          conditions: [{ type: "Ready", status: "False", reason: "ContainersNotReady" }],
          podIPs: [{ ip: "10.0.0.1" }],
        },
        { conditions: [{ type: "Ready", status: "True" }], podIPs: [{ ip: "10.0.0.2" }] },
      ),
    ).toEqual({
      conditions: [{ type: "Ready", status: "True", reason: null }],
      podIPs: [{ ip: "10.0.0.2" }, { $patch: "delete", ip: "10.0.0.1" }],
    });
  });

  it("patches differences, sends nothing for an unchanged status, and catches up after an outage", async () => {
    const status = createStatusManager({
      client: node,
      clock: createRealClock(),
      logger: silentLogger,
      syncPeriodMs: 200,
    });
    status.start();
    try {
      const running: PodStatus = {
        phase: "Running",
        podIP: "10.0.0.7",
        podIPs: [{ ip: "10.0.0.7" }],
        startTime: "2026-01-01T00:00:00Z",
      };
      status.setPodStatus(pod, running);
      await status.flush();
      const patches = () =>
        server.requests.filter(
          (r) => r.resource === "pods" && r.subresource === "status" && r.verb === "patch",
        );
      expect(patches()).toHaveLength(1);
      status.setPodStatus(pod, { ...running });
      await status.flush();
      expect(patches()).toHaveLength(1);

      await server.suspend();
      status.setPodStatus(pod, { ...running, phase: "Failed", reason: "Evicted", message: "first" });
      status.setPodStatus(pod, { ...running, phase: "Failed", reason: "Evicted", message: "latest" });
      await server.resume();
      await status.flush(AbortSignal.timeout(60_000));
      const stored = await admin.request<Pod>({ method: "GET", path: "/api/v1/namespaces/default/pods/s" });
      expect(stored.status).toMatchObject({
        phase: "Failed",
        reason: "Evicted",
        message: "latest",
        podIP: "10.0.0.7",
      });
      await waitFor("no more writes pending", () => (status.patches >= 2 ? true : undefined));
      // A new pod IP replaces the old one in the API (podIPs merge by ip), a dropped reason goes.
      status.setPodStatus(pod, {
        ...running,
        podIP: "10.0.0.8",
        podIPs: [{ ip: "10.0.0.8" }],
        phase: "Failed",
        conditions: [{ type: "Ready", status: "False" }],
      });
      await status.flush(AbortSignal.timeout(60_000));
      const moved = await admin.request<Pod>({ method: "GET", path: "/api/v1/namespaces/default/pods/s" });
      expect(moved.status?.podIPs).toEqual([{ ip: "10.0.0.8" }]);
    } finally {
      await status.stop();
    }
  });
});
