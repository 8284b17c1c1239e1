// Faults below the kubelet that the real runtime cannot be asked for: a slow runtime (CRI calls held
// by a proxy in front of containerd's socket), garbage CRI answers, and malformed static pod
// manifests next to a good one. The kubelet honours its --runtime-request-timeout, says what failed,
// keeps the other pods' workers going, never crashes, and converges once the fault is gone.
import { execFileSync } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CriClient } from "@kubenode/cri-client";
import { canUseRealComponents, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertAlive,
  createPod,
  criOf,
  duplicateSandboxes,
  getPod,
  podBody,
  running,
  startWebPod,
  waitPod,
} from "./checks.js";
import { NODE, type NodeRig, startNodeRig } from "./node-rig.js";
import { row } from "./table.js";

const realComponents = await canUseRealComponents();

/** The kubelet's --runtime-request-timeout in this file: short, so a held call times out quickly. */
const RUNTIME_REQUEST_TIMEOUT_MS = 4_000;
/** How long the proxy holds a slow call: well past the timeout. */
const SLOW_CALL_MS = 15_000;

interface Event {
  reason?: string;
  type?: string;
  message?: string;
  involvedObject?: { name?: string };
}

describe.runIf(realComponents)("runtime faults (real kubelet + containerd behind a CRI proxy)", () => {
  let rig: NodeRig;
  let cri: CriClient;
  let clusterIP: string;
  let image: string;

  beforeAll(async () => {
    rig = await startNodeRig({
      criProxy: true,
      staticPods: true,
      kubeletConfig: [`runtimeRequestTimeout: ${RUNTIME_REQUEST_TIMEOUT_MS / 1000}s`],
    });
    cri = criOf(rig);
    image = rig.containerd.busyboxImage;
    ({ clusterIP } = await startWebPod(rig));
  });
  afterAll(async () => {
    rig?.criProxy?.setFault(undefined);
    cri?.close();
    await rig?.stop();
  });

  async function podEvents(name: string): Promise<Event[]> {
    const list = await rig.admin.request<{ items: Event[] }>({
      method: "GET",
      path: `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`,
    });
    return list.items;
  }

  it("slow runtime: CRI calls for one pod held past --runtime-request-timeout", async (ctx) => {
    row(ctx, {
      fault: "slow runtime (CRI calls naming one pod held 15 s by a proxy)",
      checked: `--runtime-request-timeout ${RUNTIME_REQUEST_TIMEOUT_MS / 1000} s honoured (RunPodSandbox gets twice that, as upstream): FailedCreatePodSandBox naming DeadlineExceeded, retried; another pod starts meanwhile; no duplicate sandbox`,
    });
    const proxy = rig.criProxy!;
    const held: number[] = [];
    // Every call whose request names the pod (RunPodSandbox and CreateContainer carry its metadata).
    proxy.setFault((call) => {
      if (!call.body.includes("slow-pod")) return undefined;
      held.push(Date.now());
      return { kind: "delay", ms: SLOW_CALL_MS };
    });
    const faultAt = Date.now();
    await createPod(rig, podBody("slow-pod", image, ["sleep", "3600"]));
    await waitFor("a held call for slow-pod", () => (held.length > 0 ? true : undefined), {
      timeoutMs: 60_000,
    });
    // The other pod's worker is not stuck behind slow-pod's.
    await createPod(rig, podBody("fast-pod", image, ["sleep", "3600"]));
    await waitPod(rig, "fast-pod", "Running while slow-pod's calls are held", running);
    const fastMs = Date.now() - faultAt;
    const event = await waitFor(
      "FailedCreatePodSandBox for slow-pod",
      async () => (await podEvents("slow-pod")).find((e) => e.reason === "FailedCreatePodSandBox"),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const timedOutMs = Date.now() - held[0]!;
    expect(event.type).toBe("Warning");
    expect(event.message).toMatch(/^Failed to create pod sandbox: .*DeadlineExceeded/);
    // The timeout, not the held call's end, produced the error: RunPodSandbox's deadline is twice
    // the request timeout (upstream remote_runtime.go), so about 8 s here.
    expect(timedOutMs).toBeGreaterThanOrEqual(2 * RUNTIME_REQUEST_TIMEOUT_MS - 500);
    expect(timedOutMs).toBeLessThan(SLOW_CALL_MS);
    expect((await getPod(rig, "slow-pod"))?.status?.containerStatuses?.[0]?.state.running).toBeUndefined();
    assertAlive(rig);
    // Retried: a second RunPodSandbox for the pod after the sync backoff.
    await waitFor("slow-pod retried", () => (held.length > 1 ? true : undefined), { timeoutMs: 60_000 });

    proxy.setFault(undefined);
    const healedAt = Date.now();
    await waitPod(rig, "slow-pod", "Running once the runtime is fast again", running, 120_000);
    const recoveryMs = Date.now() - healedAt;
    // The held calls still reached containerd (a slow runtime still does the work): the kubelet
    // must end with one ready sandbox for the pod, not one per attempt.
    await waitFor(
      "no duplicate ready sandboxes",
      async () => (Object.keys(await duplicateSandboxes(cri)).length === 0 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    row(ctx, {
      recoveryMs,
      note: `error ${(timedOutMs / 1000).toFixed(1)} s after the first held call; fast-pod Running after ${(fastMs / 1000).toFixed(1)} s; ${held.length} calls held: "${event.message}"`,
    });
    expect((await rig.httpGet(`http://${clusterIP}/`)).trim()).toBe("web");
    assertAlive(rig);
  });

  it("malformed static pod manifests next to a good one", async (ctx) => {
    row(ctx, {
      fault: "malformed static pod manifests",
      checked:
        "bad YAML, wrong kind, invalid name, 11 MiB file, duplicate name, directory, symlink loop, dangling link, FIFO: each logged and skipped; the good one runs as a mirror pod",
    });
    const dir = rig.manifestDir!;
    const manifest = (name: string, kind = "Pod") =>
      JSON.stringify({
        apiVersion: "v1",
        kind,
        metadata: { name },
        spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
      });
    const bad: Record<string, string> = {
      // Fragments without quotes: the log escapes them.
      "bad-yaml.yaml": "not valid YAML or JSON",
      "kind.yaml": "kind is",
      "bad-name.yaml": "is not a valid DNS-1123 subdomain",
      "huge.yaml": "larger than 10485760 bytes",
      "same-name.yaml": "duplicate pod name default/good-node-1",
      subdir: "is a directory",
      loop: "symlink loop",
      "dangling.yaml": "cannot stat it: ENOENT",
      "fifo.yaml": "is not a regular file",
    };
    await writeFile(join(dir, "bad-yaml.yaml"), "metadata: {name: x\nspec: [");
    await writeFile(join(dir, "kind.yaml"), manifest("svc", "Service"));
    await writeFile(join(dir, "bad-name.yaml"), manifest("Bad_Name"));
    await writeFile(join(dir, "huge.yaml"), Buffer.alloc(11 * 1024 * 1024, "#"));
    await mkdir(join(dir, "subdir"));
    await symlink(join(dir, "loop"), join(dir, "loop"));
    await symlink(join(dir, "missing.yaml"), join(dir, "dangling.yaml"));
    // Read, a FIFO would block the reader forever.
    execFileSync("mkfifo", [join(dir, "fifo.yaml")]);
    await writeFile(join(dir, "good.yaml"), manifest("good"));
    // Sorted after good.yaml: the second pod of that name is the one ignored.
    await writeFile(join(dir, "same-name.yaml"), manifest("good").replace('"sleep"', '"sleep" '));
    const writtenAt = Date.now();
    const mirror = `good-${NODE}`;
    await waitPod(rig, mirror, "mirror pod of the good manifest Running", running, 120_000);
    const logged = await waitFor(
      "every bad manifest logged",
      async () => {
        const log = rig.kubelet.tail(400);
        const lines = log.split("\n").filter((l) => l.includes("static pod manifest skipped"));
        const missing = Object.entries(bad).filter(
          ([file, why]) => !lines.some((l) => l.includes(join(dir, file)) && l.includes(why)),
        );
        return missing.length === 0 ? lines : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch(() => {
      throw new Error(`not every bad manifest was logged; kubelet log:\n${rig.kubelet.tail(60)}`);
    });
    row(ctx, {
      recoveryMs: Date.now() - writtenAt,
      note: `${Object.keys(bad).length} bad entries, ${logged.length} log lines`,
    });
    assertAlive(rig);
    expect((await rig.httpGet(`http://${clusterIP}/`)).trim()).toBe("web");
  });
});
