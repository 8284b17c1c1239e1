import { execFile } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { waitFor } from "../env/exec.js";
import type { ApiServer } from "./server.js";
import type { Json } from "./types.js";

/** Polls `fn` until it returns a truthy value (or stops throwing), failing after `timeoutMs`. */
export function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<NonNullable<T>> {
  return waitFor(what, async () => (await fn()) || undefined, { timeoutMs, intervalMs: 20 }) as Promise<
    NonNullable<T>
  >;
}

/** A raw HTTP(S) request as an identity: used for wire-level and bad-input checks. */
export function raw(
  server: ApiServer,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  identity = "admin",
): Promise<{ status: number; body: Json; text: string; headers: Record<string, unknown> }> {
  const kc = JSON.parse(server.kubeconfigText(identity));
  const user = kc.users[0].user;
  const url = new URL(path, server.url);
  const h: Record<string, string | number> = { ...headers };
  if (body !== undefined) h["Content-Length"] = Buffer.byteLength(body);
  if (user.token) h.Authorization = `Bearer ${user.token}`;
  return new Promise((resolve, reject) => {
    const opts = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: h,
      ...(server.caPem ? { ca: server.caPem } : {}),
      ...(user["client-certificate-data"]
        ? {
            cert: Buffer.from(user["client-certificate-data"], "base64"),
            key: Buffer.from(user["client-key-data"], "base64"),
          }
        : {}),
    };
    const req = (url.protocol === "https:" ? request : httpRequest)(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: Json;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, headers: res.headers });
      });
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Parses the JSON Status body that client-node's ApiException carries as a string. */
export function statusOf(e: unknown): { code: number; reason?: string; message?: string; details?: Json } {
  const err = e as { code?: number; body?: unknown };
  const body = typeof err.body === "string" ? JSON.parse(err.body) : err.body;
  return { code: err.code ?? 0, ...(body ?? {}) };
}

/** What a kubectl run printed and how it exited. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with an argument array (never a shell); a manifest goes to stdin (`-f -`). */
export function kubectl(
  kubeconfig: string,
  args: string[],
  stdin?: string,
  timeoutMs = 120_000,
): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      "kubectl",
      // a private discovery cache: servers on recycled ports must not see each other's cache
      ["--kubeconfig", kubeconfig, "--cache-dir", join(dirname(kubeconfig), "kubectl-cache"), ...args],
      { timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}

/**
 * Whether kubectl is on PATH. Under CI=true a missing kubectl fails the test file (naming it)
 * instead of skipping; elsewhere it warns loudly and the caller skips.
 */
export async function requireKubectl(what: string): Promise<boolean> {
  const available = await new Promise<boolean>((resolve) => {
    execFile("kubectl", ["version", "--client", "-o", "json"], (err) => resolve(!err));
  });
  if (!available && process.env.CI === "true")
    throw new Error(`kubectl is required for ${what} (install kubectl 1.32) but was not found on PATH`);
  if (!available) console.warn(`SKIPPING ${what}: kubectl not found on PATH`);
  return available;
}

/** What {@link startTestAgent} saw while it ran (for bounds checks during rollouts). */
export interface TestAgent {
  /** Most pods bound to the node that were neither finished nor being deleted, at any one poll. */
  readonly maxLivePods: number;
  /** Pods the agent started (made Running) so far. */
  readonly started: number;
  stop(): Promise<void>;
}

/**
 * A minimal node agent standing in for a kubelet, acting as `system:node:<node>` over HTTP:
 * registers a Ready node, then in a loop makes pods bound to it Running and Ready (pods of
 * restartPolicy Never/OnFailure finish instead: Failed when a command or argument contains
 * `exit 1`, else Succeeded) and finishes the deletion of pods being deleted (grace 0), as a
 * kubelet does once their containers stopped.
 */
export async function startTestAgent(server: ApiServer, node: string): Promise<TestAgent> {
  const identity = `system:node:${node}`;
  await server.kubeconfigFor(identity);
  const json = { "Content-Type": "application/json" };
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const created = await raw(
    server,
    "POST",
    "/api/v1/nodes",
    JSON.stringify({
      metadata: { name: node, labels: { "kubernetes.io/hostname": node } },
      status: {
        capacity: { cpu: "8", memory: "16Gi", pods: "110" },
        allocatable: { cpu: "8", memory: "16Gi", pods: "110" },
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "kubelet is posting ready status",
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        addresses: [{ type: "InternalIP", address: "10.0.0.10" }],
      },
    }),
    json,
    identity,
  );
  if (created.status !== 201) throw new Error(`test agent: node registration failed: ${created.text}`);
  let stopped = false;
  let maxLivePods = 0;
  let started = 0;
  let ip = 10;
  const step = async (): Promise<void> => {
    const list = await raw(
      server,
      "GET",
      `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`,
      undefined,
      {},
      identity,
    );
    const pods: Json[] = list.body?.items ?? [];
    maxLivePods = Math.max(
      maxLivePods,
      pods.filter(
        (p) =>
          !p.metadata.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed",
      ).length,
    );
    for (const p of pods) {
      const path = `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`;
      if (p.metadata.deletionTimestamp) {
        await raw(server, "DELETE", path, JSON.stringify({ gracePeriodSeconds: 0 }), json, identity);
        continue;
      }
      if (p.status?.phase !== "Pending") continue;
      const ts = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      const runs = p.spec.restartPolicy === "Always";
      const fails = p.spec.containers.some((c: Json) =>
        [...(c.command ?? []), ...(c.args ?? [])].some((a: string) => a.includes("exit 1")),
      );
      const phase = runs ? "Running" : fails ? "Failed" : "Succeeded";
      const state = runs
        ? { running: { startedAt: ts } }
        : {
            terminated: {
              exitCode: fails ? 1 : 0,
              reason: fails ? "Error" : "Completed",
              startedAt: ts,
              finishedAt: ts,
            },
          };
      const status = {
        phase,
        hostIP: "10.0.0.10",
        podIP: `10.244.0.${ip}`,
        podIPs: [{ ip: `10.244.0.${ip}` }],
        startTime: ts,
        conditions: [
          { type: "Initialized", status: "True", lastProbeTime: null, lastTransitionTime: ts },
          { type: "Ready", status: runs ? "True" : "False", lastProbeTime: null, lastTransitionTime: ts },
          {
            type: "ContainersReady",
            status: runs ? "True" : "False",
            lastProbeTime: null,
            lastTransitionTime: ts,
          },
          { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: ts },
        ],
        containerStatuses: p.spec.containers.map((c: Json) => ({
          name: c.name,
          image: c.image,
          imageID: "",
          ready: runs,
          restartCount: 0,
          started: runs,
          state,
        })),
      };
      ip = ip >= 250 ? 10 : ip + 1;
      const r = await raw(
        server,
        "PATCH",
        `${path}/status`,
        JSON.stringify({ status }),
        { "Content-Type": "application/merge-patch+json" },
        identity,
      );
      if (r.status === 200) started++;
    }
    // the node lease, as the kubelet renews it
    const lease = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}`;
    const renew = new Date().toISOString().replace("Z", "000Z");
    const put = await raw(
      server,
      "PATCH",
      lease,
      JSON.stringify({ spec: { renewTime: renew } }),
      { "Content-Type": "application/merge-patch+json" },
      identity,
    );
    if (put.status === 404)
      await raw(
        server,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        JSON.stringify({
          metadata: { name: node },
          spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: renew },
        }),
        json,
        identity,
      );
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        await step();
      } catch (e) {
        if (!stopped) throw e;
      }
      // the poll period of this stand-in kubelet (a kubelet reacts to watch events instead)
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    get maxLivePods() {
      return maxLivePods;
    },
    get started() {
      return started;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
