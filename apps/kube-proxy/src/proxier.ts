import type { Clock } from "@kubenode/kube";
import {
  createProxyModelBuilder,
  type ModelError,
  type ProxyModel,
  type ProxyModelBuilder,
} from "@kubenode/netrules";
import type { ChangeTracker, PendingChanges } from "./change-tracker.js";
import type { Dataplane } from "./dataplane.js";
import { ProxyError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { ProxyMetrics } from "./metrics.js";
import type { ProxierHealth } from "./proxier-health.js";

/** Upstream's FullSyncPeriod: between full syncs, partial syncs only rewrite what changed. */
export const FULL_SYNC_PERIOD_MS = 3_600_000;

/** Sink for Warning Events about this node (rule programming failures). */
export type EventSink = (reason: string, message: string) => void;

/** Options of {@link createProxier}. */
export interface ProxierOptions {
  nodeName: string;
  /** This node's zone, for topology-aware routing hints. */
  nodeZone?: () => string | undefined;
  tracker: ChangeTracker;
  dataplane: Dataplane;
  clock: Clock;
  metrics: ProxyMetrics;
  health: ProxierHealth;
  log: Logger;
  /** True once Services and EndpointSlices are listed: no sync programs a partial view before. */
  isInitialized: () => boolean;
  /** Called with each model programmed (health-check node ports, conntrack cleanup). */
  onSynced?: (model: ProxyModel) => void | Promise<void>;
  onEvent?: EventSink;
  fullSyncPeriodMs?: number;
}

/** The sync function kube-proxy's runner calls, with its state. */
export interface Proxier {
  /** One sync: full when needed (start, failure, flushed ruleset, hourly), partial otherwise. */
  sync(): Promise<void>;
  /** Forces the next sync to be full. */
  invalidate(): void;
  /** The last model programmed successfully. */
  readonly lastModel: ProxyModel | undefined;
  /** Syncs that succeeded, by kind. */
  readonly stats: { full: number; partial: number; failed: number; flushesDetected: number };
}

/** "namespace/name" back to its parts (names cannot contain "/"). */
function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Creates the proxier. */
export function createProxier(options: ProxierOptions): Proxier {
  const { tracker, dataplane, clock, metrics, health, log } = options;
  const fullSyncPeriodMs = options.fullSyncPeriodMs ?? FULL_SYNC_PERIOD_MS;
  let needFull = true;
  let lastFullMs = Number.NEGATIVE_INFINITY;
  let previous: ProxyModel | undefined;
  const reportedErrors = new Set<string>();
  const stats = { full: 0, partial: 0, failed: 0, flushesDetected: 0 };

  const reportModelErrors = (errors: ModelError[]) => {
    const seen = new Set<string>();
    for (const e of errors) {
      const k = `${e.kind}/${e.namespace}/${e.name}/${e.field}/${e.message}`;
      seen.add(k);
      if (reportedErrors.has(k)) continue;
      // Mirrors kube-proxy: an invalid externalIPs / ingress / source-range entry skips that entry
      // only ("Skipping invalid IP"); anything else skips the object.
      log.warn(e.skipped === "field" ? "Skipping invalid field" : "Skipping invalid object", {
        kind: e.kind,
        object: `${e.namespace}/${e.name}`,
        field: e.field,
        reason: e.message,
      });
    }
    reportedErrors.clear();
    for (const k of seen) reportedErrors.add(k);
  };

  // The model is kept up to date incrementally: only the Services and EndpointSlices that changed
  // since the last sync are recomputed (a 1-service change costs the same at 10 or 10,000 services).
  let builder: ProxyModelBuilder | undefined;
  let builderZone: string | undefined;
  const modelFor = (changes: PendingChanges) => {
    const zone = options.nodeZone?.();
    if (!builder || zone !== builderZone) {
      // First sync, or the node's zone (topology hints) changed: every service port depends on it.
      builder = createProxyModelBuilder({
        nodeName: options.nodeName,
        nodeZone: zone,
      });
      builderZone = zone;
      for (const svc of tracker.services()) builder.upsertService(svc);
      for (const slice of tracker.endpointSlices()) builder.upsertEndpointSlice(slice);
    } else {
      for (const key of changes.changedServiceKeys) {
        const svc = tracker.service(key);
        if (svc) builder.upsertService(svc);
        else builder.deleteService(...splitKey(key));
      }
      for (const key of changes.changedSliceKeys) {
        const slice = tracker.endpointSlice(key);
        if (slice) builder.upsertEndpointSlice(slice);
        else builder.deleteEndpointSlice(...splitKey(key));
      }
    }
    return builder.build();
  };

  async function sync(): Promise<void> {
    if (!options.isInitialized()) {
      log.v(2, "Not syncing rules until Services and EndpointSlices have been received from the API server");
      return;
    }
    const startMs = clock.now();
    const changes = tracker.take();
    metrics.serviceChangesPending.set(0);
    metrics.endpointChangesPending.set(0);
    let full = needFull || startMs - lastFullMs >= fullSyncPeriodMs;
    try {
      const { model, errors } = modelFor(changes);
      reportModelErrors(errors);
      const modelMs = clock.now() - startMs;
      // The dataplane (netrules' proxiers) checks its canary once per syncPeriod and rewrites
      // everything when it is gone, as kube-proxy's canary monitor does.
      const result = await dataplane.sync(model, { full });
      const endMs = clock.now();
      previous = model;
      needFull = false;
      // The dataplane logged it before the resync (netrules' proxiers).
      if (result.recoveredFromFlush) stats.flushesDetected++;
      full ||= result.full;
      if (full) lastFullMs = startMs;
      full ? stats.full++ : stats.partial++;
      const seconds = (endMs - startMs) / 1000;
      metrics.syncDuration.observe(seconds);
      (full ? metrics.syncFullDuration : metrics.syncPartialDuration).observe(seconds);
      metrics.lastSyncTimestamp.set(endMs / 1000);
      metrics.serviceChangesTotal.inc({}, changes.serviceChanges);
      metrics.endpointChangesTotal.inc({}, changes.endpointChanges);
      for (const t of changes.triggerTimesMs) {
        // Mirrors kube-proxy: latency from the change's trigger time to rules programmed.
        if (endMs >= t) metrics.networkProgrammingDuration.observe((endMs - t) / 1000);
      }
      for (const [label, n] of Object.entries(result.ruleCounts)) {
        if (dataplane.mode === "iptables") metrics.iptablesRules.set(n, { table: label });
      }
      let noLocalInternal = 0;
      let noLocalExternal = 0;
      for (const sp of model.servicePorts) {
        if (sp.internalPolicyLocal && sp.localEndpoints.length === 0) noLocalInternal++;
        if (sp.externalPolicyLocal && sp.localEndpoints.length === 0) noLocalExternal++;
      }
      metrics.noLocalEndpoints.set(noLocalInternal, { traffic_policy: "internal" });
      metrics.noLocalEndpoints.set(noLocalExternal, { traffic_policy: "external" });
      health.updated();
      log.v(2, "Synced proxy rules", {
        full,
        servicePorts: model.servicePorts.length,
        changedServicePorts: result.changedServicePorts,
        lines: result.lines,
        modelMs,
        ...(result.applyMs !== undefined ? { applyMs: result.applyMs } : {}),
        elapsedMs: endMs - startMs,
      });
      await options.onSynced?.(model);
    } catch (err) {
      needFull = true;
      stats.failed++;
      tracker.restore(changes);
      const pending = tracker.pending();
      metrics.serviceChangesPending.set(pending.services);
      metrics.endpointChangesPending.set(pending.endpoints);
      if (dataplane.mode === "iptables") {
        (full ? metrics.iptablesRestoreFailures : metrics.iptablesPartialRestoreFailures).inc();
      } else if (dataplane.mode === "nftables") metrics.nftablesSyncFailures.inc();
      const e = ProxyError.from(err, "SyncFailed");
      log.error("Failed to sync proxy rules; will retry", e, { full, mode: dataplane.mode });
      options.onEvent?.("FailedToSyncProxyRules", `${dataplane.mode} sync failed: ${e.message}`);
      throw e;
    }
  }

  return {
    sync,
    invalidate() {
      needFull = true;
    },
    get lastModel() {
      return previous;
    },
    stats,
  };
}
