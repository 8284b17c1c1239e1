import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCriClient } from "@kubenode/cri-client";
import {
  type ApiServer,
  buildTestImages,
  canUseRealComponents,
  createCleanup,
  type LabHost,
  type Registry,
  startApiServer,
  startRegistry,
  waitFor,
} from "@kubenode/testkit";
import { kubectl } from "./kubectl.js";
import {
  createNodeNetwork,
  type DemoNode,
  MAX_NODES,
  type NodeNetwork,
  startKubelet,
  startKubeProxy,
  startNodeRuntime,
} from "./nodes.js";

type Log = (line: string) => void;

/** What the demo brought up, for the steps after the one that started it. */
interface Cluster {
  server: ApiServer;
  registry: Registry;
  network: NodeNetwork;
  /** `kubectl --kubeconfig <admin kubeconfig> ...` */
  k: (args: readonly string[], input?: string) => Promise<string>;
  clusterIP: string;
  nodePort: number;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** `<workspace>/.kubenode`: the admin kubeconfig is written here and component logs go to `logs/`. */
  stateDir: string;
  /** Real nodes (each a containerd, kubelet and kube-proxy in its own network namespace). Default 1. */
  nodes?: number;
  /** After the walkthrough, stay up until `signal` aborts (the user drives the cluster with kubectl). */
  keep?: boolean;
  out?: (line: string) => void;
  /** Aborting stops the demo between steps (or ends `keep`) and tears everything down. */
  signal?: AbortSignal;
}

// The web server every pod of the demo runs: busybox httpd, answering with the pod's name.
const WEB_COMMAND = [
  "sh",
  "-c",
  'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && echo "serving as $(hostname) on :8080" && exec httpd -f -v -p 8080 -h /www',
];

/**
 * The local cluster: the API server simulator with its dev controllers, a registry, and nodes that
 * are network namespaces each running a private containerd, the real `kubenode-kubelet` and
 * `kubenode-proxy` processes; then a Deployment, a Service, scaling, a rolling update, container
 * logs and a Job, all through kubectl. Everything started is stopped and removed at the end, also
 * on failure: every teardown step runs, and all teardown failures are reported together. Rejects
 * when a step or the teardown failed, naming the component and its log file.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const nodeCount = options.nodes ?? 1;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES)
    throw new Error(`--nodes must be a whole number from 1 to ${MAX_NODES}, got ${nodeCount}`);
  const logsDir = join(options.stateDir, "logs");
  const kubeconfigPath = join(options.stateDir, "kubeconfig");
  await rm(logsDir, { recursive: true, force: true });
  await mkdir(logsDir, { recursive: true });
  const cleanup = createCleanup();
  const cluster: Partial<Cluster> = {};
  // Any agent that exits on its own fails the step that is running, naming it and its log.
  let agentDied: (why: string) => void = () => {};
  const died = new Promise<never>((_, reject) => {
    agentDied = (why) => reject(new Error(why));
  });
  died.catch(() => {});
  const watch = (agent: { died: Promise<string> }) => void agent.died.then(agentDied);
  const nodes = () => (cluster as Cluster).network.nodes;
  const get = (host: LabHost, url: string) => httpGet(host, url);

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
      "API server simulator (HTTPS, client certificates, dev controllers incl. Deployments and Jobs)",
      async (log) => {
        const server = await startApiServer();
        cluster.server = server;
        cleanup.add("API server", () => server.stop());
        await writeFile(kubeconfigPath, server.kubeconfigText(), { mode: 0o600 });
        cleanup.add(`${kubeconfigPath} (its server is gone)`, () => rm(kubeconfigPath, { force: true }));
        cluster.k = (args, input) => kubectl(server.kubeconfigPath, args, input);
        log(`serving ${server.url}; admin kubeconfig written to ${kubeconfigPath}`);
      },
    ],
    [
      `${nodeCount === 1 ? "node namespace" : `${nodeCount} node namespaces`} with private containerd, and a private registry`,
      async (log) => {
        const { server } = cluster as Cluster;
        const [registry, network] = await Promise.all([
          startRegistry(),
          createNodeNetwork(nodeCount, cleanup),
        ]);
        cluster.registry = registry;
        cluster.network = network;
        cleanup.add("registry", () => registry.stop());
        log(`registry ${registry.url} with ${registry.busyboxRef}`);
        await Promise.all(network.nodes.map((n) => startNodeRuntime(n, server, registry, logsDir, cleanup)));
        for (const n of network.nodes)
          log(
            `${n.name}: network namespace ${n.host.netns}, IP ${n.host.ip}, pods on ${n.podSubnet} (containerd ${n.containerd?.dir})`,
          );
        if (nodeCount > 1) log("each node routes the other nodes' pod subnets through them");
      },
    ],
    [
      "kubenode-kubelet on every node (the real binary, as its own process)",
      async (log) => {
        const { server, k } = cluster as Cluster;
        const started = performance.now();
        for (const n of nodes()) {
          const kubelet = await startKubelet(n, server, logsDir, cleanup);
          watch(kubelet);
          log(`started ${kubelet.name}: pid ${kubelet.pid}, log ${kubelet.logFile}`);
        }
        for (const n of nodes()) {
          await waitFor(
            `node ${n.name} to be Ready (see ${n.kubelet?.logFile})`,
            async () => {
              const ready = await k([
                "get",
                "node",
                n.name,
                "-o",
                'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
              ]);
              return ready === "True" ? true : undefined;
            },
            { timeoutMs: 120_000, intervalMs: 250 },
          );
        }
        log(`all nodes Ready ${ms(started)} after the kubelets started`);
        printLines(log, await k(["get", "nodes", "-o", "wide"]));
      },
    ],
    [
      "kubenode-proxy on every node (nftables, in the node's namespace)",
      async (log) => {
        const { server } = cluster as Cluster;
        const started = performance.now();
        for (const n of nodes()) {
          const proxy = await startKubeProxy(n, server, logsDir, cleanup);
          watch(proxy);
          log(`started ${proxy.name}: pid ${proxy.pid}, log ${proxy.logFile}`);
        }
        for (const n of nodes()) {
          await waitFor(
            `kube-proxy on ${n.name} to be healthy (see ${n.proxy?.logFile})`,
            async () =>
              (await get(n.host, "http://127.0.0.1:10256/healthz")).includes("lastUpdated")
                ? true
                : undefined,
            { timeoutMs: 60_000, intervalMs: 250 },
          );
        }
        log(`healthz answers on every node ${ms(started)} after start`);
      },
    ],
    [
      "a Deployment: kubectl create deployment web --replicas=3",
      async (log) => {
        const { k, registry } = cluster as Cluster;
        const started = performance.now();
        const cmd = [
          "create",
          "deployment",
          "web",
          `--image=${registry.busyboxRef}`,
          "--replicas=3",
          "--port=8080",
          "--",
          ...WEB_COMMAND,
        ];
        log(`$ kubectl ${cmd.slice(0, 6).join(" ")} -- sh -c '...httpd -p 8080...'`);
        printLines(log, await k(cmd));
        await rollout(k, log);
        log(`3 pods Running and Ready ${ms(started)} after the create (image pulled from the registry)`);
        printLines(log, await k(["get", "pods", "-o", "wide"]));
      },
    ],
    [
      "a Service: kubectl expose deployment web --port=80 --target-port=8080 --type=NodePort",
      async (log) => {
        const c = cluster as Cluster;
        const started = performance.now();
        printLines(
          log,
          await c.k(["expose", "deployment", "web", "--port=80", "--target-port=8080", "--type=NodePort"]),
        );
        c.clusterIP = (await c.k(["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"])).trim();
        c.nodePort = Number(await c.k(["get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}"]));
        printLines(log, await c.k(["get", "service", "web"]));
        const first = nodes()[0] as DemoNode;
        await waitFor(
          `ClusterIP ${c.clusterIP}:80 to answer on ${first.name} (kube-proxy log ${first.proxy?.logFile})`,
          async () =>
            (await get(first.host, `http://${c.clusterIP}/`)).startsWith("hello") ? true : undefined,
          { timeoutMs: 60_000, intervalMs: 100 },
        );
        log(`ClusterIP answered ${ms(started)} after kubectl expose`);
        log(
          `20 requests to http://${c.clusterIP}/ from ${first.name}: ${spread(await ask(20, () => get(first.host, `http://${c.clusterIP}/`)))}`,
        );
        const { client } = c.network;
        for (const n of nodes()) {
          const url = `http://${n.host.ip}:${c.nodePort}/`;
          await waitFor(
            `NodePort ${url} to answer from the client (kube-proxy log ${n.proxy?.logFile})`,
            async () => ((await get(client, url)).startsWith("hello") ? true : undefined),
            { timeoutMs: 60_000, intervalMs: 100 },
          );
          log(
            `20 requests to NodePort ${url} from a client outside the cluster: ${spread(await ask(20, () => get(client, url)))}`,
          );
        }
      },
    ],
    [
      "scaling: kubectl scale deployment web --replicas=5",
      async (log) => {
        const { k, clusterIP } = cluster as Cluster;
        const started = performance.now();
        printLines(log, await k(["scale", "deployment", "web", "--replicas=5"]));
        await rollout(k, log);
        const first = nodes()[0] as DemoNode;
        await waitFor(
          "the Service to spread over 5 pods",
          async () => {
            const seen = await ask(40, () => get(first.host, `http://${clusterIP}/`));
            return Object.keys(seen).length === 5 ? seen : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 200 },
        ).then((seen) =>
          log(`5 pods answer through the ClusterIP ${ms(started)} after the scale: ${spread(seen)}`),
        );
      },
    ],
    [
      "a rolling update: kubectl set image (a second tag pushed to the registry)",
      async (log) => {
        const { k, registry, clusterIP } = cluster as Cluster;
        const { busybox } = await buildTestImages();
        const v2 = await registry.push(busybox, "kubenode/busybox:2.0");
        log(`pushed ${v2}`);
        const first = nodes()[0] as DemoNode;
        // Requests keep going through the ClusterIP while pods are replaced.
        const traffic = { ok: 0, failed: 0, running: true };
        const load = (async () => {
          while (traffic.running) {
            const body = await get(first.host, `http://${clusterIP}/`).catch(() => "");
            if (body.startsWith("hello")) traffic.ok++;
            else traffic.failed++;
          }
        })();
        const started = performance.now();
        printLines(log, await k(["set", "image", "deployment/web", `busybox=${v2}`]));
        await rollout(k, log);
        traffic.running = false;
        await load;
        log(
          `rolled out in ${ms(started)}; meanwhile ${traffic.ok} requests answered, ${traffic.failed} failed`,
        );
        printLines(log, await k(["get", "replicasets", "-l", "app=web", "-o", "wide"]));
        // The old pods are Terminating: busybox httpd as PID 1 ignores SIGTERM, so they get the
        // default 30 s grace period before SIGKILL, as on any cluster.
        printLines(log, await k(["get", "pods", "-l", "app=web"]));
      },
    ],
    [
      "container logs and exec",
      async (log) => {
        const { k } = cluster as Cluster;
        const pods = await k(["get", "pods", "-l", "app=web", "-o", "json"]);
        const pod = (JSON.parse(pods) as { items: PodInfo[] }).items.find(
          (p) => p.status?.phase === "Running",
        );
        if (!pod) throw new Error("no Running pod of web to show");
        const node = nodes().find((n) => n.name === pod.spec.nodeName) as DemoNode;
        // kubectl logs / exec go through the API server to the kubelet's :10250 server, which
        // kubenode-kubelet does not serve yet: the CRI log file and a CRI exec show the same.
        log(
          "kubectl logs and kubectl exec need the kubelet's :10250 server, which kubenode-kubelet does not have yet;",
        );
        log("shown instead: the container's CRI log file the kubelet set up, and an exec through CRI");
        const file = containerLog(logsDir, pod, "busybox");
        const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
        log(`${file} (${lines.length} lines, CRI format: time stream tag message):`);
        for (const l of lines.slice(0, 3)) log(`  ${l}`);
        const cri = createCriClient({ endpoint: node.containerd?.endpoint ?? "" });
        try {
          const { containers } = await cri.listContainers({
            filter: { labelSelector: { "io.kubernetes.pod.uid": pod.metadata.uid } },
          });
          const id = containers[0]?.id;
          if (!id) throw new Error(`no container of pod ${pod.metadata.name} in containerd on ${node.name}`);
          const r = await cri.execSync({
            containerId: id,
            cmd: ["sh", "-c", "echo $(hostname) runs $(uname -s)"],
            timeout: 10,
          });
          log(
            `exec in ${pod.metadata.name}: ${Buffer.from(r.stdout).toString().trim()} (exit ${r.exitCode})`,
          );
        } finally {
          cri.close();
        }
      },
    ],
    [
      "a Job to completion: kubectl create job",
      async (log) => {
        const { k, registry } = cluster as Cluster;
        const started = performance.now();
        printLines(
          log,
          await k([
            "create",
            "job",
            "count",
            `--image=${registry.busyboxRef}`,
            "--",
            "sh",
            "-c",
            "for i in 1 2 3; do echo step $i; done; echo done",
          ]),
        );
        await k(["wait", "--for=condition=complete", "job/count", "--timeout=120s"]);
        log(`Job complete ${ms(started)} after the create`);
        printLines(log, await k(["get", "job", "count"]));
        const pod = JSON.parse(await k(["get", "pods", "-l", "job-name=count", "-o", "json"]))
          .items[0] as PodInfo;
        printLines(log, await k(["get", "pod", pod.metadata.name]));
        const file = containerLog(logsDir, pod, "count");
        log(`its output, from ${file}:`);
        for (const l of (await readFile(file, "utf8")).trimEnd().split("\n")) log(`  ${l}`);
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
      await Promise.race([body((line) => out(`      ${line}`)), died]);
    } catch (error) {
      failure = { step, error };
      out(`      FAILED: ${error instanceof Error ? error.message : String(error)}`);
      break;
    }
    out(`      done in ${ms(started)}`);
  }

  if (!failure && options.keep && !options.signal?.aborted) {
    out(`the cluster is up; try: kubectl --kubeconfig ${kubeconfigPath} get nodes,pods -o wide`);
    out("Ctrl-C tears it down");
    await Promise.race([
      new Promise<void>((resolve) =>
        options.signal?.addEventListener("abort", () => resolve(), { once: true }),
      ),
      died.catch((error: unknown) => {
        failure = { step: "keeping the cluster up", error };
        out(`      FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }),
    ]);
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
      `${failure.step} failed: ${why}\n(logs of containerd, the kubelets, kube-proxies and the registry: ${logsDir})`,
      { cause: failure.error },
    );
  }
  if (teardownError !== undefined) throw teardownError;
}

interface PodInfo {
  metadata: { name: string; namespace: string; uid: string };
  spec: { nodeName?: string };
  status?: { phase?: string };
}

/**
 * The body of `GET url`, sent from inside a lab host's namespace with busybox nc (an HTTP/1.0
 * request on stdin; busybox wget crashes on refused connections). Rejects unless the status is 200.
 */
async function httpGet(host: LabHost, url: string): Promise<string> {
  const u = new URL(url);
  const request = `GET ${u.pathname} HTTP/1.0\r\nHost: ${u.host}\r\n\r\n`;
  const { stdout } = await host.exec(["busybox", "nc", "-w", "2", u.hostname, u.port || "80"], {
    input: request,
    timeoutMs: 10_000,
  });
  const [head = "", ...body] = stdout.split("\r\n\r\n");
  if (!/^HTTP\/1\.[01] 200 /.test(head))
    throw new Error(`GET ${url}: ${head.split("\r\n")[0] || "no answer"}`);
  return body.join("\r\n\r\n").trim();
}

/** The CRI log file of a pod's container (first run), where the kubelet has containerd write it. */
function containerLog(logsDir: string, pod: PodInfo, container: string): string {
  const dir = `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`;
  return join(logsDir, "pods", pod.spec.nodeName ?? "", dir, container, "0.log");
}

function ms(since: number): string {
  const t = performance.now() - since;
  return t < 10_000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(1)} s`;
}

function printLines(log: Log, text: string): void {
  for (const line of text.trimEnd().split("\n")) if (line) log(`$ ${line}`);
}

/** `kubectl rollout status`, printed as it reports. */
async function rollout(k: Cluster["k"], log: Log): Promise<void> {
  const text = await k(["rollout", "status", "deployment/web", "--timeout=180s"]);
  const lines = text.trimEnd().split("\n");
  log(`$ ${lines.at(-1)}`);
}

/** Answers of `n` sequential requests, counted by body. */
async function ask(n: number, get: () => Promise<string>): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const body = await get().catch(() => "(no answer)");
    seen[body] = (seen[body] ?? 0) + 1;
  }
  return seen;
}

function spread(seen: Record<string, number>): string {
  const pods = Object.entries(seen).filter(([b]) => b.startsWith("hello from "));
  const others = Object.entries(seen).filter(([b]) => !b.startsWith("hello from "));
  return [
    `${pods.length} different pods answered (${pods.map(([b, n]) => `${b.slice("hello from ".length)} ${n}x`).join(", ")})`,
    ...others.map(([b, n]) => `${n}x ${b}`),
  ].join("; ");
}
