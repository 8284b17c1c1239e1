import { mkdir, rm, writeFile } from "node:fs/promises";
import { get as httpGetOnHost } from "node:http";
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
import { kubectl, kubectlBackground } from "./kubectl.js";
import {
  createNodeNetwork,
  type DemoNode,
  exposeKubelet,
  KUBELET_PORT,
  MAX_NODES,
  type NodeNetwork,
  nodeName,
  startKubelet,
  startKubeProxy,
  startNodeRuntime,
} from "./nodes.js";
import { MAX_VIRTUAL_NODES, startVirtualNodes } from "./virtual-nodes.js";

type Log = (line: string) => void;

/** What the demo brought up, for the steps after the one that started it. */
interface Cluster {
  server: ApiServer;
  registry: Registry;
  network: NodeNetwork;
  /** `kubectl --kubeconfig <admin kubeconfig> ...` */
  k: (args: readonly string[], input?: string) => Promise<string>;
  /** The admin kubeconfig's path (for kubectl commands that keep running). */
  kubeconfig: string;
  clusterIP: string;
  nodePort: number;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** `<workspace>/.kubenode`: the admin kubeconfig is written here and component logs go to `logs/`. */
  stateDir: string;
  /** Real nodes (each a containerd, kubelet and kube-proxy in its own network namespace). Default 1. */
  nodes?: number;
  /** Simulated nodes (node-status + heartbeat, no runtime) added to the cluster, kwok-style. Default 0. */
  virtualNodes?: number;
  /** After the walkthrough, stay up until `signal` aborts (the user drives the cluster with kubectl). */
  keep?: boolean;
  out?: (line: string) => void;
  /** Aborting stops the demo between steps (or ends `keep`) and tears everything down. */
  signal?: AbortSignal;
}

// The web server every pod of the demo runs: busybox httpd, answering with the pod's name. The
// shell stays PID 1 and handles SIGTERM (PID 1 without a handler ignores it, and the pod would sit
// out its 30 s grace period) the way a well-behaved server does: it keeps serving for 3 s, while
// the EndpointSlice and then every kube-proxy drop it (minSyncPeriod 1 s), and then exits.
const WEB_COMMAND = [
  "sh",
  "-c",
  'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && echo "serving as $(hostname) on :8080"; trap "sleep 3; exit 0" TERM; httpd -f -v -p 8080 -h /www & wait',
];

/**
 * The local cluster: the API server simulator with its dev controllers, a registry, and nodes that
 * are network namespaces each running a private containerd, the real `kubenode-kubelet` and
 * `kubenode-proxy` processes; then a Deployment, a Service, scaling, a rolling update, kubectl
 * logs, exec and port-forward (through the API server to the kubelets' :10250), the kubelets'
 * stats and metrics through the nodes/proxy subresource, and a Job, all through kubectl. Everything started is stopped and removed at the end, also
 * on failure: every teardown step runs, and all teardown failures are reported together. Rejects
 * when a step or the teardown failed, naming the component and its log file.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const nodeCount = options.nodes ?? 1;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES)
    throw new Error(`--nodes must be a whole number from 1 to ${MAX_NODES}, got ${nodeCount}`);
  const virtualCount = options.virtualNodes ?? 0;
  if (!Number.isInteger(virtualCount) || virtualCount < 0 || virtualCount > MAX_VIRTUAL_NODES)
    throw new Error(
      `--virtual-nodes must be a whole number from 0 to ${MAX_VIRTUAL_NODES}, got ${virtualCount}`,
    );
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
  const runningWebPods = async () =>
    (
      JSON.parse(await (cluster as Cluster).k(["get", "pods", "-l", "app=web", "-o", "json"])) as {
        items: PodInfo[];
      }
    ).items.filter((p) => p.status?.phase === "Running" && !p.metadata.deletionTimestamp);
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
        // The simulator runs on the host; each kubelet listens on :10250 in its node's namespace, on an
        // address that only exists there. Nodes are mapped to the loopback port forwarded into
        // their namespace (set up with the node, below).
        const server = await startApiServer({
          kubeletDialer: ({ nodeName, port }) => {
            const node = cluster.network?.nodes.find((n) => n.name === nodeName);
            return node?.kubeletPort !== undefined && port === KUBELET_PORT
              ? { host: "127.0.0.1", port: node.kubeletPort }
              : undefined;
          },
        });
        cluster.server = server;
        cleanup.add("API server", () => server.stop());
        await writeFile(kubeconfigPath, server.kubeconfigText(), { mode: 0o600 });
        cleanup.add(`${kubeconfigPath} (its server is gone)`, () => rm(kubeconfigPath, { force: true }));
        cluster.k = (args, input) => kubectl(server.kubeconfigPath, args, input);
        cluster.kubeconfig = server.kubeconfigPath;
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
        await Promise.all(network.nodes.map((n) => exposeKubelet(n, cleanup)));
        for (const n of network.nodes)
          log(
            `${n.name}: network namespace ${n.host.netns}, IP ${n.host.ip}, pods on ${n.podSubnet} (containerd ${n.containerd?.dir}); its kubelet's ${n.host.ip}:${KUBELET_PORT} forwarded to the host's 127.0.0.1:${n.kubeletPort} for the API server`,
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
    ...(virtualCount > 0
      ? ([
          [
            `${virtualCount} virtual nodes (node-status + heartbeat lease fleet, no runtime; tainted NoSchedule)`,
            async (log) => {
              const { server, k } = cluster as Cluster;
              const started = performance.now();
              const fleet = startVirtualNodes(server.kubeconfigPath, virtualCount);
              cleanup.add(`${virtualCount} virtual nodes (status reporters, lease fleet)`, async () => {
                const s = fleet.summary();
                await fleet.stop();
                out(
                  `      virtual nodes: ${s.renewals} lease renewals, ${s.failures} failed, ${s.fresh}/${s.nodes} fresh at the end`,
                );
              });
              await fleet.registered();
              log(`${virtualCount} nodes registered in ${ms(started)}`);
              await waitFor(
                `${virtualCount} virtual nodes to be Ready`,
                async () => {
                  const ready = (await k(["get", "nodes", "-l", "type=virtual", "--no-headers"]))
                    .split("\n")
                    .filter((l) => /\sReady\s/.test(l)).length;
                  return ready === virtualCount ? true : undefined;
                },
                { timeoutMs: 300_000, intervalMs: 1_000 },
              );
              const s = fleet.summary();
              log(
                `all Ready ${ms(started)} after the start; leases so far (first writes spread over one 10 s renew interval): ${s.renewals} written, ${s.failures} failed`,
              );
              const listed = performance.now();
              const table = await k(["get", "nodes"]);
              const lines = table.trimEnd().split("\n");
              log(`kubectl get nodes: ${lines.length - 1} nodes in ${ms(listed)}; the first rows:`);
              printLines(log, lines.slice(0, 4 + nodeCount).join("\n"));
            },
          ],
        ] satisfies [string, (log: Log) => Promise<void>][])
      : []),
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
        await rollout(k, log, logsDir);
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
      nodeCount > 1
        ? "the pod network: pod to pod across nodes, and pod to Service"
        : "the pod network: pod to pod, and pod to Service",
      async (log) => {
        const { clusterIP } = cluster as Cluster;
        const pods = await runningWebPods();
        const [from, ...others] = pods;
        if (!from || others.length === 0) throw new Error("want at least two Running pods of web");
        const nodeOf = (p: PodInfo) => nodes().find((n) => n.name === p.spec.nodeName) as DemoNode;
        const targets = nodeCount > 1 ? others.filter((p) => p.spec.nodeName !== from.spec.nodeName) : others;
        for (const to of targets) {
          const body = await getFromPod(nodeOf(from), from, to.status?.podIP ?? "", 8080);
          log(
            `${from.metadata.name} (${from.spec.nodeName}, ${from.status?.podIP}) -> ${to.metadata.name} (${to.spec.nodeName}, ${to.status?.podIP}:8080): ${body}`,
          );
          if (body !== `hello from ${to.metadata.name}`)
            throw new Error(`${to.metadata.name} did not answer ${from.metadata.name}`);
        }
        const seen = await ask(10, () => getFromPod(nodeOf(from), from, clusterIP, 80));
        log(`10 requests from ${from.metadata.name} to the Service ${clusterIP}:80: ${spread(seen)}`);
      },
    ],
    [
      "scaling: kubectl scale deployment web --replicas=5",
      async (log) => {
        const { k, clusterIP } = cluster as Cluster;
        const started = performance.now();
        printLines(log, await k(["scale", "deployment", "web", "--replicas=5"]));
        await rollout(k, log, logsDir);
        const first = nodes()[0] as DemoNode;
        await waitFor(
          "the Service to spread over 5 pods",
          async () => {
            // A round counts once every one of the 5 pods answered and no request failed: a pod
            // without a readiness probe is Ready as soon as its container starts, maybe before
            // its server listens, so an early round may see a refusal.
            const seen = await ask(40, () => get(first.host, `http://${clusterIP}/`));
            const answered = answeringPods(seen);
            return answered === 5 && answered === Object.keys(seen).length ? seen : undefined;
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
        await rollout(k, log, logsDir);
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
    ...(nodeCount > 1
      ? ([
          [
            `kubectl drain ${nodeName(nodeCount - 1)}: its pods are evicted and recreated on the other nodes`,
            async (log) => {
              const { k } = cluster as Cluster;
              const node = nodeName(nodeCount - 1);
              const started = performance.now();
              printLines(log, await k(["drain", node, "--ignore-daemonsets", "--timeout=120s"]));
              await rollout(k, log, logsDir);
              const pods = await runningWebPods();
              const placement = pods.map((p) => `${p.metadata.name} on ${p.spec.nodeName}`).join(", ");
              if (pods.some((p) => p.spec.nodeName === node))
                throw new Error(`pods still on ${node}: ${placement}`);
              log(`drained and back to 5 Ready pods in ${ms(started)}: ${placement}`);
              printLines(log, await k(["uncordon", node]));
            },
          ],
        ] satisfies [string, (log: Log) => Promise<void>][])
      : []),
    [
      "kubectl logs, exec and port-forward (the API server proxies them to the pod's kubelet on :10250)",
      async (log) => {
        const { k, kubeconfig } = cluster as Cluster;
        const [pod] = await runningWebPods();
        if (!pod) throw new Error("no Running pod of web to show");
        const name = pod.metadata.name;
        const node = nodes().find((n) => n.name === pod.spec.nodeName) as DemoNode;
        const where = `(the kubelet on ${node.name}: ${node.kubelet?.logFile})`;
        const failing = (what: string) => (err: unknown) => {
          throw new Error(`${what} failed ${where}: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          });
        };
        let started = performance.now();
        const logs = await k(["logs", name, "--tail=3"]).catch(failing(`kubectl logs ${name}`));
        log(`$ kubectl logs ${name} --tail=3   (${ms(started)})`);
        printLines(log, logs);
        started = performance.now();
        const echoed = await k(["exec", name, "--", "echo", "hello from exec"]).catch(
          failing(`kubectl exec ${name}`),
        );
        log(`$ kubectl exec ${name} -- echo hello from exec   (${ms(started)})`);
        printLines(log, echoed);
        const uname = await k(["exec", name, "--", "sh", "-c", "echo $(hostname) runs $(uname -s)"]).catch(
          failing(`kubectl exec ${name}`),
        );
        printLines(log, uname);
        // A failing command's exit code comes back through the stream as it does from a real kubelet.
        const code = await k(["exec", name, "--", "sh", "-c", "exit 3"]).then(
          () => 0,
          (err: { code?: unknown }) => (typeof err.code === "number" ? err.code : -1),
        );
        log(`$ kubectl exec ${name} -- sh -c 'exit 3'   -> kubectl exits ${code}`);
        if (code !== 3) throw new Error(`kubectl exec of 'exit 3' exited ${code}, want 3 ${where}`);
        started = performance.now();
        const pf = kubectlBackground(kubeconfig, [
          "port-forward",
          `pod/${name}`,
          ":8080",
          "--address=127.0.0.1",
        ]);
        try {
          const port = await waitFor(
            `kubectl port-forward pod/${name} to listen ${where}`,
            async () => {
              if (pf.exited()) throw new Error(`kubectl port-forward exited: ${pf.stderr()}`);
              const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(pf.stdout());
              return m ? Number(m[1]) : undefined;
            },
            { timeoutMs: 30_000, intervalMs: 100 },
          );
          log(`$ kubectl port-forward pod/${name} :8080 --address=127.0.0.1`);
          printLines(log, pf.stdout());
          const body = await hostGet(`http://127.0.0.1:${port}/`);
          log(
            `GET http://127.0.0.1:${port}/ on this machine: ${body}   (${ms(started)} from the start of port-forward)`,
          );
          if (body !== `hello from ${name}`)
            throw new Error(`port-forward to ${name} answered ${JSON.stringify(body)}`);
        } finally {
          await pf.stop();
        }
      },
    ],
    [
      "each kubelet's stats and metrics through the API server: kubectl get --raw /api/v1/nodes/<node>/proxy/...",
      async (log) => {
        const { k } = cluster as Cluster;
        for (const n of nodes()) {
          const where = `(the kubelet on ${n.name}: ${n.kubelet?.logFile})`;
          const fail = (path: string) => (err: unknown) => {
            throw new Error(`${path} failed ${where}: ${err instanceof Error ? err.message : String(err)}`, {
              cause: err,
            });
          };
          let path = `/api/v1/nodes/${n.name}/proxy/stats/summary`;
          let started = performance.now();
          const summary = JSON.parse(await k(["get", "--raw", path]).catch(fail(path))) as StatsSummary;
          const mib = (b: number | undefined) => `${Math.round((b ?? 0) / 2 ** 20)} MiB`;
          log(`$ kubectl get --raw ${path}   (${ms(started)})`);
          log(
            `  node ${summary.node.nodeName}: CPU ${((summary.node.cpu?.usageNanoCores ?? 0) / 1e6).toFixed(0)}m, memory working set ${mib(summary.node.memory?.workingSetBytes)}; ${summary.pods.length} pods: ${summary.pods
              .map((p) => `${p.podRef.name} ${mib(p.memory?.workingSetBytes)}`)
              .join(", ")}`,
          );
          if (summary.node.nodeName !== n.name)
            throw new Error(`${path} answered for node ${summary.node.nodeName} ${where}`);
          path = `/api/v1/nodes/${n.name}/proxy/metrics`;
          started = performance.now();
          const metrics = await k(["get", "--raw", path]).catch(fail(path));
          const wanted = /^(kubelet_node_name|kubelet_running_pods|kubelet_running_containers)[{ ]/;
          const lines = metrics.split("\n").filter((l) => wanted.test(l));
          log(
            `$ kubectl get --raw ${path}   (${ms(started)}; ${metrics.split("\n").length} lines, of which:)`,
          );
          for (const l of lines) log(`  ${l}`);
          if (!lines.some((l) => l.startsWith(`kubelet_node_name{node="${n.name}"} 1`)))
            throw new Error(`${path} has no kubelet_node_name for ${n.name} ${where}`);
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
        log("$ kubectl logs job/count   (the pod has completed; its log is still served by the kubelet)");
        printLines(log, await k(["logs", "job/count"]));
      },
    ],
    [
      "a pod with a configMap volume and probes: kubectl create configmap, kubectl apply, kubectl patch",
      async (log) => {
        const { k, registry } = cluster as Cluster;
        printLines(
          log,
          await k(["create", "configmap", "site", "--from-literal=index.html=hello from a configMap"]),
        );
        const pod = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "site" },
          spec: {
            containers: [
              {
                name: "httpd",
                image: registry.busyboxRef,
                command: ["httpd", "-f", "-p", "8080", "-h", "/site"],
                volumeMounts: [{ name: "site", mountPath: "/site" }],
                readinessProbe: { httpGet: { path: "/index.html", port: 8080 }, periodSeconds: 2 },
                livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 },
              },
            ],
            volumes: [{ name: "site", configMap: { name: "site" } }],
          },
        };
        let started = performance.now();
        printLines(log, await k(["apply", "-f", "-"], JSON.stringify(pod)));
        await k(["wait", "--for=condition=Ready", "pod/site", "--timeout=120s"]);
        log(`Ready ${ms(started)} after the apply (the httpGet readiness probe answered)`);
        printLines(log, await k(["get", "pod", "site"]));
        const read = () => k(["exec", "site", "--", "cat", "/site/index.html"]);
        const containerId = () =>
          k(["get", "pod", "site", "-o", "jsonpath={.status.containerStatuses[0].containerID}"]);
        const before = await containerId();
        log(`$ kubectl exec site -- cat /site/index.html   -> ${await read()}`);
        started = performance.now();
        await k([
          "patch",
          "configmap",
          "site",
          "-p",
          JSON.stringify({ data: { "index.html": "hello again" } }),
        ]);
        log('$ kubectl patch configmap site -p \'{"data":{"index.html":"hello again"}}\'');
        const updated = await waitFor(
          "the configMap update in the running pod",
          async () => ((await read()) === "hello again" ? true : undefined),
          { timeoutMs: 90_000, intervalMs: 500 },
        ).then(
          () => ms(started),
          () => undefined,
        );
        if (updated === undefined)
          throw new Error("the configMap update did not reach /site/index.html in pod site within 90 s");
        const same = (await containerId()) === before;
        log(
          `the running pod reads "hello again" ${updated} after the patch (the kubelet swapped ..data; ${same ? "same container" : "the container was restarted"})`,
        );
        if (!same)
          throw new Error("pod site's container was replaced; a configMap update must reach it in place");
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
    out("(kubectl logs, exec, port-forward and get --raw /api/v1/nodes/<node>/proxy/stats/summary work too)");
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

/** The parts of the kubelet's Summary API (/stats/summary) the demo prints. */
interface StatsSummary {
  node: { nodeName: string; cpu?: { usageNanoCores?: number }; memory?: { workingSetBytes?: number } };
  pods: { podRef: { name: string }; memory?: { workingSetBytes?: number } }[];
}

interface PodInfo {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: { phase?: string; podIP?: string };
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

/** Runs a command in a pod's (first) container through the node's CRI, as the kubelet's /exec would. */
async function execInPod(
  node: DemoNode,
  pod: PodInfo,
  cmd: string[],
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const cri = createCriClient({ endpoint: node.containerd?.endpoint ?? "" });
  try {
    const { containers } = await cri.listContainers({
      filter: { labelSelector: { "io.kubernetes.pod.uid": pod.metadata.uid } },
    });
    const id = containers[0]?.id;
    if (!id) throw new Error(`no container of pod ${pod.metadata.name} in containerd on ${node.name}`);
    const r = await cri.execSync({ containerId: id, cmd, timeout: 10 });
    return {
      stdout: Buffer.from(r.stdout).toString(),
      stderr: Buffer.from(r.stderr).toString(),
      exitCode: r.exitCode,
    };
  } finally {
    cri.close();
  }
}

/** `GET /` on ip:port from inside a pod (busybox nc), resolving to the body or "(no answer)". */
async function getFromPod(node: DemoNode, pod: PodInfo, ip: string, port: number): Promise<string> {
  const r = await execInPod(node, pod, [
    "sh",
    "-c",
    `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} ${port}`,
  ]);
  const body = r.stdout.split("\r\n\r\n").slice(1).join("").trim();
  return body || "(no answer)";
}

/** The body of `GET url` on this machine (a port kubectl port-forward listens on); rejects unless 200. */
function hostGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGetOnHost(url, { timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`GET ${url}: ${res.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
    req.on("error", reject);
  });
}

function ms(since: number): string {
  const t = performance.now() - since;
  return t < 10_000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(1)} s`;
}

function printLines(log: Log, text: string): void {
  for (const line of text.trimEnd().split("\n")) if (line) log(`$ ${line}`);
}

/** `kubectl rollout status`, printed as it reports. */
async function rollout(k: Cluster["k"], log: Log, logsDir: string): Promise<void> {
  const text = await k(["rollout", "status", "deployment/web", "--timeout=180s"]).catch((err: unknown) => {
    throw new Error(
      `deployment web did not roll out (the kubelets run its pods: see ${join(logsDir, "kubelet-<node>.log")} and the pods' logs under ${join(logsDir, "pods")}): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  });
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

/** How many different pods answered among `seen` (failed requests are not pods). */
function answeringPods(seen: Record<string, number>): number {
  return Object.keys(seen).filter((b) => b.startsWith("hello from ")).length;
}

function spread(seen: Record<string, number>): string {
  const pods = Object.entries(seen).filter(([b]) => b.startsWith("hello from "));
  const others = Object.entries(seen).filter(([b]) => !b.startsWith("hello from "));
  return [
    `${pods.length} different pods answered (${pods.map(([b, n]) => `${b.slice("hello from ".length)} ${n}x`).join(", ")})`,
    ...others.map(([b, n]) => `${n}x ${b}`),
  ].join("; ");
}
