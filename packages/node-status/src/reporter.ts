import type { Clock, KubeClient, Logger } from "@kubenode/kube";
import {
  createRealClock,
  KubeError,
  PatchType,
  silentLogger,
  validateDNS1123Subdomain,
} from "@kubenode/kube";
import type { NodeEvent } from "./conditions.js";
import { NodeStatusError } from "./errors.js";
import { createApiEventSink, type NodeEventSink } from "./events.js";
import { gatherInputs, type RuntimeTracker } from "./gather.js";
import { createHostAddressProvider, createHostMachineInfoProvider } from "./host.js";
import type { NodeStatusProviders } from "./providers.js";
import { buildInitialNode, type RegistrationOptions, registerNode } from "./registration.js";
import { computeNodeStatus, type NodeStatusConfig, statusChanged, statusPatch } from "./status.js";
import type { Node, NodeStatus } from "./types.js";

/** The kubelet's nodeStatusUpdateFrequency: how often status is computed. */
export const NODE_STATUS_UPDATE_FREQUENCY_MS = 10_000;
/** The kubelet's nodeStatusReportFrequency: longest time between patches when nothing changes. */
export const NODE_STATUS_REPORT_FREQUENCY_MS = 5 * 60_000;
/** Attempts per status update (first from the cached Node, then after a GET). */
export const NODE_STATUS_UPDATE_RETRY = 5;

/** Options of {@link createNodeStatusReporter}. */
export interface NodeStatusReporterOptions extends NodeStatusConfig {
  client: KubeClient;
  /** Replaceable collectors; machine and addresses default to the host. */
  providers?: NodeStatusProviders | undefined;
  /** Register the Node first (default `{}`); `false` when something else creates it. */
  register?: RegistrationOptions | false | undefined;
  /** Where transition and reboot events go; default core/v1 Events via `client`; `false` for none. */
  events?: NodeEventSink | false | undefined;
  /** --node-ip for the default address provider. */
  nodeIPs?: string[] | undefined;
  clock?: Clock | undefined;
  /** Default 10 s. */
  updateFrequencyMs?: number | undefined;
  /** Default 5 min. */
  reportFrequencyMs?: number | undefined;
  /**
   * Where failed registration attempts and status updates are logged (kubenode's one Logger), as
   * the kubelet's "Unable to register node with API server" / "Error updating node status, will
   * retry". Default: dropped.
   */
  logger?: Logger | undefined;
}

/** Registers a Node and keeps its status current. */
export interface NodeStatusReporter {
  /** Registers (with backoff) then computes status every update interval. */
  start(): void;
  /** Stops the loop and aborts in-flight calls. */
  stop(): Promise<void>;
  /** Registers now if not yet done; resolves with the Node. */
  register(): Promise<Node>;
  /** One status update as the loop does it; resolves true if a PATCH was sent. */
  sync(): Promise<boolean>;
  /** The Node as last read or written (its UID is what heartbeat's ownerReference needs). */
  readonly node: Node | undefined;
  /** When status was last patched (ms since epoch). */
  readonly lastReportTimeMs: number | undefined;
  /** Resolves once the Node is registered. */
  registered(): Promise<Node>;
}

/**
 * Creates the node status reporter with kubelet cadence: compute every 10 s, PATCH the status
 * subresource (strategic merge) only when something other than heartbeat times changed or 5 min
 * passed since the last report; retry up to 5 times; emit NodeReady/NodeNotReady, pressure
 * transition and Rebooted events.
 */
export function createNodeStatusReporter(options: NodeStatusReporterOptions): NodeStatusReporter {
  const { client, nodeName } = options;
  const invalid = validateDNS1123Subdomain(nodeName);
  if (invalid.length > 0) {
    throw new NodeStatusError(
      "InvalidArgument",
      `nodeName ${JSON.stringify(nodeName)} is not a valid node name: ${invalid.join("; ")}`,
    );
  }
  const clock = options.clock ?? createRealClock();
  const updateFrequencyMs = options.updateFrequencyMs ?? NODE_STATUS_UPDATE_FREQUENCY_MS;
  const reportFrequencyMs = options.reportFrequencyMs ?? NODE_STATUS_REPORT_FREQUENCY_MS;
  if (!(updateFrequencyMs > 0) || !(reportFrequencyMs > 0)) {
    throw new NodeStatusError("InvalidArgument", "updateFrequencyMs and reportFrequencyMs must be > 0");
  }
  const providers = {
    ...options.providers,
    machine: options.providers?.machine ?? createHostMachineInfoProvider(),
    addresses:
      options.providers?.addresses ?? createHostAddressProvider({ nodeName, nodeIPs: options.nodeIPs }),
  };
  const logger = options.logger ?? silentLogger;
  const sink =
    options.events === false ? undefined : (options.events ?? createApiEventSink(client, { clock, logger }));
  const tracker: RuntimeTracker = { everSynced: false };
  const stopController = new AbortController();
  const sig = { signal: stopController.signal };
  const nodePath = `/api/v1/nodes/${encodeURIComponent(nodeName)}`;
  let node: Node | undefined;
  let lastReportTimeMs: number | undefined;
  let loop: Promise<void> | undefined;
  let registering: Promise<Node> | undefined;
  let stopped = false;
  let registeredResolve: ((n: Node) => void) | undefined;
  const registeredPromise = new Promise<Node>((r) => (registeredResolve = r));

  const reportUpdateError = (err: unknown) =>
    logger.error("Error updating node status, will retry", NodeStatusError.from(err, "UpdateFailed"), {
      node: nodeName,
    });
  const emit = (events: NodeEvent[]) => {
    if (!sink) return;
    for (const e of events) void sink.record(nodeName, e);
  };

  async function compute(previous: NodeStatus | undefined) {
    const inputs = await gatherInputs(providers, tracker, clock.now());
    return computeNodeStatus(inputs, previous, options, clock.now());
  }

  function register(): Promise<Node> {
    registering ??= (async () => {
      const { status, events } = await compute(undefined);
      const initial = buildInitialNode(nodeName, status, options.register || {});
      const result = await registerNode({
        client,
        node: initial,
        clock,
        ...sig,
        logger,
      });
      node = result.node;
      if (result.created) lastReportTimeMs = clock.now();
      // Like the kubelet at startup: the initial status's condition events (NodeReady, ...).
      emit(events);
      registeredResolve?.(result.node);
      return result.node;
    })();
    registering.catch(() => {
      registering = undefined;
    });
    return registering;
  }

  async function tryUpdate(attempt: number): Promise<boolean> {
    if (attempt > 0 || !node) node = await client.request<Node>({ method: "GET", path: nodePath, ...sig });
    const previous = node.status;
    const { status, events } = await compute(previous);
    const now = clock.now();
    const changed = statusChanged(previous, status);
    const due = lastReportTimeMs === undefined || now - lastReportTimeMs >= reportFrequencyMs;
    if (!changed && !due) return false;
    const oldBoot = previous?.nodeInfo?.bootID;
    const newBoot = status.nodeInfo?.bootID;
    node = await client.request<Node>({
      method: "PATCH",
      path: `${nodePath}/status`,
      contentType: PatchType.StrategicMerge,
      body: statusPatch(previous, status),
      ...sig,
    });
    lastReportTimeMs = now;
    const all = [...events];
    if (oldBoot && newBoot && oldBoot !== newBoot) {
      // Mirrors the kubelet's machine-info setter: a new boot ID means the node rebooted.
      all.push({
        type: "Warning",
        reason: "Rebooted",
        message: `Node ${nodeName} has been rebooted, boot id: ${newBoot}`,
      });
    }
    emit(all);
    return true;
  }

  async function sync(): Promise<boolean> {
    let lastErr: unknown;
    for (let i = 0; i < NODE_STATUS_UPDATE_RETRY; i++) {
      try {
        return await tryUpdate(i);
      } catch (err) {
        if (stopped) throw new NodeStatusError("Stopped", "node status reporter stopped", { cause: err });
        if (err instanceof NodeStatusError) throw err;
        lastErr = err;
        reportUpdateError(err);
      }
    }
    throw new NodeStatusError(
      "UpdateFailed",
      `update node status exceeds retry count (${NODE_STATUS_UPDATE_RETRY})`,
      {
        cause: KubeError.from(lastErr),
      },
    );
  }

  async function run(): Promise<void> {
    if (options.register !== false) {
      try {
        await register();
      } catch {
        return; // only when stopped
      }
    }
    while (!stopped) {
      try {
        await sync();
      } catch (err) {
        if (!stopped && err instanceof NodeStatusError && err.code === "ProviderFailed")
          reportUpdateError(err);
      }
      try {
        await clock.sleep(updateFrequencyMs, stopController.signal);
      } catch {
        break;
      }
    }
  }

  return {
    start() {
      if (loop)
        throw new NodeStatusError("InvalidArgument", `node status reporter for ${nodeName} already started`);
      loop = run();
    },
    async stop() {
      stopped = true;
      stopController.abort();
      await loop;
      await registering?.catch(() => undefined);
    },
    register,
    sync,
    registered: () => registeredPromise,
    get node() {
      return node;
    },
    get lastReportTimeMs() {
      return lastReportTimeMs;
    },
  };
}
