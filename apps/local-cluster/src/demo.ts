import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type CriClient, createCriClient } from "@kubenode/cri-client";
import { createEvictionManager, createHostStatsProvider, parseThresholdConfig } from "@kubenode/eviction";
import { createLeaseController } from "@kubenode/heartbeat";
import { createKubeClient, loadKubeConfig } from "@kubenode/kube";
import { createNodeStatusReporter } from "@kubenode/node-status";
import {
  type ApiServer,
  type Containerd,
  canUseRealComponents,
  createCleanup,
  createNetworkLab,
  type Registry,
  startApiServer,
  startContainerd,
  startRegistry,
  waitFor,
} from "@kubenode/testkit";
import { criNodeStatusProviders } from "./cri-providers.js";
import { kubectl } from "./kubectl.js";

export const NODE_NAME = "kubenode-1";
// The kube-proxy sample app's binary, as built by the workspace.
const KUBE_PROXY = join(
  dirname(createRequire(import.meta.url).resolve("@kubenode/kube-proxy-app/package.json")),
  "dist",
  "main.js",
);
const CREDENTIALS = { username: "demo", password: "demo-password" };

type Log = (line: string) => void;

/** What the demo brought up, for the steps after the one that started it. */
interface Cluster {
  server: ApiServer;
  registry: Registry;
  containerd: Containerd;
  cri: CriClient;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where component logs are kept after the demo (they survive teardown). */
  logsDir: string;
  out?: (line: string) => void;
  /** Aborting stops the demo between steps and tears everything down. */
  signal?: AbortSignal;
}

/**
 * The local cluster demo: an API server simulator, a private registry and containerd, a node that
 * registers and heartbeats through the blocks, and a pod run through CRI. Everything started is
 * stopped and removed at the end, also on failure: every teardown step runs, and all teardown
 * failures are reported together. Rejects when a step or the teardown failed.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const { logsDir } = options;
  await rm(logsDir, { recursive: true, force: true });
  await mkdir(logsDir, { recursive: true });
  const cleanup = createCleanup();
  const cluster: Partial<Cluster> = {};
  const steps: [string, (log: Log) => Promise<void>][] = [
    [
      "host components (Debian packages, installed when missing)",
      async (log) => {
        if (!(await canUseRealComponents()))
          throw new Error("the demo needs root for containerd and network namespaces");
        log(
          "containerd, runc, CNI plugins, iptables, nftables, conntrack, iproute2, docker-registry, skopeo, umoci, busybox",
        );
      },
    ],
    [
      "API server simulator (HTTPS, client certificates, dev controllers)",
      async (log) => {
        const server = await startApiServer();
        cluster.server = server;
        cleanup.add("API server", () => server.stop());
        log(`serving ${server.url}; admin kubeconfig ${server.kubeconfigPath}`);
        for (const line of (await kubectl(server.kubeconfigPath, ["get", "namespaces"]))
          .trimEnd()
          .split("\n"))
          log(`$ ${line}`);
      },
    ],
    [
      "private registry (htpasswd auth) and private containerd (CRI, own CNI bridge)",
      async (log) => {
        const [registry, containerd] = await Promise.all([
          startRegistry({ auth: CREDENTIALS }),
          startContainerd(),
        ]);
        cluster.registry = registry;
        cluster.containerd = containerd;
        cleanup.add("registry", () => registry.stop());
        cleanup.add("containerd (containers, pod network namespaces, mounts, bridge)", () =>
          containerd.stop(),
        );
        // Runs before the components stop (teardown is newest first), so their logs outlive them.
        cleanup.add(`component logs copied to ${logsDir}`, () =>
          Promise.all([
            copyFile(containerd.logFile, join(logsDir, "containerd.log")),
            copyFile(join(registry.dir, "registry.log"), join(logsDir, "registry.log")),
          ]),
        );
        const cri = createCriClient({ endpoint: containerd.endpoint });
        cluster.cri = cri;
        cleanup.add("CRI connection", () => cri.close());
        const v = await cri.connect();
        log(`registry http://${registry.host}, image ${registry.busyboxRef}`);
        log(
          `containerd ${v.runtimeVersion} (CRI ${v.runtimeApiVersion}) at ${containerd.endpoint}, pods on ${containerd.podSubnet}`,
        );
      },
    ],
    [
      `node ${NODE_NAME} joins: node-status + heartbeat + eviction signals, runtime facts over CRI`,
      async (log) => {
        const { server, cri } = cluster as Cluster;
        const client = createKubeClient(
          loadKubeConfig({ path: await server.kubeconfigFor(`system:node:${NODE_NAME}`) }),
        );
        cleanup.add("node API client", () => client.close());
        const eviction = createEvictionManager({
          thresholds: parseThresholdConfig({}),
          stats: createHostStatsProvider({ rootDir: "/" }),
          pods: { activePods: () => [] },
          killer: {
            killPod: async () => {
              throw new Error("the demo node runs no kubelet-managed pods");
            },
          },
        });
        await eviction.synchronize();
        const reporter = createNodeStatusReporter({
          client,
          nodeName: NODE_NAME,
          providers: {
            ...criNodeStatusProviders(cri),
            pressure: {
              pressure: async () => ({
                memory: eviction.isUnderMemoryPressure(),
                disk: eviction.isUnderDiskPressure(),
                pid: eviction.isUnderPIDPressure(),
              }),
            },
          },
        });
        const lease = createLeaseController({ client, nodeName: NODE_NAME });
        reporter.start();
        lease.start();
        cleanup.add("node status reporter", () => reporter.stop());
        cleanup.add("lease controller", () => lease.stop());
        await reporter.registered();
        await reporter.sync();
        await lease.sync();
        for (const line of (await kubectl(server.kubeconfigPath, ["get", "nodes", "-o", "wide"]))
          .trimEnd()
          .split("\n")) {
          log(`$ ${line}`);
        }
        const conditions = await kubectl(server.kubeconfigPath, [
          "get",
          "node",
          NODE_NAME,
          "-o",
          'jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}){"\\n"}{end}',
        ]);
        for (const line of conditions.trimEnd().split("\n")) log(`  ${line}`);
        const holder = await kubectl(server.kubeconfigPath, [
          "get",
          "lease",
          "-n",
          "kube-node-lease",
          NODE_NAME,
          "-o",
          "jsonpath=holder {.spec.holderIdentity}, duration {.spec.leaseDurationSeconds}s, renewed {.spec.renewTime}",
        ]);
        log(`lease kube-node-lease/${NODE_NAME}: ${holder}`);
      },
    ],
    [
      "a pod through CRI: pull with credentials, sandbox on the pod network, HTTP server, exec",
      async (log) => {
        const { cri, registry } = cluster as Cluster;
        const image = registry.busyboxRef;
        await cri.pullImage({
          image: { image },
          auth: { username: CREDENTIALS.username, password: CREDENTIALS.password },
        });
        log(`pulled ${image} with credentials`);
        const logDirectory = join(logsDir, "pods", "default_web");
        await mkdir(logDirectory, { recursive: true });
        const sandboxConfig = {
          metadata: { name: "web", namespace: "default", uid: randomUUID(), attempt: 0 },
          hostname: "web",
          logDirectory,
        };
        const { podSandboxId } = await cri.runPodSandbox({ config: sandboxConfig });
        cleanup.add("pod web (sandbox and container)", async () => {
          await cri.stopPodSandbox({ podSandboxId });
          await cri.removePodSandbox({ podSandboxId });
        });
        const { status } = await cri.podSandboxStatus({ podSandboxId });
        const podIP = status?.network?.ip ?? "";
        log(`sandbox ${podSandboxId.slice(0, 12)} has pod IP ${podIP}`);
        const { containerId } = await cri.createContainer({
          podSandboxId,
          sandboxConfig,
          config: {
            metadata: { name: "httpd", attempt: 0 },
            image: { image },
            command: [
              "sh",
              "-c",
              'mkdir -p /www && echo "hello from pod web" > /www/index.html && exec httpd -f -p 8080 -h /www',
            ],
            logPath: "httpd.log",
          },
        });
        await cri.startContainer({ containerId });
        const body = await fetchWithRetry(`http://${podIP}:8080/`);
        log(`GET http://${podIP}:8080/ -> ${body.trim()}`);
        const exec = await cri.execSync({
          containerId,
          cmd: ["sh", "-c", "echo $(hostname) runs $(uname -s)"],
          timeout: 10,
        });
        log(`exec in container: ${Buffer.from(exec.stdout).toString().trim()} (exit ${exec.exitCode})`);
      },
    ],
    [
      "kubenode-proxy (nftables) in a node namespace: a Service made with kubectl answers on its ClusterIP",
      async (log) => {
        const { server } = cluster as Cluster;
        const lab = await createNetworkLab({ hosts: ["node", "web1", "web2"] });
        cleanup.add("kube-proxy, backends and their network namespaces", () => lab.destroy());
        const node = lab.host("node");
        // Like a real node: a default route, so Service IPs leave through the rules, not "no route".
        await node.exec(["ip", "route", "add", "default", "dev", "eth0"]);
        for (const name of ["web1", "web2"]) {
          const web = lab.host(name);
          web.spawn(["busybox", "nc", "-ll", "-p", "8080", "-e", "echo", `hello from ${name}`]);
          await web.waitForListening(8080);
        }
        // The simulator listens on the host's loopback; bridge its port into the node namespace.
        await node.bridgeHostPort(Number(new URL(server.url).port));
        const proxy = node.spawn([
          process.execPath,
          KUBE_PROXY,
          `--kubeconfig=${server.kubeconfigPath}`,
          "--hostname-override=node",
          "--proxy-mode=nftables",
          "--cluster-cidr=10.244.0.0/16",
        ]);
        const proxyLog = createWriteStream(join(logsDir, "kube-proxy.log"));
        proxy.stdout?.pipe(proxyLog);
        proxy.stderr?.pipe(proxyLog);
        const manifest = serviceManifest(lab.host("web1").ip, lab.host("web2").ip);
        await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], manifest);
        const clusterIP = (
          await kubectl(server.kubeconfigPath, ["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"])
        ).trim();
        log(
          `kubectl apply: service/web (ClusterIP ${clusterIP}:80) and endpointslice/web-1 -> ${lab.host("web1").ip}, ${lab.host("web2").ip}`,
        );
        const ask = async () =>
          (
            await node.exec(["busybox", "nc", "-w", "1", clusterIP, "80"]).catch(() => ({ stdout: "" }))
          ).stdout.trim();
        const started = performance.now();
        await waitFor(
          `ClusterIP ${clusterIP}:80 to answer`,
          async () => ((await ask()).startsWith("hello") ? true : undefined),
          { timeoutMs: 30_000, intervalMs: 100 },
        );
        log(
          `ClusterIP answered ${Math.round(performance.now() - started)} ms after the apply (kube-proxy started just before)`,
        );
        const answers: Record<string, number> = {};
        for (let i = 0; i < 20; i++) {
          const a = await ask();
          answers[a] = (answers[a] ?? 0) + 1;
        }
        log(
          `20 connections to ${clusterIP}:80 -> ${Object.entries(answers)
            .map(([a, n]) => `${n}x "${a}"`)
            .join(", ")}`,
        );
        const table = (await node.exec(["nft", "list", "table", "ip", "kube-proxy"])).stdout;
        const chains = table.match(/^\s*chain /gm)?.length ?? 0;
        log(`nftables table ip kube-proxy in the node namespace: ${chains} chains`);
      },
    ],
  ];

  let failure: { step: string; error: unknown } | undefined;
  for (const [i, [title, body]] of steps.entries()) {
    const step = `[${i + 1}/${steps.length}] ${title}`;
    if (options.signal?.aborted) {
      failure = { step, error: new Error("interrupted before this step") };
      break;
    }
    const started = performance.now();
    out(step);
    try {
      await body((line) => out(`      ${line}`));
    } catch (error) {
      failure = { step, error };
      out(`      FAILED: ${error instanceof Error ? error.message : String(error)}`);
      break;
    }
    out(`      done in ${Math.round(performance.now() - started)} ms`);
  }

  out("tearing down");
  let teardownError: unknown;
  const done = await cleanup.run().catch((err: unknown) => {
    teardownError = err;
    return [];
  });
  for (const what of done) out(`      done: ${what}`);
  if (teardownError !== undefined)
    out(`      ${teardownError instanceof Error ? teardownError.message : String(teardownError)}`);
  out(`logs: ${logsDir}`);
  if (failure) {
    const why = failure.error instanceof Error ? failure.error.message : String(failure.error);
    throw new Error(
      `${failure.step} failed: ${why}\n(logs of containerd, the registry and kube-proxy: ${logsDir})`,
      {
        cause: failure.error,
      },
    );
  }
  if (teardownError !== undefined) throw teardownError;
}

/** A selector-less Service and the EndpointSlice a controller would make for two backends. */
function serviceManifest(ip1: string, ip2: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web", namespace: "default" },
        spec: { ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] },
      },
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "web-1", namespace: "default", labels: { "kubernetes.io/service-name": "web" } },
        addressType: "IPv4",
        ports: [{ name: "http", port: 8080, protocol: "TCP" }],
        endpoints: [ip1, ip2].map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
      },
    ],
  });
}

/** The pod's HTTP server takes a moment to bind after StartContainer returns. */
function fetchWithRetry(url: string): Promise<string> {
  return waitFor(
    `${url} to answer`,
    async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) })).text(),
    {
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  );
}
