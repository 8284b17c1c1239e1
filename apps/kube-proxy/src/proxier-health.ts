import type { Clock } from "@kubenode/kube";

/** The taint the cluster autoscaler puts on a node it is about to remove. */
export const TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler";

/** What /healthz and /livez report. */
export interface HealthStatus {
  /** Rules are being programmed: no queued change has waited longer than the health timeout. */
  healthy: boolean;
  /** The node is not being deleted (no deletionTimestamp, no autoscaler deletion taint). */
  nodeEligible: boolean;
  lastUpdatedMs: number | undefined;
  nowMs: number;
}

/**
 * Tracks whether syncs keep up (mirrors kube-proxy's ProxierHealthServer): a change queued and not
 * programmed within `healthTimeoutMs` (upstream: 2 x syncPeriod) makes the proxy unhealthy.
 */
export interface ProxierHealth {
  /** A change is waiting for a sync (keeps the oldest such time). */
  queued(): void;
  /** A sync succeeded: nothing is pending any more. */
  updated(): void;
  /** Records this node's state for `nodeEligible`. */
  setNode(
    node: { metadata?: { deletionTimestamp?: unknown }; spec?: { taints?: { key?: string }[] } } | undefined,
  ): void;
  status(): HealthStatus;
}

/** Creates the health state. */
export function createProxierHealth(clock: Clock, healthTimeoutMs: number): ProxierHealth {
  let oldestQueuedMs: number | undefined;
  let lastUpdatedMs: number | undefined;
  let nodeEligible = true;
  return {
    queued() {
      if (oldestQueuedMs === undefined) oldestQueuedMs = clock.now();
    },
    updated() {
      oldestQueuedMs = undefined;
      lastUpdatedMs = clock.now();
    },
    setNode(node) {
      if (!node) return;
      const deleting = Boolean(node.metadata?.deletionTimestamp);
      const tainted = (node.spec?.taints ?? []).some((t) => t.key === TO_BE_DELETED_TAINT);
      nodeEligible = !deleting && !tainted;
    },
    status() {
      const nowMs = clock.now();
      const healthy = oldestQueuedMs === undefined || nowMs - oldestQueuedMs <= healthTimeoutMs;
      return { healthy, nodeEligible, lastUpdatedMs, nowMs };
    },
  };
}
