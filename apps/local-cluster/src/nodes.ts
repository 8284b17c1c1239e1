import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type ApiServer,
  type Cleanup,
  type Containerd,
  createNetworkLab,
  type LabHost,
  type NetworkLab,
  type Registry,
  startContainerd,
} from "@kubenode/testkit";
import { type Agent, startAgent, workspaceBin } from "./agents.js";

/** Every node's pods get a /24 of this; kube-proxy's `--cluster-cidr`. */
export const CLUSTER_CIDR = "10.244.0.0/16";
/** The kubelet's `:10250` server (KubeletConfiguration `port`, upstream's default). */
export const KUBELET_PORT = 10250;
/** At most this many real nodes: each is a containerd, a kubelet and a kube-proxy on 2 shared cores. */
export const MAX_NODES = 5;

/** One node: a network namespace holding its containerd (and pod bridge), kubelet and kube-proxy. */
export interface DemoNode {
  readonly name: string;
  /** The node's network namespace: `eth0` on the lab switch, its pod bridge, its agents. */
  readonly host: LabHost;
  readonly podSubnet: string;
  containerd?: Containerd;
  /**
   * The host's loopback port leading to the kubelet's :10250 in the node's namespace: where the
   * host-side API server dials for `kubectl logs/exec/port-forward` and `nodes/<name>/proxy`.
   */
  kubeletPort?: number;
  kubelet?: Agent;
  proxy?: Agent;
}

/** The nodes and a client host, all network namespaces on one switch that lives in a namespace too. */
export interface NodeNetwork {
  readonly lab: NetworkLab;
  readonly nodes: DemoNode[];
  /** A host outside the cluster, for traffic to NodePorts. */
  readonly client: LabHost;
}

export function nodeName(i: number): string {
  return `kubenode-${i + 1}`;
}

/**
 * The namespaces of the nodes and of a client, joined by a switch. Each node routes every other
 * node's pod subnet through that node (what a CNI's host-gw mode programs), and has a default route
 * onto the switch so Service IPs leave through kube-proxy's rules rather than fail with "no route":
 * the switch is isolated, so nothing can reach the host's network or beyond.
 */
export async function createNodeNetwork(count: number, cleanup: Cleanup): Promise<NodeNetwork> {
  const names = Array.from({ length: count }, (_, i) => nodeName(i));
  const lab = await createNetworkLab({ hosts: [...names, "client"] });
  cleanup.add("node network namespaces and everything still running in them", () => lab.destroy());
  const nodes: DemoNode[] = names.map((name, i) => ({
    name,
    host: lab.host(name),
    podSubnet: `10.244.${i + 1}.0/24`,
  }));
  for (const node of nodes) {
    await node.host.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await node.host.exec(["ip", "route", "add", "default", "dev", "eth0"]);
    for (const other of nodes) {
      if (other !== node) await node.host.exec(["ip", "route", "add", other.podSubnet, "via", other.host.ip]);
    }
  }
  return { lab, nodes, client: lab.host("client") };
}

/**
 * A node's containerd, in the node's namespace with its own pod subnet; the API server's and the
 * registry's loopback ports are bridged in, so the kubelet and image pulls reach them at the same
 * 127.0.0.1 addresses as on the host.
 */
export async function startNodeRuntime(
  node: DemoNode,
  server: ApiServer,
  registry: Registry,
  logsDir: string,
  cleanup: Cleanup,
): Promise<Containerd> {
  await node.host.bridgeHostPort(server.port);
  await node.host.bridgeHostPort(Number(registry.host.split(":")[1]));
  const logFile = join(logsDir, `containerd-${node.name}.log`);
  const containerd = await startContainerd({ netns: node.host.netns, podSubnet: node.podSubnet }).catch(
    async (err: unknown) => {
      // testkit removed the failed instance with its log; keep what it reported where logs go.
      const why = err instanceof Error ? err.message : String(err);
      await writeFile(logFile, `${why}\n`);
      throw new Error(`containerd on ${node.name} did not start (see ${logFile}): ${why.split("\n")[0]}`, {
        cause: err,
      });
    },
  );
  node.containerd = containerd;
  cleanup.add(`containerd on ${node.name} (its pods' containers, network namespaces, mounts, bridge)`, () =>
    containerd.stop(),
  );
  // Runs before containerd stops (teardown is newest first), so the log outlives it.
  cleanup.add(`containerd log of ${node.name} copied to ${logsDir}`, () =>
    copyFile(containerd.logFile, logFile),
  );
  return containerd;
}

/**
 * Makes the node's kubelet server (:10250 on its IP, inside its namespace) reachable from the host
 * at a loopback port, for the API server's `kubeletDialer`: the simulator runs on the host, where
 * the node's 10.77.0.x address does not exist.
 */
export async function exposeKubelet(node: DemoNode, cleanup: Cleanup): Promise<number> {
  const exposed = await node.host.exposePort(KUBELET_PORT, node.host.ip);
  cleanup.add(`${node.name}'s kubelet port forwarder (127.0.0.1:${exposed.port})`, () => exposed.close());
  node.kubeletPort = exposed.port;
  return exposed.port;
}

/** `kubenode-kubelet`, the real binary, for one node. */
export async function startKubelet(
  node: DemoNode,
  server: ApiServer,
  logsDir: string,
  cleanup: Cleanup,
): Promise<Agent> {
  const containerd = node.containerd;
  if (!containerd) throw new Error(`${node.name} has no container runtime yet`);
  const kubeconfig = await server.kubeconfigFor(`system:node:${node.name}`);
  const kubelet = await startAgent({
    name: `kubelet on ${node.name}`,
    kind: "kubelet",
    netns: node.host.netns,
    bin: workspaceBin("@kubenode/kubelet", "kubenode-kubelet"),
    logFile: join(logsDir, `kubelet-${node.name}.log`),
    async args(dir) {
      const config = join(dir, "config.yaml");
      // The API server's CA: the kubelet then authenticates its kubelet-client certificate when it
      // proxies logs/exec/port-forward (kube-apiserver --kubelet-client-certificate, as kubeadm sets
      // up), and authorizes it with a SubjectAccessReview.
      const clientCA = join(dir, "client-ca.crt");
      await writeFile(clientCA, server.caPem ?? "");
      // Container logs (CRI log files) stay in the demo's logs directory after teardown.
      await writeFile(
        config,
        [
          "apiVersion: kubelet.config.k8s.io/v1beta1",
          "kind: KubeletConfiguration",
          `podLogsDir: ${JSON.stringify(join(logsDir, "pods", node.name))}`,
          `port: ${KUBELET_PORT}`,
          // Upstream's 1m; shorter here so the demo shows a configMap update reaching a running pod
          // in seconds (volumes are refreshed on each pod sync).
          "syncFrequency: 10s",
          "authentication:",
          "  x509:",
          `    clientCAFile: ${JSON.stringify(clientCA)}`,
          "",
        ].join("\n"),
      );
      return [
        `--config=${config}`,
        `--kubeconfig=${kubeconfig}`,
        `--hostname-override=${node.name}`,
        `--node-ip=${node.host.ip}`,
        `--container-runtime-endpoint=${containerd.endpoint}`,
        `--root-dir=${join(dir, "root")}`,
      ];
    },
  });
  node.kubelet = kubelet;
  cleanup.add(`kubelet on ${node.name} (pid ${kubelet.pid})`, () => kubelet.stop());
  return kubelet;
}

/** `kubenode-proxy`, the real binary (nftables mode), for one node. */
export async function startKubeProxy(
  node: DemoNode,
  server: ApiServer,
  logsDir: string,
  cleanup: Cleanup,
): Promise<Agent> {
  const kubeconfig = await server.kubeconfigFor("system:kube-proxy");
  const proxy = await startAgent({
    name: `kube-proxy on ${node.name}`,
    kind: "proxy",
    netns: node.host.netns,
    bin: workspaceBin("@kubenode/kube-proxy", "kubenode-proxy"),
    logFile: join(logsDir, `kube-proxy-${node.name}.log`),
    async args(dir) {
      const own = join(dir, "kubeconfig");
      await copyFile(kubeconfig, own);
      return [
        `--kubeconfig=${own}`,
        `--hostname-override=${node.name}`,
        "--proxy-mode=nftables",
        `--cluster-cidr=${CLUSTER_CIDR}`,
      ];
    },
  });
  node.proxy = proxy;
  cleanup.add(`kube-proxy on ${node.name} (pid ${proxy.pid})`, () => proxy.stop());
  return proxy;
}
