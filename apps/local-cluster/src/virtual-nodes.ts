import { createLeaseFleet, type LeaseFleet } from "@kubenode/heartbeat";
import { createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import { createNodeStatusReporter, type MachineInfo, type NodeStatusReporter } from "@kubenode/node-status";

/** Most virtual nodes the demo will simulate. */
export const MAX_VIRTUAL_NODES = 5000;

/** Taint that keeps workloads off nodes that cannot run them (kwok's is `kwok.x-k8s.io/node=fake`). */
export const VIRTUAL_NODE_TAINT = {
  key: "kubenode.dev/virtual",
  value: "true",
  effect: "NoSchedule",
} as const;

/** Simulated nodes: registered, reporting status and renewing leases, with no runtime behind them. */
export interface VirtualFleet {
  readonly names: readonly string[];
  /** Resolves once every node is registered. */
  registered(): Promise<void>;
  /** The lease fleet's counters (fresh, failing, renewals, failures, backlog). */
  summary(): ReturnType<LeaseFleet["summary"]>;
  stop(): Promise<void>;
}

// Every virtual node reports the same machine: no host reads per node.
const MACHINE: MachineInfo = {
  cpuCores: 8,
  memoryBytes: 32 * 2 ** 30,
  hugePagesBytes: {},
  ephemeralStorageBytes: 100 * 2 ** 30,
  machineID: "virtual",
  systemUUID: "virtual",
  bootID: "virtual",
  kernelVersion: "virtual",
  osImage: "kubenode virtual node",
  operatingSystem: "linux",
  architecture: "amd64",
};

export function virtualNodeName(i: number): string {
  return `virtual-${String(i + 1).padStart(4, "0")}`;
}

/**
 * `count` virtual nodes, kwok-style, from the same blocks a kubelet uses: one
 * `@kubenode/node-status` reporter per node (registration, capacity, conditions, 10 s cadence) and
 * one `@kubenode/heartbeat` lease fleet for all of them, sharing one API client. They are tainted
 * NoSchedule, so real workloads stay on the real nodes; a pod that tolerates the taint would be
 * scheduled there and never run (there is no runtime: that is the virtual kubelet's job).
 */
export function startVirtualNodes(kubeconfigPath: string, count: number): VirtualFleet {
  const concurrency = 32;
  // The admin identity: one fleet process writes every node's Node and Lease, which NodeRestriction
  // forbids a node identity from doing.
  const client: KubeClient = createKubeClient(loadKubeConfig({ path: kubeconfigPath }), {
    maxSockets: concurrency,
  });
  const names = Array.from({ length: count }, (_, i) => virtualNodeName(i));
  const reporters: NodeStatusReporter[] = names.map((nodeName, i) =>
    createNodeStatusReporter({
      client,
      nodeName,
      // 100.64.0.0/10 (shared address space): never dialed by anything here, as no pod runs there.
      nodeIPs: [`100.64.${(i >> 8) & 255}.${i & 255}`],
      providers: {
        machine: { machineInfo: async () => MACHINE },
        runtime: {
          version: async () => ({ name: "virtual", version: "1.0.0" }),
          status: async () => ({
            conditions: [
              { type: "RuntimeReady", status: true },
              { type: "NetworkReady", status: true },
            ],
          }),
        },
      },
      register: { labels: { type: "virtual" }, taints: [VIRTUAL_NODE_TAINT] },
      events: false,
    }),
  );
  const fleet = createLeaseFleet({ client, nodeNames: names, concurrency });
  // Registration is spread over the fleet's concurrency rather than 1000 POSTs at once.
  const registering = (async () => {
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < reporters.length; i = next++) await reporters[i]?.register();
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    for (const r of reporters) r.start();
    fleet.start();
  })();
  registering.catch(() => {});
  return {
    names,
    registered: () => registering,
    summary: () => fleet.summary(),
    async stop() {
      await registering.catch(() => {});
      await fleet.stop();
      await Promise.all(reporters.map((r) => r.stop()));
      client.close();
    },
  };
}
