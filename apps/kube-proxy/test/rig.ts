// An end-to-end rig: the API server simulator on the host's loopback, a network lab whose "node"
// namespace runs the real kubenode-proxy binary, and backends listening in other namespaces.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  canUseRealComponents,
  createNetworkLab,
  HOST_PACKAGES,
  type LabHost,
  type NetworkLab,
  run,
  waitFor,
} from "@kubenode/testkit";
import { stringify } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
export const MAIN = join(here, "..", "dist", "main.js");
const FAILING_TOOL = join(here, "fixtures", "failing-tool.sh");
// The simulator runs as its CLI rather than in-process (testkit's startApiServer): a separate
// process keeps its CPU and memory out of the proxy's numbers.
const APISERVER_CLI = join(here, "..", "..", "..", "packages", "testkit", "dist", "apiserver-cli.js");

/** The API server simulator as seen by the node: it can be made unreachable and reachable again. */
export interface RigApiServer {
  /** Admin kubeconfig (kubectl). */
  kubeconfigPath: string;
  /** Kubeconfig of identity system:node:node. */
  nodeKubeconfigPath: string;
  port: number;
  /** Drops the node's connections and refuses new ones: the API server is down for the node. */
  suspend(): Promise<void>;
  resume(): Promise<void>;
}

/** True when the real components can be used; under CI=true a missing one fails loudly. */
export async function realComponentsAvailable(): Promise<boolean> {
  // nfacct: the counters behind two of the iptables mode's metrics.
  if (await canUseRealComponents([...HOST_PACKAGES, "nfacct"])) return true;
  if (process.env.CI === "true")
    throw new Error(
      "kubenode-proxy end-to-end tests need root (network namespaces, iptables, nft) under CI=true",
    );
  console.warn(
    "SKIPPING kubenode-proxy end-to-end tests: they need root for network namespaces and iptables",
  );
  return false;
}

/** A running kubenode-proxy process inside the lab's "node" namespace. */
export interface ProxyProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<number | null>;
}

export interface Rig {
  api: RigApiServer;
  lab: NetworkLab;
  node: LabHost;
  client: LabHost;
  /** Tool names (iptables-restore, nft ...) fail while this file exists. */
  failMarker: string;
  kubeconfig: string;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  startProxy(flags: readonly string[]): ProxyProcess;
  /** startProxy, then waits for /healthz to answer 200 (the error carries the proxy's output). */
  startHealthyProxy(flags: readonly string[]): Promise<ProxyProcess>;
  /** The ClusterIP kubectl reports for Service `name` in the default namespace. */
  clusterIP(name: string): Promise<string>;
  /** Runs kubenode-proxy to completion inside the node namespace (e.g. --cleanup). */
  runProxy(flags: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /** What `nc` reads from ip:port, from `from` (default the node itself); rejects when nothing answers. */
  request(ip: string, port: number, from?: LabHost): Promise<string>;
  /** GETs a URL from inside a namespace (busybox wget); resolves with status code and body. */
  httpGet(url: string, from?: LabHost): Promise<{ code: number; body: string }>;
  /** Metrics text from the proxy's metrics endpoint (127.0.0.1:10249 in the node namespace). */
  metrics(): Promise<string>;
  destroy(): Promise<void>;
}

/** Builds the rig: lab hosts client, node, ep1, ep2; ep1/ep2 answer with their own name on :8080. */
export async function createRig(): Promise<Rig> {
  const cleanups: (() => Promise<void>)[] = [];
  const destroy = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), "kubenode-proxy-e2e-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfigPath = join(dir, "kubeconfig");
    if (!existsSync(APISERVER_CLI))
      throw new Error(`${APISERVER_CLI} is missing: build @kubenode/testkit first`);
    const server = spawn(
      process.execPath,
      [APISERVER_CLI, "--port", "0", "--kubeconfig", kubeconfigPath, "--node", "node"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let serverOutput = "";
    server.stdout.on("data", (d: Buffer) => {
      serverOutput += d.toString();
    });
    server.stderr.on("data", (d: Buffer) => {
      serverOutput += d.toString();
    });
    const serverExited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
    cleanups.push(async () => {
      server.kill("SIGTERM");
      await serverExited;
    });
    const port = Number(
      await waitFor(
        "the API server simulator",
        () => /listening on https?:\/\/127\.0\.0\.1:(\d+)/.exec(serverOutput)?.[1],
      ),
    );
    await waitFor("the node kubeconfig", () => (existsSync(`${kubeconfigPath}-node`) ? true : undefined));
    const lab = await createNetworkLab({ hosts: ["client", "node", "ep1", "ep2"], gateway: "node" });
    cleanups.push(() => lab.destroy());
    const node = lab.host("node");
    // Like a real node: a default route, so Service IPs (routed nowhere else) reach the nat OUTPUT chain.
    await node.exec(["ip", "route", "add", "default", "dev", "eth0"]);

    // The API server listens on the host's 127.0.0.1, which a lab namespace cannot reach: testkit
    // bridges the port in. Pausing the bridge makes the API server unreachable from the node.
    const bridge = await node.bridgeHostPort(port);
    const api: RigApiServer = {
      kubeconfigPath,
      nodeKubeconfigPath: `${kubeconfigPath}-node`,
      port,
      suspend: () => bridge.pause(),
      resume: () => bridge.resume(),
    };

    for (const name of ["ep1", "ep2"]) {
      const h = lab.host(name);
      h.spawn(["busybox", "nc", "-ll", "-p", "8080", "-e", "echo", name]);
      await h.waitForListening(8080);
    }

    const toolDir = join(dir, "tools");
    await run(["mkdir", "-p", toolDir]);
    for (const tool of ["iptables-restore", "ip6tables-restore", "nft"])
      await run(["ln", "-s", FAILING_TOOL, join(toolDir, tool)]);
    const failMarker = join(dir, "fail-applies");
    const kubeconfig = api.nodeKubeconfigPath;
    const env = [`PATH=${toolDir}:${process.env.PATH}`, `KUBENODE_FAIL_MARKER=${failMarker}`];

    const kubectl = async (args: readonly string[], input?: string) =>
      (await run(["kubectl", "--kubeconfig", api.kubeconfigPath, ...args], input ? { input } : {})).stdout;
    // This node, with its lab address (kube-proxy learns its node IPs from it).
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "node", labels: { "kubernetes.io/hostname": "node" } },
        status: { addresses: [{ type: "InternalIP", address: node.ip }] },
      }),
    );

    const procs = new Set<ProxyProcess>();
    cleanups.push(async () => {
      for (const p of procs) await p.stop();
    });
    const startProxy = (flags: readonly string[]): ProxyProcess => {
      const child = node.spawn(["env", ...env, process.execPath, MAIN, ...flags]);
      let out = "";
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stderr?.on("data", (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const p: ProxyProcess = {
        child,
        output: () => out,
        async stop() {
          procs.delete(p);
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          return exited;
        },
      };
      procs.add(p);
      return p;
    };
    const httpGet = async (url: string, from: LabHost = node) => {
      // busybox wget prints "server returned error: HTTP/1.1 503 ..." and exits 1 on errors (its -T segfaults).
      try {
        const { stdout } = await from.exec(["busybox", "wget", "-O", "-", url], { timeoutMs: 5_000 });
        return { code: 200, body: stdout };
      } catch (err) {
        const m = /HTTP\/1\.1 (\d{3})/.exec((err as Error).message);
        if (m) return { code: Number(m[1]), body: "" };
        throw err;
      }
    };
    return {
      api,
      lab,
      node,
      client: lab.host("client"),
      failMarker,
      kubeconfig,
      kubectl,
      startProxy,
      async startHealthyProxy(flags) {
        const proxy = startProxy(flags);
        await until("kubenode-proxy /healthz", async () =>
          (await httpGet("http://127.0.0.1:10256/healthz")).code === 200 ? true : undefined,
        ).catch(async (err: Error) => {
          const output = proxy.output();
          await proxy.stop();
          throw new Error(`${err.message}\nkubenode-proxy output:\n${output}`);
        });
        return proxy;
      },
      clusterIP: (name) => kubectl(["get", "service", name, "-o", "jsonpath={.spec.clusterIP}"]),
      runProxy: (flags) => node.exec(["env", ...env, process.execPath, MAIN, ...flags]),
      request: async (ip, port, from = node) =>
        (await from.exec(["busybox", "nc", "-w", "2", ip, String(port)], { timeoutMs: 5_000 })).stdout.trim(),
      httpGet,
      metrics: async () => (await httpGet("http://127.0.0.1:10249/metrics")).body,
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** A Service without selector plus its EndpointSlice, as kubectl input. */
export function serviceManifest(
  name: string,
  endpoints: { ip: string; nodeName: string; ready?: boolean }[],
  spec: Record<string, unknown> = {},
): string {
  const svc = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }], ...spec },
  };
  return `${stringify(svc)}---\n${sliceManifest(name, endpoints)}`;
}

export function sliceManifest(
  name: string,
  endpoints: { ip: string; nodeName: string; ready?: boolean }[],
): string {
  return stringify({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${name}-1`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": name },
      annotations: { "endpoints.kubernetes.io/last-change-trigger-time": new Date().toISOString() },
    },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      nodeName: e.nodeName,
      conditions: { ready: e.ready ?? true },
    })),
  });
}

/** Asks `fn` until it answers (rules are programmed asynchronously); waitFor retries on errors too. */
export function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  return waitFor(what, fn, { timeoutMs, intervalMs: 200 });
}

export async function writeText(path: string, text: string): Promise<void> {
  await writeFile(path, text);
}
