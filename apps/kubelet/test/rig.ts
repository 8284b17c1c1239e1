// Shared rig of the kubelet's integration tests: a private containerd, the API server simulator
// with this node registered, clients for the admin and the node identity, and kubelets built with
// createKubelet against them. stop() removes everything it made, also after failures.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type CriClient, createCriClient } from "@kubenode/cri-client";
import {
  type Clock,
  createKubeClient,
  createLogger,
  type KubeClient,
  type Logger,
  loadKubeConfig,
  silentLogger,
} from "@kubenode/kube";
import {
  type ApiServer,
  advanceFakeClock,
  type Containerd,
  canUseRealComponents,
  createCleanup,
  startApiServer,
  startContainerd,
  waitFor,
} from "@kubenode/testkit";
import type { Pod } from "../src/api.js";
import { createKubelet, type Kubelet, type KubeletOptions } from "../src/kubelet.js";
import { createHostMounter } from "../src/volumes/mounter.js";

export const NODE = "node-a";

/** Whether the real components are usable; under CI=true a missing one fails the run. */
export const realComponents = await canUseRealComponents();

export interface Rig {
  containerd: Containerd;
  server: ApiServer;
  admin: KubeClient;
  /** The node's own identity (system:node:node-a), as a kubelet uses. */
  nodeClient: KubeClient;
  cri: CriClient;
  tmp: string;
  podLogsDir: string;
  startKubelet(overrides?: Partial<KubeletOptions>): Promise<Kubelet>;
  createPod(pod: Partial<Pod> & { metadata: { name: string } }): Promise<Pod>;
  getPod(name: string, namespace?: string): Promise<Pod | undefined>;
  waitPod(name: string, what: string, ok: (pod: Pod) => boolean, timeoutMs?: number): Promise<Pod>;
  kubectl(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

const exec = promisify(execFile);

export async function startRig(): Promise<Rig> {
  // Every step runs even when one fails; failures are reported together.
  const cleanup = createCleanup();
  const stop = async () => {
    await cleanup.run();
  };
  try {
    const [containerd, server] = await Promise.all([
      startContainerd(),
      startApiServer({ controllers: { nodeLifecycle: false } }),
    ]);
    cleanup.add("containerd", () => containerd.stop());
    cleanup.add("API server", () => server.stop());
    const tmp = await mkdtemp(join(tmpdir(), "kubenode-kubelet-test-"));
    cleanup.add("temp dir", () => rm(tmp, { recursive: true, force: true }));
    // tmpfs volumes of pods still running at the end (or of a failed test) are unmounted before
    // the temp dir goes, deepest first.
    cleanup.add("volume mounts", async () => {
      const mounter = createHostMounter();
      const errors: unknown[] = [];
      for (const point of await mounter.mountPointsUnder(tmp))
        await mounter.unmount(point).catch((e) => errors.push(e));
      if (errors.length > 0) throw new AggregateError(errors, "unmounting volumes under the temp dir failed");
    });
    const admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
    const nodeClient = createKubeClient(
      loadKubeConfig({ path: await server.kubeconfigFor(`system:node:${NODE}`) }),
    );
    cleanup.add("admin client", () => admin.close());
    cleanup.add("node client", () => nodeClient.close());
    await admin.request({
      method: "POST",
      path: "/api/v1/nodes",
      body: {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: NODE, labels: { "kubernetes.io/hostname": NODE } },
      },
    });
    const cri = createCriClient({ endpoint: containerd.endpoint });
    cleanup.add("CRI client", () => cri.close());
    const podLogsDir = join(tmp, "pods");
    const kubelets: Kubelet[] = [];
    cleanup.add("kubelets", async () => {
      for (const k of kubelets) await k.stop();
    });
    const logger = process.env.KUBELET_TEST_LOG
      ? createLogger({ verbosity: Number(process.env.KUBELET_TEST_LOG) || 0 })
      : silentLogger;
    const rig: Rig = {
      containerd,
      server,
      admin,
      nodeClient,
      cri,
      tmp,
      podLogsDir,
      async startKubelet(overrides = {}) {
        const kubelet = createKubelet({
          nodeName: NODE,
          client: nodeClient,
          criEndpoint: containerd.endpoint,
          podLogsDir,
          rootDir: join(tmp, "root"),
          nodeIPs: ["127.0.0.1"],
          clusterDNS: ["10.96.0.10"],
          clusterDomain: "cluster.local",
          logger,
          // Image GC reads the host disk: on a full disk it would remove the shared test images
          // between tests. Tests of image GC pass their own settings.
          gc: { image: { highThresholdPercent: 100 } },
          ...overrides,
        });
        kubelets.push(kubelet);
        await kubelet.start();
        return kubelet;
      },
      async createPod(pod) {
        const ns = pod.metadata.namespace ?? "default";
        return admin.request<Pod>({
          method: "POST",
          path: `/api/v1/namespaces/${ns}/pods`,
          body: {
            apiVersion: "v1",
            kind: "Pod",
            ...pod,
            spec: { nodeName: NODE, terminationGracePeriodSeconds: 5, ...pod.spec },
          },
        });
      },
      async getPod(name, namespace = "default") {
        try {
          return await admin.request<Pod>({
            method: "GET",
            path: `/api/v1/namespaces/${namespace}/pods/${name}`,
          });
        } catch (err) {
          if ((err as { code?: string }).code === "NotFound") return undefined;
          throw err;
        }
      },
      async waitPod(name, what, ok, timeoutMs = 90_000) {
        let last: Pod | undefined;
        try {
          return await waitFor(
            `pod ${name}: ${what}`,
            async () => {
              last = await rig.getPod(name);
              return last && ok(last) ? last : undefined;
            },
            { timeoutMs, intervalMs: 200 },
          );
        } catch (err) {
          throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`, {
            cause: err,
          });
        }
      },
      async kubectl(args) {
        const { stdout } = await exec("kubectl", ["--kubeconfig", server.kubeconfigPath, ...args]);
        return stdout;
      },
      stop,
    };
    return rig;
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/**
 * Steps a fake clock one second at a time until `check` returns a value. After each step the real
 * work it triggered (CRI calls, status writes) gets up to `settleMs` of real time, polled, so states
 * that last only a few stepped seconds are still observed.
 */
export async function stepUntil<T>(
  clock: Clock & { step(ms: number): Promise<void> },
  what: string,
  check: () => Promise<T | undefined>,
  { maxSteps = 600, stepMs = 1000, settleMs = 1000 } = {},
): Promise<T> {
  for (let i = 0; i < maxSteps; i++) {
    try {
      return await waitFor(what, check, { timeoutMs: i === 0 ? 30_000 : settleMs, intervalMs: 100 });
    } catch {
      await advanceFakeClock(clock as never, stepMs, { timeoutMs: 60_000 });
    }
  }
  throw new Error(`${what}: not reached after ${maxSteps} steps of ${stepMs} ms`);
}

/** A container command that serves HTTP on 8080 with a body naming the pod. */
export function httpd(body: string): string[] {
  return ["sh", "-c", `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 8080 -h /www`];
}

/** One record kept by {@link recordingLogger}. */
export interface LogRecord {
  level: "info" | "warn" | "error";
  name: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger that keeps records in memory, for assertions on what the kubelet reported. */
export function recordingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const make = (name: string): Logger => ({
    info: (msg, fields = {}) => records.push({ level: "info", name, msg, fields }),
    v: (level, msg, fields = {}) => {
      if (level <= 2) records.push({ level: "info", name, msg, fields });
    },
    enabled: (level) => level <= 2,
    warn: (msg, fields = {}) => records.push({ level: "warn", name, msg, fields }),
    error: (msg, err, fields = {}) => records.push({ level: "error", name, msg, fields: { ...fields, err } }),
    withName: (child) => make(name ? `${name}.${child}` : child),
  });
  return { logger: make(""), records };
}
