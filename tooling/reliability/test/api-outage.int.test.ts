// The API server goes away (stopped, then black-holed, then back with a fresh watch history) while a
// node runs pods and programs a Service. Running pods keep running, Service traffic keeps flowing,
// the agents stay up, and once the API server is back lease and status resume and what changed
// meanwhile is applied.
import type { CriClient } from "@kubenode/cri-client";
import { canUseRealComponents, findResource, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import {
  assertAlive,
  createPod,
  createPodOffline,
  criOf,
  duplicateSandboxes,
  getPod,
  leaseRenewMs,
  nodeReady,
  type Pod,
  podBody,
  running,
  runtimeView,
  startWebPod,
  waitPod,
} from "./checks.js";
import { type NodeRig, startNodeRig } from "./node-rig.js";
import { row } from "./table.js";

const realComponents = await canUseRealComponents();

/** Upstream's lease renew interval (nodeLeaseDurationSeconds 40 x 0.25) and status update frequency. */
const INTERVAL_MS = 10_000;
/**
 * Outage length: longer than a lease renew interval, a status sync and a request timeout (30 s)
 * by default; the full 2 minutes with KUBENODE_RELIABILITY_LONG=1.
 */
const OUTAGE_MS = process.env.KUBENODE_RELIABILITY_LONG === "1" ? 120_000 : 35_000;

describe.runIf(realComponents)("API server outages (real kubelet + kube-proxy + containerd)", () => {
  let rig: NodeRig;
  let cri: CriClient;
  let clusterIP: string;
  let web: Pod;
  let image: string;

  beforeAll(async () => {
    rig = await startNodeRig();
    cri = criOf(rig);
    image = rig.containerd.busyboxImage;
    ({ pod: web, clusterIP } = await startWebPod(rig));
  });
  afterAll(async () => {
    cri?.close();
    await rig?.stop();
  });

  /**
   * Keeps checking Service traffic and the agents for `ms`: every request must be answered by the
   * running pod. Returns the number of requests made.
   */
  async function holdOutage(ms: number): Promise<number> {
    const end = Date.now() + ms;
    let requests = 0;
    while (Date.now() < end) {
      assertAlive(rig);
      expect((await rig.httpGet(`http://${clusterIP}/`)).trim()).toBe("web");
      requests++;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    return requests;
  }

  /**
   * After the return: the lease (the node's heartbeat), the status the kubelet produced while it
   * could not write (the finisher's container exited), the pod created meanwhile running. Node
   * status itself is written on change or every 5 minutes while the lease is the heartbeat
   * (upstream's nodeStatusReportFrequency), so its Ready condition must simply still be True.
   */
  async function recovery(ctx: TestContext, backAt: number, newPod: string, finisher: string) {
    const leaseMs = await waitFor(
      "lease renewed after the return",
      async () => ((await leaseRenewMs(rig)) > backAt ? Date.now() - backAt : undefined),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    await waitPod(
      rig,
      finisher,
      "Succeeded (it finished during the outage)",
      (p) => p.status?.phase === "Succeeded",
    );
    const statusMs = Date.now() - backAt;
    await waitPod(rig, newPod, "created during the outage, Running after it", running, 180_000);
    const newPodMs = Date.now() - backAt;
    expect((await nodeReady(rig))?.status).toBe("True");
    row(ctx, {
      recoveryMs: Date.now() - backAt,
      note: `outage ${OUTAGE_MS / 1000} s; lease ${(leaseMs / 1000).toFixed(1)} s, pod status ${(statusMs / 1000).toFixed(1)} s, new pod Running ${(newPodMs / 1000).toFixed(1)} s after the return`,
    });
    // Within one interval of the return (a second of slack for the request itself).
    expect(leaseMs, "lease renewed within one renew interval of the return").toBeLessThanOrEqual(
      INTERVAL_MS + 1_000,
    );
    expect(statusMs, "status from the outage written within one interval of the return").toBeLessThanOrEqual(
      INTERVAL_MS + 1_000,
    );
  }

  /** The pod that ran through the outage is the same container, never restarted. */
  async function webUntouched() {
    const now = (await getPod(rig, "web"))!;
    const before = web.status!.containerStatuses![0]!;
    const after = now.status!.containerStatuses![0]!;
    expect(after.containerID).toBe(before.containerID);
    expect(after.restartCount).toBe(before.restartCount);
    expect(after.state.running?.startedAt).toBe(before.state.running?.startedAt);
    expect(await duplicateSandboxes(cri)).toEqual({});
  }

  it("API server stopped", async (ctx) => {
    row(ctx, {
      fault: "API server stopped",
      checked:
        "pods keep running, Service traffic flows, agents up; lease + pod status resume within one interval; pod created meanwhile runs; status from the outage arrives",
    });
    await createPod(rig, podBody("finisher-1", image, ["sleep", "10"], { restartPolicy: "Never" }));
    await waitPod(rig, "finisher-1", "Running", running);
    await rig.server.suspend();
    try {
      // Nobody can reach a stopped API server; the pod appears in its storage as if created just
      // before it went down, unseen by the node.
      createPodOffline(rig, podBody("during-stop", image, ["sleep", "3600"]));
      await holdOutage(OUTAGE_MS);
    } finally {
      await rig.server.resume();
    }
    const backAt = Date.now();
    await recovery(ctx, backAt, "during-stop", "finisher-1");
    await webUntouched();
    assertAlive(rig);
  });

  it("API server black-holed (connections open, nothing answered)", async (ctx) => {
    row(ctx, {
      fault: "API server black-holed",
      checked:
        "pods keep running, Service traffic flows, agents up; lease + pod status resume within one interval; pod created meanwhile runs; status from the outage arrives",
    });
    await createPod(rig, podBody("finisher-2", image, ["sleep", "10"], { restartPolicy: "Never" }));
    await waitPod(rig, "finisher-2", "Running", running);
    rig.gate.blackhole();
    try {
      // The API server itself is fine for everyone but this node.
      await createPod(rig, podBody("during-blackhole", image, ["sleep", "3600"]));
      await holdOutage(OUTAGE_MS);
    } finally {
      rig.gate.heal();
    }
    const backAt = Date.now();
    await recovery(ctx, backAt, "during-blackhole", "finisher-2");
    await webUntouched();
    assertAlive(rig);
  });

  it("API server restarted with a fresh watch history (410 on resume)", async (ctx) => {
    row(ctx, {
      fault: "API server restarted, fresh history (410)",
      checked: "informers relist: pod deleted and pod created meanwhile converge; no duplicate sandboxes",
    });
    const gone = (await getPod(rig, "during-stop"))!;
    await rig.server.suspend();
    let backAt: number;
    try {
      const pods = findResource("", "v1", "pods")!;
      rig.server.core.delete(pods, "default", "during-stop", { gracePeriodSeconds: 0 });
      createPodOffline(rig, podBody("after-410", image, ["sleep", "3600"]));
      // Everything before now is compacted away: a watch resuming from its last resourceVersion
      // gets 410 Expired and only a relist shows the delete and the create.
      rig.server.expireWatchHistory();
    } finally {
      await rig.server.resume();
      backAt = Date.now();
    }
    await waitPod(rig, "after-410", "Running (seen only through a relist)", running, 120_000);
    await waitFor(
      "the deleted pod's containers and sandbox removed from the runtime",
      async () => {
        const view = await runtimeView(cri);
        const uid = gone.metadata.uid!;
        return (view.containers.get(uid) ?? []).length === 0 && (view.sandboxes.get(uid) ?? []).length === 0
          ? true
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    row(ctx, { recoveryMs: Date.now() - backAt });
    expect(await duplicateSandboxes(cri)).toEqual({});
    await webUntouched();
    assertAlive(rig);
  });
});
