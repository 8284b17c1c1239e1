import { availableParallelism } from "node:os";
import {
  type Clock,
  createInformer,
  createKubeClient,
  createRealClock,
  type Informer,
  type KubeClient,
  type KubeConnection,
  type KubeObject,
  loadKubeConfig,
} from "@kubenode/kube";
import type { EndpointSliceLike, ServiceLike } from "@kubenode/netrules";
import { createChangeTracker, sliceWithoutService } from "./change-tracker.js";
import type { ResolvedConfig } from "./config.js";
import type { Dataplane } from "./dataplane.js";
import { createDataplane } from "./dataplanes.js";
import { ProxyError } from "./errors.js";
import { createEventRecorder } from "./events.js";
import { startHealthzServer, startMetricsServer } from "./healthz-server.js";
import {
  applySysctls,
  hostAddresses,
  nodeIPs,
  nodeName as resolveNodeName,
  setOomScoreAdj,
  usableFamilies,
} from "./host.js";
import type { RunningServer } from "./http-util.js";
import type { Logger } from "./logger.js";
import { createProxyMetrics, type ProxyMetrics, registerProcessMetrics } from "./metrics.js";
import { ensureProxyCounters, registerNfacctMetrics } from "./nfacct-metrics.js";
import { createProxier, type Proxier } from "./proxier.js";
import { createProxierHealth } from "./proxier-health.js";
import { createServiceHealthServer } from "./service-health.js";
import { createSyncRunner } from "./sync-runner.js";
import { VERSION } from "./version.js";

/** Mirrors kube-proxy's informer label selector: skip headless services and other proxies' services. */
export const PROXY_LABEL_SELECTOR =
  "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name";

type NodeObject = KubeObject & {
  metadata?: KubeObject["metadata"] & { deletionTimestamp?: string; labels?: Record<string, string> };
  spec?: { taints?: { key?: string }[] };
  status?: { addresses?: { type?: string; address?: string }[] };
};

/** Options of {@link startProxyServer}. */
export interface ProxyServerOptions {
  config: ResolvedConfig;
  log: Logger;
  /** --master: overrides the kubeconfig's server. */
  master?: string;
  clock?: Clock;
  /** A dataplane to use instead of the configured mode's (tests). */
  dataplane?: Dataplane;
}

/** A running kube-proxy. */
export interface ProxyServer {
  readonly nodeName: string;
  readonly metrics: ProxyMetrics;
  readonly proxier: Proxier;
  readonly healthz: RunningServer | undefined;
  readonly metricsServer: RunningServer | undefined;
  /** Stops informers, the sync loop and servers. Programmed rules stay (like upstream). */
  stop(): Promise<void>;
}

function connect(options: ProxyServerOptions): KubeConnection {
  const path = options.config.config.clientConnection.kubeconfig;
  let conn: KubeConnection;
  try {
    conn = path ? loadKubeConfig({ path }) : loadKubeConfig();
  } catch (err) {
    if (!options.master) throw err;
    conn = { server: options.master };
  }
  if (options.master) conn = { ...conn, server: options.master };
  return conn;
}

async function waitForNode(
  informer: Informer<NodeObject>,
  name: string,
  ms: number,
  clock: Clock,
): Promise<NodeObject | undefined> {
  const ac = new AbortController();
  const timer = clock.setTimeout(() => ac.abort(), ms);
  try {
    await informer.waitForSync(ac.signal);
  } catch {
    // not listed in time: fall back to local addresses
  } finally {
    clock.clearTimeout(timer);
  }
  return informer.store.get(name);
}

/** Starts kube-proxy: informers -> change tracker -> bounded-frequency sync -> dataplane. */
export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const { config, log } = options;
  const clock = options.clock ?? createRealClock();
  const name = resolveNodeName(config);
  const client: KubeClient = createKubeClient(connect(options), { userAgent: `kubenode-proxy/${VERSION}` });
  log.info("Starting kubenode-proxy", {
    version: VERSION,
    mode: config.mode,
    node: name,
    server: client.connection.server,
  });

  await setOomScoreAdj(config.config.oomScoreAdj, log);
  const nodeInformer = createInformer<NodeObject>({
    client,
    path: "/api/v1/nodes",
    fieldSelector: `metadata.name=${name}`,
    clock,
  });
  nodeInformer.start();
  // Mirrors kube-proxy: wait briefly for this Node to learn its IPs; carry on without it.
  const node = await waitForNode(nodeInformer, name, 5_000, clock);
  const bind = config.config.bindAddress;
  const ips =
    bind !== "0.0.0.0" && bind !== "::"
      ? [bind, ...nodeIPs(node).filter((ip) => ip !== bind)]
      : nodeIPs(node);
  if (!node)
    log.warn("Node not found yet; using this host's addresses as node IPs", { node: name, nodeIPs: ips });

  const families = options.dataplane ? (["IPv4"] as const) : await usableFamilies(log);
  if (families.length === 0)
    throw new ProxyError(
      "Unsupported",
      "neither iptables nor ip6tables works here (missing tools or privileges)",
    );
  await applySysctls(config, log, availableParallelism());
  // Mirrors kube-proxy's iptables mode: the nfacct counters behind two of its metrics.
  const nfacctCounters =
    !options.dataplane && config.mode === "iptables" ? await ensureProxyCounters(log) : [];
  const dataplane =
    options.dataplane ??
    createDataplane(config, {
      families,
      nodeIPs: ips,
      hostAddresses: hostAddresses(),
      nfacctCounters,
      log,
      // Mirrors kube-proxy: the canary is checked once per syncPeriod.
      flushCheckIntervalMs: config.syncPeriodMs,
      clock,
    });

  const metrics = createProxyMetrics();
  registerProcessMetrics(metrics);
  const refreshNfacct = registerNfacctMetrics(metrics, nfacctCounters, log);
  // Mirrors kube-proxy: unhealthy once a queued change waits more than 2 x syncPeriod.
  const health = createProxierHealth(clock, 2 * config.syncPeriodMs);
  health.setNode(node);
  const serviceHealth = createServiceHealthServer({ health, log });
  const events = createEventRecorder({ client, nodeName: name, clock, log });

  let runner: ReturnType<typeof createSyncRunner> | undefined;
  const tracker = createChangeTracker(() => {
    health.queued();
    metrics.lastQueuedTimestamp.set(clock.now() / 1000);
    const p = tracker.pending();
    metrics.serviceChangesPending.set(p.services);
    metrics.endpointChangesPending.set(p.endpoints);
    runner?.run();
  });

  const informerOpts = { client, clock, labelSelector: PROXY_LABEL_SELECTOR };
  const services = createInformer<KubeObject>({ ...informerOpts, path: "/api/v1/services" });
  const slices = createInformer<KubeObject>({
    ...informerOpts,
    path: "/apis/discovery.k8s.io/v1/endpointslices",
  });
  const asSvc = (o: KubeObject) => o as unknown as ServiceLike;
  const asSlice = (o: KubeObject) => o as unknown as EndpointSliceLike;
  services.on("add", (o) => tracker.serviceUpdate(undefined, asSvc(o)));
  services.on("update", (o, old) => tracker.serviceUpdate(asSvc(old), asSvc(o)));
  services.on("delete", (o) => tracker.serviceUpdate(asSvc(o), undefined));
  const checkedSlice = (o: KubeObject) => {
    const slice = asSlice(o);
    const err = sliceWithoutService(slice);
    if (err)
      log.error("Error getting endpoint slice cache keys", new Error(err), {
        namespace: slice.metadata?.namespace,
      });
    return slice;
  };
  slices.on("add", (o) => tracker.endpointSliceUpdate(undefined, checkedSlice(o)));
  slices.on("update", (o, old) => tracker.endpointSliceUpdate(asSlice(old), checkedSlice(o)));
  slices.on("delete", (o) => tracker.endpointSliceUpdate(asSlice(o), undefined));
  let lastApiError = "";
  const onError = (what: string) => (err: Error) => {
    // One line per distinct failure: an unreachable API server would otherwise log every retry.
    if (err.message === lastApiError)
      return log.v(4, "API watch still failing", { resource: what, err: err.message });
    lastApiError = err.message;
    log.warn("API list/watch failed; keeping the last programmed rules and retrying", {
      resource: what,
      err: err.message,
    });
  };
  services.on("error", onError("services"));
  slices.on("error", onError("endpointslices"));
  nodeInformer.on("error", onError("nodes"));
  const onSynced = () => {
    lastApiError = "";
    runner?.run();
  };
  services.on("synced", onSynced);
  slices.on("synced", onSynced);
  let zone = node?.metadata?.labels?.["topology.kubernetes.io/zone"];
  const onNode = (n: NodeObject) => {
    health.setNode(n);
    const z = n.metadata?.labels?.["topology.kubernetes.io/zone"];
    if (z !== zone) {
      zone = z;
      runner?.run();
    }
  };
  nodeInformer.on("add", onNode);
  nodeInformer.on("update", onNode);

  const proxier = createProxier({
    nodeName: name,
    nodeZone: () => zone,
    tracker,
    dataplane,
    clock,
    metrics,
    health,
    log,
    isInitialized: () => services.isSynced() && slices.isSynced(),
    onSynced: (model) => serviceHealth.sync(model),
    onEvent: events,
  });
  runner = createSyncRunner({
    clock,
    minIntervalMs: config.minSyncPeriodMs,
    maxIntervalMs: config.syncPeriodMs,
    sync: proxier.sync,
  });

  const servers: RunningServer[] = [];
  const bindOrFail = async (what: string, address: string, start: () => Promise<RunningServer>) => {
    if (address === "") return undefined;
    try {
      const s = await start();
      servers.push(s);
      log.info(`Serving ${what}`, { address });
      return s;
    } catch (err) {
      if (config.config.bindAddressHardFail)
        throw new ProxyError("Internal", `cannot serve ${what} on ${address}: ${(err as Error).message}`, {
          cause: err,
        });
      log.error(`Cannot serve ${what}; continuing (bindAddressHardFail is false)`, err, { address });
      return undefined;
    }
  };
  const healthz = await bindOrFail("healthz", config.config.healthzBindAddress, () =>
    startHealthzServer(config.config.healthzBindAddress, health, metrics),
  );
  const metricsServer = await bindOrFail("metrics", config.config.metricsBindAddress, () =>
    startMetricsServer(config.config.metricsBindAddress, metrics, {
      mode: config.mode,
      configz: () => config.config,
      beforeScrape: refreshNfacct,
    }),
  );

  services.start();
  slices.start();
  runner.start();

  return {
    nodeName: name,
    metrics,
    proxier,
    healthz,
    metricsServer,
    async stop() {
      await runner?.stop();
      await Promise.all([services.stop(), slices.stop(), nodeInformer.stop()]);
      await serviceHealth.close();
      await Promise.all(servers.map((s) => s.close()));
      client.close();
    },
  };
}
