// The node module: wires the blocks that keep this Node alive in the API (node-status registration
// and status, heartbeat's Lease, eviction's manager) to the kubelet's runtime and pod workers, and
// decides pod admission against the Node (resources, affinity, taints, node pressure).
import type { CriClient } from "@kubenode/cri-client";
import {
  createEvictionManager,
  createHostStatsProvider,
  DEFAULT_EVICTION_HARD,
  type EventRecorder,
  type EvictionManager,
  type EvictionPod,
  type EvictionThresholdConfig,
  hasDedicatedImageFs,
  type KillRequest,
  parseThresholdConfig,
  type ReclaimHooks,
  type StatsProvider,
} from "@kubenode/eviction";
import { createLeaseController, type LeaseController } from "@kubenode/heartbeat";
import {
  type Clock,
  createInformer,
  createRealClock,
  type Informer,
  type KubeClient,
  type Logger,
  silentLogger,
} from "@kubenode/kube";
import {
  buildInitialNode,
  computeNodeStatus,
  createHostMachineInfoProvider,
  createNodeStatusReporter,
  type MachineInfoProvider,
  type Node,
  type NodeStatusReporter,
  type ReservedResources,
  type RuntimeInfoProvider,
  type Taint,
} from "@kubenode/node-status";
import type { Pod, PodStatus } from "../api.js";
import type { AdmitResult, Kubelet } from "../kubelet.js";
import type { PodRuntime } from "../runtime/types.js";
import { admitPod } from "./admission.js";
import { createCriPodStatsSource, criImageFsMountpoint, criImageFsStats } from "./cri-stats.js";
import { createApiEventRecorder } from "./events.js";
import { createSysctlAllowlist } from "./sysctls.js";
import { withEmptyDirUsage } from "./volume-stats.js";

/** Node settings, from KubeletConfiguration and the kubelet's flags. */
export interface NodeModuleConfig {
  /** `maxPods`; default 110. */
  maxPods?: number;
  /** `registerNode`; false adopts a Node an administrator created. Default true. */
  registerNode?: boolean;
  /** `registerWithTaints`, applied when the Node is created. */
  registerWithTaints?: Taint[];
  /** `--node-labels`, added when the Node is created. */
  nodeLabels?: Record<string, string>;
  /** `--node-ip`. */
  nodeIPs?: string[];
  kubeReserved?: ReservedResources;
  systemReserved?: ReservedResources;
  /** Eviction thresholds (KubeletConfiguration maps or flag syntax). */
  eviction?: EvictionThresholdConfig;
  /** `evictionPressureTransitionPeriod`; default 5 min. */
  evictionPressureTransitionPeriodMs?: number;
  /** `evictionMaxPodGracePeriod`; default 0. */
  evictionMaxPodGracePeriodSeconds?: number;
  localStorageCapacityIsolation?: boolean;
  /** `nodeStatusUpdateFrequency`; default 10 s. */
  nodeStatusUpdateFrequencyMs?: number;
  /** `nodeStatusReportFrequency`; default 5 min. */
  nodeStatusReportFrequencyMs?: number;
  /** `nodeLeaseDurationSeconds`; default 40. */
  nodeLeaseDurationSeconds?: number;
  /** `nodeStatusMaxImages`; default 50. */
  nodeStatusMaxImages?: number;
  /** nodeInfo.kubeletVersion. */
  kubeletVersion?: string;
  /** `port`, reported in daemonEndpoints; default 10250. */
  kubeletPort?: number;
  /** `--root-dir`: its filesystem is nodefs. Default /var/lib/kubelet. */
  rootDir?: string;
  /** Cgroup of all pods, for allocatableMemory.available; omitted: that signal is not observed. */
  podsCgroup?: string;
  /** `allowedUnsafeSysctls`: names or `prefix*` patterns allowed beside the safe sysctls. */
  allowedUnsafeSysctls?: string[];
}

/** What the node module needs of the kubelet. */
export type NodeKubelet = Pick<Kubelet, "activePods" | "killPod" | "plegHealth">;

/** Options of {@link createNodeModule}. */
export interface NodeModuleOptions {
  nodeName: string;
  /** The node's API client; absent = standalone (no Node, no Lease; eviction and admission still run). */
  client?: KubeClient;
  /** Runtime version and health for nodeInfo and the Ready condition. */
  runtime: Pick<PodRuntime, "version" | "health">;
  /** CRI client for the node's images, pod/container stats and the image filesystem. */
  cri?: CriClient;
  /** The kubelet: its active pods (ranking, admission), pod killer (eviction) and PLEG health (Ready). */
  kubelet: NodeKubelet;
  config?: NodeModuleConfig;
  /** Node-level reclaim tried before evicting for disk pressure (container and image GC). */
  reclaim?: ReclaimHooks;
  /** Replaces the host machine-info reader (tests, virtual nodes). */
  machine?: MachineInfoProvider;
  /** Replaces the host + CRI stats provider of the eviction manager. */
  stats?: StatsProvider;
  /** Eviction monitoring period; default 10 s (upstream's housekeeping of the eviction manager). */
  evictionIntervalMs?: number;
  /** More reasons the node may not be Ready (e.g. graceful shutdown's "node is shutting down"). */
  readinessChecks?: (() => string | undefined)[];
  clock?: Clock;
  logger?: Logger;
}

/** The running node module. */
export interface NodeModule {
  /**
   * Starts the status reporter (registering the Node, or adopting it with registerNode=false),
   * the Lease controller and the eviction manager's loop.
   */
  start(): void;
  /** Stops every loop; resolves when all have finished, with every failure reported together. */
  stop(): Promise<void>;
  /**
   * The admission check to add to the kubelet: eviction's (node pressure) first, then sysctls,
   * then the predicate admit handler against the current Node, as upstream orders them.
   */
  admit(pod: Pod, activePods: readonly Pod[]): Promise<AdmitResult>;
  /** The Node as last read or written; in standalone mode the locally computed one. */
  node(): Node | undefined;
  readonly eviction: EvictionManager;
  /** Absent in standalone mode. */
  readonly status: NodeStatusReporter | undefined;
  readonly lease: LeaseController | undefined;
}

function effectiveEvictionHard(cfg: EvictionThresholdConfig | undefined): Record<string, string> {
  const user = cfg?.evictionHard;
  if (user === undefined) return { ...DEFAULT_EVICTION_HARD };
  // Only the map form is used by the kubelet's config; flag syntax is parsed into a map first.
  const map = typeof user === "string" ? {} : user;
  return cfg?.mergeDefaultEvictionSettings ? { ...DEFAULT_EVICTION_HARD, ...map } : { ...map };
}

function evictionStatus(req: KillRequest, nowIso: string): PodStatus {
  return {
    phase: req.status.phase,
    reason: req.status.reason,
    message: req.status.message,
    conditions: req.status.conditions.map((c) => ({ ...c, lastTransitionTime: nowIso })),
  };
}

/**
 * Creates the node module. It makes no API call until {@link NodeModule.start}.
 * @throws EvictionError for invalid eviction thresholds (validate the configuration first).
 * @throws RangeError for an allowedUnsafeSysctls pattern that is malformed or not namespaced.
 */
export function createNodeModule(options: NodeModuleOptions): NodeModule {
  const { nodeName, client, kubelet, cri } = options;
  const cfg = options.config ?? {};
  const clock = options.clock ?? createRealClock();
  const logger = (options.logger ?? silentLogger).withName("node");
  const rootDir = cfg.rootDir ?? "/var/lib/kubelet";
  const machine = options.machine ?? createHostMachineInfoProvider({ rootDir });
  const thresholds = parseThresholdConfig(cfg.eviction ?? {});
  const hard = effectiveEvictionHard(cfg.eviction);
  const sysctls = createSysctlAllowlist(cfg.allowedUnsafeSysctls ?? []);

  // Ready from the runtime: with a CRI client, its Status conditions as node-status formats them
  // (`container runtime network not ready: NetworkReady=false reason:... message:...`); with only a
  // runtime module (a virtual node), its health message, already worded that way, as a readiness error.
  const runtimeInfo: RuntimeInfoProvider = {
    async version() {
      const v = await options.runtime.version();
      return { name: v.runtimeName, version: v.runtimeVersion };
    },
    async status() {
      if (!cri) {
        await options.runtime.health();
        return {
          conditions: [
            { type: "RuntimeReady", status: true },
            { type: "NetworkReady", status: true },
          ],
        };
      }
      const { status } = await cri.status({});
      return {
        conditions: (status?.conditions ?? []).map((c) => ({
          type: c.type,
          status: c.status,
          reason: c.reason,
          message: c.message,
        })),
      };
    },
  };
  const runtimeModuleReadiness = async () => {
    const h = await options.runtime.health();
    if (h.runtimeReady && h.networkReady) return undefined;
    return (
      h.message ?? (h.runtimeReady ? "container runtime network not ready" : "container runtime not ready")
    );
  };
  const statusConfig = {
    nodeName,
    maxPods: cfg.maxPods ?? 110,
    ...(cfg.kubeletVersion ? { kubeletVersion: cfg.kubeletVersion } : {}),
    ...(cfg.kubeReserved ? { kubeReserved: cfg.kubeReserved } : {}),
    ...(cfg.systemReserved ? { systemReserved: cfg.systemReserved } : {}),
    // Allocatable subtracts the hard memory and nodefs thresholds in force ("0" when none).
    evictionHard: {
      "memory.available": hard["memory.available"] ?? "0",
      "nodefs.available": hard["nodefs.available"] ?? "0",
    },
    kubeletPort: cfg.kubeletPort ?? 10250,
    maxImages: cfg.nodeStatusMaxImages ?? 50,
  };

  const stats =
    options.stats ??
    createHostStatsProvider({
      rootDir,
      clock,
      ...(cfg.podsCgroup ? { podsCgroup: cfg.podsCgroup } : {}),
      ...(cri
        ? {
            pods: withEmptyDirUsage(
              createCriPodStatsSource(cri, (err) =>
                logger.v(4, "ListPodSandboxStats failed, using ListContainerStats", {
                  err: err instanceof Error ? err.message : String(err),
                }),
              ),
              rootDir,
            ),
            imageFs: () => criImageFsStats(cri, clock.now()),
          }
        : {}),
    });
  const recorder: EventRecorder | undefined = client
    ? createApiEventRecorder(client, nodeName, clock)
    : undefined;

  const eviction = createEvictionManager({
    thresholds,
    stats,
    clock,
    nodeName,
    logger: logger.withName("eviction"),
    pods: { activePods: () => kubelet.activePods() as EvictionPod[] },
    killer: {
      async killPod(req) {
        const pod = req.pod as Pod;
        logger.info("Evicting pod", {
          pod: `${pod.metadata.namespace}/${pod.metadata.name}`,
          signal: req.signal,
        });
        await kubelet.killPod(pod, {
          gracePeriodSeconds: req.gracePeriodSeconds,
          status: evictionStatus(req, new Date(clock.now()).toISOString().replace(/\.\d+Z$/, "Z")),
        });
      },
    },
    podCleanedUp: (pod) => !kubelet.activePods().some((p) => p.metadata.uid === pod.metadata?.uid),
    reclaim: options.reclaim,
    recorder,
    ...(options.evictionIntervalMs ? { monitoringIntervalMs: options.evictionIntervalMs } : {}),
    pressureTransitionPeriodMs: cfg.evictionPressureTransitionPeriodMs,
    maxPodGracePeriodSeconds: cfg.evictionMaxPodGracePeriodSeconds,
    localStorageCapacityIsolation: cfg.localStorageCapacityIsolation,
    ...(cri
      ? {
          dedicatedImageFs: async () => {
            const mount = await criImageFsMountpoint(cri);
            return mount ? hasDedicatedImageFs(rootDir, mount) : false;
          },
        }
      : {}),
  });

  const pressure = {
    async pressure() {
      return {
        memory: eviction.isUnderMemoryPressure(),
        disk: eviction.isUnderDiskPressure(),
        pid: eviction.isUnderPIDPressure(),
      };
    },
  };
  const plegReadiness = () => {
    const h = kubelet.plegHealth();
    return h.healthy ? undefined : (h.message ?? "PLEG is not healthy");
  };

  const status = client
    ? createNodeStatusReporter({
        ...statusConfig,
        client,
        clock,
        register:
          cfg.registerNode === false
            ? false
            : {
                ...(cfg.nodeLabels ? { labels: cfg.nodeLabels } : {}),
                ...(cfg.registerWithTaints ? { taints: cfg.registerWithTaints } : {}),
              },
        ...(cfg.nodeIPs?.length ? { nodeIPs: cfg.nodeIPs } : {}),
        ...(cfg.nodeStatusUpdateFrequencyMs ? { updateFrequencyMs: cfg.nodeStatusUpdateFrequencyMs } : {}),
        ...(cfg.nodeStatusReportFrequencyMs ? { reportFrequencyMs: cfg.nodeStatusReportFrequencyMs } : {}),
        providers: {
          machine,
          runtime: runtimeInfo,
          pressure,
          readinessChecks: [
            ...(cri ? [plegReadiness] : [runtimeModuleReadiness, plegReadiness]),
            ...(options.readinessChecks ?? []),
          ],
          ...(cri
            ? {
                images: {
                  async listImages() {
                    const { images } = await cri.listImages({});
                    // An image is known by its tags and digests (the kubelet's image list).
                    return images.map((img) => ({
                      names: [...img.repoTags, ...img.repoDigests],
                      sizeBytes: Number(img.size),
                    }));
                  },
                },
              }
            : {}),
        },
        logger,
      })
    : undefined;

  const lease = client
    ? createLeaseController({
        client: heartbeatClient(client, cfg.nodeStatusUpdateFrequencyMs ?? 10_000),
        nodeName,
        clock,
        ...(cfg.nodeLeaseDurationSeconds ? { leaseDurationSeconds: cfg.nodeLeaseDurationSeconds } : {}),
        logger,
        onRepeatedFailure: () => {
          // Upstream's onRepeatedHeartbeatFailure (closeAllConns): a connection to an API server
          // that stopped answering never fails by itself, so open watches would wait for their own
          // timeout (minutes) before the pods created meanwhile are seen.
          logger.warn("Node lease renewal keeps failing, closing every API connection", { node: nodeName });
          client.close();
        },
      })
    : undefined;

  // The Node before the API has one (or in standalone mode): computed locally, as upstream's
  // initialNode, so admission has allocatable to check against from the first pod.
  let localNode: Node | undefined;
  let localNodePromise: Promise<Node> | undefined;
  function computeLocalNode(): Promise<Node> {
    localNodePromise ??= (async () => {
      const m = await machine.machineInfo();
      const { status: s } = computeNodeStatus(
        {
          machine: m,
          addresses: [],
          runtimeVersion: undefined,
          runtime: undefined,
          pressure: { memory: false, disk: false, pid: false },
          images: undefined,
          readinessErrors: [],
          extendedResources: {},
        },
        undefined,
        statusConfig,
        clock.now(),
      );
      localNode = buildInitialNode(nodeName, s, {
        ...(cfg.nodeLabels ? { labels: cfg.nodeLabels } : {}),
        ...(cfg.registerWithTaints ? { taints: cfg.registerWithTaints } : {}),
      });
      return localNode;
    })();
    localNodePromise.catch(() => {
      localNodePromise = undefined;
    });
    return localNodePromise;
  }

  // The Node as the API has it now (labels and taints an administrator changes included), for
  // admission; upstream reads it from a node lister the same way.
  const nodeWatch: Informer<Node> | undefined = client
    ? createInformer<Node>({
        client,
        clock,
        path: "/api/v1/nodes",
        fieldSelector: `metadata.name=${nodeName}`,
      })
    : undefined;
  const currentNode = (): Node | undefined => nodeWatch?.store.get(nodeName) ?? status?.node ?? localNode;

  let started = false;
  return {
    eviction,
    status,
    lease,
    node: currentNode,
    start() {
      if (started) throw new Error(`node module for ${nodeName} already started`);
      started = true;
      status?.start();
      lease?.start();
      nodeWatch?.start();
      eviction.start();
      logger.info("Node module started", {
        node: nodeName,
        mode: client ? (cfg.registerNode === false ? "adopt" : "register") : "standalone",
      });
    },
    async stop() {
      const results = await Promise.allSettled([
        eviction.stop(),
        status?.stop() ?? Promise.resolve(),
        lease?.stop() ?? Promise.resolve(),
        nodeWatch?.stop() ?? Promise.resolve(),
      ]);
      const errors = results.filter((r) => r.status === "rejected").map((r) => r.reason as unknown);
      if (errors.length > 0)
        throw new AggregateError(errors, `stopping the node module of ${nodeName} failed`);
    },
    async admit(pod, activePods) {
      const pressureResult = eviction.admit(pod as EvictionPod);
      if (!pressureResult.admit) return pressureResult;
      const sysctlResult = sysctls.admit(pod);
      if (!sysctlResult.admit) return sysctlResult;
      const node = currentNode() ?? (await computeLocalNode());
      return admitPod(pod, node, activePods);
    },
  };
}

/**
 * The API client as the heartbeat uses it: every request times out after the node status update
 * frequency, as upstream's heartbeat client does, so repeated failures are noticed within a few
 * renew intervals of the API server going silent. Connections are shared with `client`.
 */
function heartbeatClient(client: KubeClient, timeoutMs: number): KubeClient {
  return {
    connection: client.connection,
    stats: client.stats,
    request: (req) => client.request({ timeoutMs, ...req }),
    watch: (path, query, signal) => client.watch(path, query, signal),
    close: () => client.close(),
  };
}
