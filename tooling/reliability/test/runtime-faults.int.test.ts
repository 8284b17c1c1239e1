// Faults below the kubelet that the real runtime cannot be asked for: a slow runtime (CRI calls held
// by a proxy in front of containerd's socket), garbage CRI answers, and malformed static pod
// manifests next to a good one. The kubelet honours its --runtime-request-timeout, says what failed,
// keeps the other pods' workers going, never crashes, and converges once the fault is gone.
import { execFileSync } from "node:child_process";
import { mkdir, rm, statfs, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CriClient } from "@kubenode/cri-client";
import { canUseRealComponents, run, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertAlive,
  createPod,
  criOf,
  duplicateSandboxes,
  getPod,
  nodeReady,
  podBody,
  running,
  startWebPod,
  type WebPod,
  waitPod,
  webUntouched,
} from "./checks.js";
import { NODE, type NodeRig, startNodeRig } from "./node-rig.js";
import { row } from "./table.js";

const realComponents = await canUseRealComponents();

/**
 * The kubelet's --runtime-request-timeout in this file: short, so a held call times out quickly, yet
 * long enough for containerd's own calls on a busy 2-core machine (4 s was not).
 */
const RUNTIME_REQUEST_TIMEOUT_MS = 8_000;
/** How long the proxy holds a slow call: past RunPodSandbox's deadline (twice the timeout). */
const SLOW_CALL_MS = 25_000;
/** Size of each tmpfs (the kubelet's root dir and its pod log dir) the disk-full rows fill. */
const TMPFS_BYTES = 64 * 1024 * 1024;

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
  let web: WebPod;

  beforeAll(async () => {
    rig = await startNodeRig({
      criProxy: true,
      staticPods: true,
      tmpfsBytes: TMPFS_BYTES,
      kubeletConfig: [
        `runtimeRequestTimeout: ${RUNTIME_REQUEST_TIMEOUT_MS / 1000}s`,
        // DiskPressure clears 10 s after the disk is freed instead of upstream's 5 min.
        "evictionPressureTransitionPeriod: 10s",
      ],
    });
    cri = criOf(rig);
    image = rig.containerd.busyboxImage;
    web = await startWebPod(rig);
    clusterIP = web.clusterIP;
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
      fault: `slow runtime (CRI calls naming one pod held ${SLOW_CALL_MS / 1000} s by a proxy)`,
      checked: `--runtime-request-timeout ${RUNTIME_REQUEST_TIMEOUT_MS / 1000} s honoured (RunPodSandbox gets twice that, as upstream): FailedCreatePodSandBox naming DeadlineExceeded, retried; another pod starts meanwhile; no duplicate sandbox`,
    });
    const proxy = rig.criProxy!;
    let held = 0;
    let firstHeldAt = 0;
    // Every call whose request names the pod (RunPodSandbox and CreateContainer carry its metadata).
    proxy.setFault((call) => {
      if (!call.body.includes("slow-pod")) return undefined;
      if (held++ === 0) firstHeldAt = Date.now();
      return { kind: "delay", ms: SLOW_CALL_MS };
    });
    let event: Event;
    let gaveUp: { method: string; afterMs: number };
    let fastMs: number;
    try {
      const faultAt = Date.now();
      await createPod(rig, podBody("slow-pod", image, ["sleep", "3600"]));
      await waitFor("a held call for slow-pod", () => (held > 0 ? true : undefined), { timeoutMs: 60_000 });
      // The other pod's worker is not stuck behind slow-pod's.
      await createPod(rig, podBody("fast-pod", image, ["sleep", "3600"]));
      await waitPod(rig, "fast-pod", "Running while slow-pod's calls are held", running);
      const fastRunningAt = Date.now();
      fastMs = fastRunningAt - faultAt;
      expect((await getPod(rig, "slow-pod"))?.status?.containerStatuses?.[0]?.state.running).toBeUndefined();
      // The kubelet gave up on the held RunPodSandbox at its deadline, not when the runtime answered:
      // twice the request timeout for RunPodSandbox (upstream remote_runtime.go), so about 16 s here.
      gaveUp = await waitFor(
        "the kubelet gives up on the held RunPodSandbox",
        () => proxy.abandoned.find((a) => a.method === "RunPodSandbox"),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(gaveUp.afterMs).toBeGreaterThanOrEqual(2 * RUNTIME_REQUEST_TIMEOUT_MS - 250);
      expect(gaveUp.afterMs).toBeLessThan(SLOW_CALL_MS);
      expect(fastRunningAt - firstHeldAt, "fast-pod Running while slow-pod's call was held").toBeLessThan(
        gaveUp.afterMs,
      );
      event = await waitFor(
        "FailedCreatePodSandBox for slow-pod",
        async () => (await podEvents("slow-pod")).find((e) => e.reason === "FailedCreatePodSandBox"),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(event.type).toBe("Warning");
      expect(event.message).toBe(
        "Failed to create pod sandbox: rpc error: code = DeadlineExceeded desc = context deadline exceeded",
      );
      assertAlive(rig);
    } finally {
      proxy.setFault(undefined);
    }
    const healedAt = Date.now();
    // Retried after the sync backoff, and started.
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
      note: `RunPodSandbox given up after ${(gaveUp.afterMs / 1000).toFixed(1)} s; fast-pod Running ${(fastMs / 1000).toFixed(1)} s after slow-pod was created; ${held} calls held: "${event.message}"`,
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

  it("garbage CRI answers: empty, truncated, oversized, reset", async (ctx) => {
    row(ctx, {
      fault: "garbage CRI answers (a proxy answers for containerd)",
      checked:
        "Status empty, ListPodSandbox truncated, ListContainers 17 MiB, ListImages reset: the kubelet logs each, never crashes, Ready=False with upstream's runtime-not-ready message; running containers untouched; Ready again after",
    });
    const proxy = rig.criProxy!;
    // A sandbox whose id announces 5 bytes and carries none: a decoder must refuse it. (A field of
    // the wrong wire type is no test: protobuf decoders, Go's too, skip it as an unknown field; a
    // truncated message that ends on a tag boundary decodes as an item with empty fields, which
    // the kubelet ignores as not its own, as upstream.)
    const truncated = Buffer.from([0x0a, 0x02, 0x0a, 0x05]);
    // Over the 16 MiB the kubelet accepts (upstream's maxMsgSize): field 1, 17 MiB of zeros.
    const huge = Buffer.concat([Buffer.from([0x0a, 0x80, 0x80, 0x80, 0x08]), Buffer.alloc(17 * 1024 * 1024)]);
    const answered = new Map<string, number>();
    // The relist lists sandboxes, then containers: first the sandboxes fail, then the containers.
    let phase: "sandboxes" | "containers" | "done" = "sandboxes";
    proxy.setFault((call) => {
      const method = call.path.split("/").at(-1) ?? "";
      const fault =
        method === "Status"
          ? ({ kind: "message", bytes: Buffer.alloc(0) } as const)
          : method === "ListPodSandbox" && phase === "sandboxes"
            ? ({ kind: "message", bytes: truncated } as const)
            : method === "ListContainers" && phase === "containers"
              ? ({ kind: "message", bytes: huge } as const)
              : method === "ListImages"
                ? ({ kind: "reset" } as const)
                : undefined;
      if (fault) answered.set(method, (answered.get(method) ?? 0) + 1);
      return fault;
    });
    let notReady: Awaited<ReturnType<typeof nodeReady>>;
    const relistError = (what: RegExp) =>
      waitFor(
        `relist failure logged: ${what}`,
        () =>
          rig.kubelet
            .tail(400)
            .split("\n")
            .find((l) => l.includes("relist failed") && what.test(l)),
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    try {
      notReady = await waitFor(
        "Ready=False naming the runtime",
        async () => {
          assertAlive(rig);
          const ready = await nodeReady(rig);
          return ready?.status === "False" ? ready : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      // Upstream joins several errors as an aggregate: "[a, b]".
      expect(notReady.message).toMatch(/^\[?container runtime not ready/);
      const sandboxesLine = await relistError(/ListPodSandbox/);
      phase = "containers";
      const containersLine = await relistError(/ListContainers.*larger than max/);
      phase = "done";
      const relistErrors = [sandboxesLine, containersLine];
      console.log(`garbage CRI answers, kubelet log:\n  ${relistErrors.join("\n  ")}`);
      assertAlive(rig);
      // The shims run on: Service traffic to the running pod is untouched.
      expect((await rig.httpGet(`http://${clusterIP}/`)).trim()).toBe("web");
    } finally {
      proxy.setFault(undefined);
    }
    const healedAt = Date.now();
    await waitFor(
      "Ready=True once the runtime answers properly",
      async () => ((await nodeReady(rig))?.status === "True" ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    const recoveryMs = Date.now() - healedAt;
    await createPod(rig, podBody("after-garbage-cri", image, ["sleep", "3600"]));
    await waitPod(rig, "after-garbage-cri", "Running", running);
    await webUntouched(rig, web);
    row(ctx, {
      recoveryMs,
      note: `answers ${JSON.stringify(Object.fromEntries(answered))}; Ready=False: "${notReady.message}"`,
    });
    assertAlive(rig);
  });

  it("disk full: the pod log directory", async (ctx) => {
    row(ctx, {
      fault: "disk full: pod log dir (its own 64 MiB tmpfs)",
      checked:
        "a new pod still starts; the kubelet stays up; no DiskPressure (the log dir is not the kubelet's nodefs, as upstream)",
    });
    const filler = join(rig.podLogsDir, "filler");
    const usedBefore = await fill(rig.podLogsDir, filler);
    try {
      await createPod(rig, podBody("logs-full", image, ["sh", "-c", "echo hello; exec sleep 3600"]));
      const pod = await waitPod(rig, "logs-full", "Running or a clear error", (p) =>
        Boolean(running(p) || p.status?.containerStatuses?.[0]?.state.waiting?.message),
      );
      const state = pod.status?.containerStatuses?.[0]?.state;
      console.log(`pod log dir full: ${JSON.stringify(state)}`);
      expect(state?.running, `logs-full: ${JSON.stringify(state)}`).toBeDefined();
      expect(await diskPressure()).toBe("False");
      assertAlive(rig);
      row(ctx, { note: `log dir ${usedBefore}; the container runs, its log lines are lost` });
    } finally {
      await rm(filler, { force: true });
    }
  });

  it("disk full: the kubelet's root dir (its nodefs)", async (ctx) => {
    row(ctx, {
      fault: "disk full: kubelet root dir (its own 64 MiB tmpfs, the nodefs)",
      checked:
        "DiskPressure=True; a new pod rejected naming DiskPressure; reclaim, then a pod evicted naming ephemeral-storage; no crash; DiskPressure=False and pods start after the disk is freed",
    });
    const filler = join(rig.rootDir, "filler");
    const used = await fill(rig.rootDir, filler);
    const fullAt = Date.now();
    let pressureMs = 0;
    try {
      await waitFor(
        "DiskPressure=True",
        async () => {
          assertAlive(rig);
          return (await diskPressure()) === "True" ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      pressureMs = Date.now() - fullAt;
      await createPod(rig, podBody("disk-full-new", image, ["sleep", "3600"]));
      const rejected = await waitPod(rig, "disk-full-new", "rejected", (p) => p.status?.phase === "Failed");
      const rejectedStatus = rejected.status as { reason?: string; message?: string };
      console.log(`root dir full, new pod: ${rejectedStatus.reason}: ${rejectedStatus.message}`);
      expect(rejectedStatus.message).toContain("DiskPressure");
      const evicted = await waitFor(
        "a pod evicted for ephemeral-storage",
        async () => {
          assertAlive(rig);
          const pods = await rig.admin.request<{
            items: { metadata: { name: string }; status?: { reason?: string; message?: string } }[];
          }>({
            method: "GET",
            path: "/api/v1/namespaces/default/pods",
          });
          return pods.items.find(
            (p) => p.status?.reason === "Evicted" && p.metadata.name !== "disk-full-new",
          );
        },
        { timeoutMs: 90_000, intervalMs: 1_000 },
      );
      console.log(`root dir full, evicted ${evicted.metadata.name}: ${evicted.status?.message}`);
      expect(evicted.status?.message).toMatch(/low on resource: ephemeral-storage/);
      row(ctx, {
        note: `${used}; DiskPressure after ${(pressureMs / 1000).toFixed(1)} s; evicted ${evicted.metadata.name}: "${evicted.status?.message}"`,
      });
    } finally {
      await rm(filler, { force: true });
    }
    const freedAt = Date.now();
    await waitFor(
      "DiskPressure=False after the disk is freed",
      async () => ((await diskPressure()) === "False" ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    await createPod(rig, podBody("disk-freed", image, ["sleep", "3600"]));
    await waitPod(rig, "disk-freed", "Running after the disk is freed", running);
    row(ctx, { recoveryMs: Date.now() - freedAt });
    assertAlive(rig);
  });

  async function diskPressure(): Promise<string | undefined> {
    const node = await rig.admin.request<{ status?: { conditions?: { type: string; status: string }[] } }>({
      method: "GET",
      path: `/api/v1/nodes/${NODE}`,
    });
    return node.status?.conditions?.find((c) => c.type === "DiskPressure")?.status;
  }
});

/** Fills the filesystem of `dir` with one file at `file`; returns what was free before, as text. */
async function fill(dir: string, file: string): Promise<string> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  await run(["fallocate", "-l", String(free), file]);
  const after = await statfs(dir);
  expect(after.bavail).toBe(0);
  return `${(free / 1024 / 1024).toFixed(1)} MiB filled`;
}
