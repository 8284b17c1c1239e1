// One real node for fault injection: the API server simulator on the host's loopback behind a TCP
// gate (which can black-hole it), a network namespace "node" holding a private containerd with its
// pod bridge, the real kubenode-kubelet and kubenode-proxy binaries as their own processes (so they
// can be SIGKILLed), and a "client" namespace outside the node. Everything it made is removed by
// stop(), also after a failure half-way through start.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import {
  type ApiServer,
  type Containerd,
  createCleanup,
  createInstanceDir,
  createNetworkLab,
  type LabHost,
  run,
  startApiServer,
  startContainerd,
  waitFor,
} from "@kubenode/testkit";
import { type CriProxy, startCriProxy } from "./cri-proxy.js";
import { startTcpGate, type TcpGate } from "./tcp-gate.js";

export const NODE = "node-1";
const POD_SUBNET = "10.244.1.0/24";
const CLUSTER_CIDR = "10.244.0.0/16";

const require = createRequire(import.meta.url);

/** The built bin of a workspace package, as npm links it; a clear error when it is not built. */
function workspaceBin(pkg: string, bin: string): string {
  const dir = dirname(require.resolve(`${pkg}/package.json`));
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    bin?: Record<string, string>;
  };
  const path = join(dir, manifest.bin?.[bin] ?? "");
  if (!existsSync(path)) throw new Error(`${bin} is not built (${path} missing): run npx turbo run build`);
  return path;
}

/** A node agent process inside the node's network namespace. */
export interface Agent {
  readonly name: string;
  readonly pid: number;
  /** Its instance directory (on its command line, so testkit's sweep finds it after a crash). */
  readonly dir: string;
  readonly logFile: string;
  /** Whether the process is still running. */
  alive(): boolean;
  /** How it exited when nobody asked it to ("" while it runs or after a requested stop/kill). */
  crash(): string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after 15 s), and wait for the exit. */
  stop(): Promise<void>;
  /** The last lines of its log. */
  tail(lines?: number): string;
}

/** What a test file needs beyond the default node (each adds only to this file's rig). */
export interface NodeRigOptions {
  /** Extra KubeletConfiguration fields, as YAML `key: value` lines. */
  kubeletConfig?: readonly string[];
  /** Put a {@link CriProxy} between the kubelet and containerd (kube-proxy and the test dial containerd). */
  criProxy?: boolean;
  /** A static pod manifest directory (`staticPodPath`), as {@link NodeRig.manifestDir}. */
  staticPods?: boolean;
  /**
   * Mount a tmpfs of this many bytes on the kubelet's root dir and another on its pod log dir before
   * the kubelet starts (unmounted in stop()), so a test can fill them.
   */
  tmpfsBytes?: number;
}

export interface NodeRig {
  server: ApiServer;
  gate: TcpGate;
  /** Admin client straight to the simulator (the test's view, never black-holed). */
  admin: KubeClient;
  containerd: Containerd;
  node: LabHost;
  client: LabHost;
  kubelet: Agent;
  proxy: Agent;
  /** The kubelet's `--root-dir` and pod log directory (`podLogsDir`). */
  rootDir: string;
  podLogsDir: string;
  /** With `criProxy`: the proxy the kubelet dials instead of containerd. */
  criProxy?: CriProxy;
  /** With `staticPods`: the kubelet's `staticPodPath`. */
  manifestDir?: string;
  startKubelet(): Promise<Agent>;
  startProxy(): Promise<Agent>;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** GET through the node's network namespace; resolves with the body, rejects when nothing answers. */
  httpGet(url: string, from?: LabHost): Promise<string>;
  stop(): Promise<void>;
}

/** A kubeconfig of `identity` pointing at the gate instead of the simulator. */
async function gatedKubeconfig(server: ApiServer, gate: TcpGate, identity: string, dir: string) {
  const text = await readFile(await server.kubeconfigFor(identity), "utf8");
  const path = join(dir, "kubeconfig");
  const gated = text.replaceAll(`127.0.0.1:${server.port}`, `127.0.0.1:${gate.port}`);
  if (gated === text) throw new Error(`kubeconfig of ${identity} does not name 127.0.0.1:${server.port}`);
  await writeFile(path, gated, { mode: 0o600 });
  return path;
}

function startAgent(name: string, netns: string, dir: string, bin: string, args: string[]): Agent {
  const logFile = join(dir, "agent.log");
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn("nsenter", [`--net=/run/netns/${netns}`, "--", process.execPath, bin, ...args], {
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  let requested = false;
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = `${name} exited (${signal ?? `code ${code}`})`;
      resolve();
    }),
  );
  const tail = (lines = 15) => {
    try {
      return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };
  const signal = async (sig: NodeJS.Signals) => {
    requested = true;
    if (exit === undefined) child.kill(sig);
    await exited;
  };
  return {
    name,
    pid: child.pid ?? -1,
    dir,
    logFile,
    alive: () => exit === undefined,
    crash: () => (exit !== undefined && !requested ? `${exit}; log:\n${tail()}` : ""),
    kill: () => signal("SIGKILL"),
    async stop() {
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await signal("SIGTERM");
      clearTimeout(timer);
    },
    tail,
  };
}

export async function startNodeRig(options: NodeRigOptions = {}): Promise<NodeRig> {
  const cleanup = createCleanup();
  const stop = async () => {
    await cleanup.run();
  };
  try {
    // The agents' directories first, so they are removed last (after the agents, containerd and any
    // tmpfs mounted on them are gone). One directory per agent kind for the whole run: a restarted
    // kubelet finds its root dir again.
    const kubeletDir = await createInstanceDir("kubelet");
    cleanup.add("kubelet directory", async () => {
      // A kubelet that stops leaves its pods' volumes mounted (as upstream's does): unmount what
      // is still mounted under its directory, deepest first, before removing it.
      const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
        .split("\n")
        .map((l) => l.split(" ")[4] ?? "")
        .filter((m) => m.startsWith(`${kubeletDir}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await run(["umount", "-l", m]);
      await rm(kubeletDir, { recursive: true, force: true });
    });
    const proxyDir = await createInstanceDir("proxy");
    cleanup.add("kube-proxy directory", () => rm(proxyDir, { recursive: true, force: true }));
    const rootDir = join(kubeletDir, "root");
    const podLogsDir = join(kubeletDir, "pods");
    if (options.tmpfsBytes !== undefined) {
      for (const dir of [rootDir, podLogsDir]) {
        await mkdir(dir, { recursive: true, mode: 0o750 });
        await run(["mount", "-t", "tmpfs", "-o", `size=${options.tmpfsBytes},mode=0750`, "tmpfs", dir]);
        cleanup.add(`tmpfs on ${dir}`, async () => {
          await run(["umount", "--recursive", dir]);
        });
      }
    }
    const manifestDir = options.staticPods ? join(kubeletDir, "manifests") : undefined;
    if (manifestDir) await mkdir(manifestDir, { mode: 0o750 });

    const server = await startApiServer({ controllers: { nodeLifecycle: false } });
    cleanup.add("API server simulator", () => server.stop());
    const gate = await startTcpGate(server.port);
    cleanup.add("TCP gate", () => gate.close());
    const admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
    cleanup.add("admin client", () => admin.close());

    const lab = await createNetworkLab({ hosts: ["node", "client"] });
    cleanup.add("network namespaces and what still runs in them", () => lab.destroy());
    const node = lab.host("node");
    await node.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    // Service IPs leave through kube-proxy's rules rather than fail with "no route".
    await node.exec(["ip", "route", "add", "default", "dev", "eth0"]);
    await node.bridgeHostPort(gate.port);

    const containerd = await startContainerd({ netns: node.netns, podSubnet: POD_SUBNET });
    cleanup.add("containerd (its pods' containers, sandboxes, mounts, bridge)", () => containerd.stop());
    let criEndpoint = containerd.endpoint;
    let criProxy: CriProxy | undefined;
    if (options.criProxy) {
      const proxy = await startCriProxy(
        join(kubeletDir, "cri-proxy.sock"),
        containerd.endpoint.replace(/^unix:\/\//, ""),
      );
      cleanup.add("CRI proxy", () => proxy.close());
      criProxy = proxy;
      criEndpoint = proxy.endpoint;
    }

    const agents: Agent[] = [];
    cleanup.add("agents", async () => {
      for (const a of agents.splice(0)) await a.stop();
    });
    const kubeletBin = workspaceBin("@kubenode/kubelet", "kubenode-kubelet");
    const proxyBin = workspaceBin("@kubenode/kube-proxy", "kubenode-proxy");
    const kubeletKubeconfig = await gatedKubeconfig(server, gate, `system:node:${NODE}`, kubeletDir);
    const proxyKubeconfig = await gatedKubeconfig(server, gate, "system:kube-proxy", proxyDir);
    const kubeletConfig = join(kubeletDir, "config.yaml");
    await writeFile(
      kubeletConfig,
      [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        `podLogsDir: ${JSON.stringify(podLogsDir)}`,
        ...(manifestDir ? [`staticPodPath: ${JSON.stringify(manifestDir)}`] : []),
        ...(options.kubeletConfig ?? []),
        "",
      ].join("\n"),
    );

    const rig = {
      server,
      gate,
      admin,
      containerd,
      node,
      client: lab.host("client"),
      rootDir,
      podLogsDir,
      ...(criProxy ? { criProxy } : {}),
      ...(manifestDir ? { manifestDir } : {}),
      async startKubelet() {
        const agent = startAgent("kubelet", node.netns, kubeletDir, kubeletBin, [
          `--config=${kubeletConfig}`,
          `--kubeconfig=${kubeletKubeconfig}`,
          `--hostname-override=${NODE}`,
          `--node-ip=${node.ip}`,
          `--container-runtime-endpoint=${criEndpoint}`,
          `--root-dir=${rootDir}`,
        ]);
        agents.push(agent);
        rig.kubelet = agent;
        await waitFor(
          `node ${NODE} Ready (kubelet log: ${agent.logFile})`,
          async () => {
            if (!agent.alive()) throw new Error(agent.crash());
            const n = await admin
              .request<{ status?: { conditions?: { type: string; status: string }[] } }>({
                method: "GET",
                path: `/api/v1/nodes/${NODE}`,
              })
              .catch(() => undefined);
            return n?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
              ? true
              : undefined;
          },
          { timeoutMs: 90_000, intervalMs: 250 },
        );
        return agent;
      },
      async startProxy() {
        const agent = startAgent("kube-proxy", node.netns, proxyDir, proxyBin, [
          `--kubeconfig=${proxyKubeconfig}`,
          `--hostname-override=${NODE}`,
          "--proxy-mode=nftables",
          `--cluster-cidr=${CLUSTER_CIDR}`,
        ]);
        agents.push(agent);
        rig.proxy = agent;
        await waitFor(
          `kube-proxy healthz (log: ${agent.logFile})`,
          async () => {
            if (!agent.alive()) throw new Error(agent.crash());
            const r = await node
              .exec(["busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:10256/healthz"], {
                timeoutMs: 5_000,
              })
              .catch(() => undefined);
            return r ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        return agent;
      },
      async kubectl(args: readonly string[], input?: string) {
        return (
          await run(["kubectl", "--kubeconfig", server.kubeconfigPath, ...args], input ? { input } : {})
        ).stdout;
      },
      async httpGet(url: string, from: LabHost = node) {
        const { stdout } = await from.exec(["busybox", "wget", "-q", "-O", "-", url], { timeoutMs: 5_000 });
        return stdout;
      },
      stop,
    } as NodeRig;
    await rig.startKubelet();
    await rig.startProxy();
    // Keep the agents' logs of a failed run where the report can point at them.
    cleanup.add("agent logs copied next to the report", async () => {
      const reports = join(import.meta.dirname, "..", ".reports");
      await mkdir(reports, { recursive: true });
      for (const a of [rig.kubelet, rig.proxy]) {
        await copyFile(a.logFile, join(reports, `${a.name}.log`)).catch(() => {});
      }
    });
    return rig;
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
