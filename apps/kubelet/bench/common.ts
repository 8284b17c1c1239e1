// Shared pieces of the kubelet benchmarks: the rig (containerd, API simulator, a kubelet process)
// and small statistics helpers.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import { type ApiServer, type Containerd, startApiServer, startContainerd, waitFor } from "@kubenode/testkit";

export const here = dirname(fileURLToPath(import.meta.url));
export const NODE = "bench-node";

export interface BenchRig {
  /** Output of the kubelet process so far. */
  output(): string;
  containerd: Containerd;
  server: ApiServer;
  admin: KubeClient;
  kubelet: ChildProcess;
  podLogsDir: string;
  stop(): Promise<void>;
}

/**
 * V8 flags of the kubelet process: those of the published bin's shebang (as `kubenode-kubelet`
 * runs), or BENCH_NODE_FLAGS to compare others ("" for Node's defaults).
 */
export function nodeFlags(): string[] {
  const env = process.env.BENCH_NODE_FLAGS;
  if (env !== undefined) return env.split(" ").filter(Boolean);
  const shebang = readFileSync(join(here, "..", "dist", "main.js"), "utf8").split("\n", 1)[0] ?? "";
  return /^#!\/usr\/bin\/env -S node (.+)$/.exec(shebang)?.[1]?.split(" ").filter(Boolean) ?? [];
}

export async function startBenchRig(): Promise<BenchRig> {
  if (!existsSync(join(here, "..", "dist", "index.js")))
    throw new Error("dist/index.js is missing: build first (npm run build)");
  const cleanup: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err) => console.error("cleanup:", err));
    cleanup.length = 0;
  };
  // Interrupted (Ctrl-C, a timeout's SIGTERM): still stop the kubelet, containerd and its pods.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void stop().finally(() => process.exit(130)));
  try {
    const [containerd, server] = await Promise.all([
      startContainerd(),
      startApiServer({ controllers: { nodeLifecycle: false } }),
    ]);
    cleanup.push(
      () => containerd.stop(),
      () => server.stop(),
    );
    const tmp = await mkdtemp(join(tmpdir(), "kubenode-kubelet-bench-"));
    cleanup.push(() => rm(tmp, { recursive: true, force: true }));
    const admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
    cleanup.push(async () => admin.close());
    await admin.request({ method: "POST", path: "/api/v1/nodes", body: { metadata: { name: NODE } } });
    const podLogsDir = join(tmp, "pods");
    const settings = {
      nodeName: NODE,
      kubeconfig: await server.kubeconfigFor(`system:node:${NODE}`),
      criEndpoint: containerd.endpoint,
      podLogsDir,
    };
    const kubelet = spawn(
      process.execPath,
      [...nodeFlags(), join(here, "kubelet-child.mjs"), JSON.stringify(settings)],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    cleanup.push(async () => {
      if (kubelet.exitCode !== null) return;
      kubelet.kill("SIGTERM");
      await once(kubelet, "exit");
    });
    let out = "";
    kubelet.stdout!.on("data", (d) => {
      out += d;
    });
    await waitFor("kubelet process ready", () => (out.includes("ready") ? true : undefined), {
      timeoutMs: 60_000,
    });
    return { output: () => out, containerd, server, admin, kubelet, podLogsDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A pod running one busybox container that sleeps. */
export function sleeperPod(name: string, image: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      nodeName: NODE,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "main", image, command: ["sleep", "3600"] }],
    },
  };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** RSS in bytes and CPU seconds (user + system) of a process, from /proc. */
export function processUsage(pid: number): { rssBytes: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / 100 };
}

/** Deletes every pod in `default` and waits until the kubelet removed them from the API. */
export async function deleteAllPods(admin: KubeClient): Promise<void> {
  await admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods" });
  await waitFor(
    "all pods gone",
    async () =>
      (await admin.request<{ items: unknown[] }>({ method: "GET", path: "/api/v1/namespaces/default/pods" }))
        .items.length === 0
        ? true
        : undefined,
    { timeoutMs: 600_000, intervalMs: 500 },
  );
}
