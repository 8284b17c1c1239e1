import type { KubeError } from "@kubenode/kube";

/** Renewal health of one node's lease, for health checks and metrics. */
export interface LeaseHealth {
  nodeName: string;
  /** When the lease was last written successfully (ms since epoch); undefined before the first. */
  lastRenewTimeMs: number | undefined;
  /** Failed API calls since the last success. */
  consecutiveFailures: number;
  /** Successful renewals (creates included) since start. */
  renewals: number;
  /** The last failure, cleared on success. */
  lastError: KubeError | undefined;
}

/**
 * True when the lease was renewed within `leaseDurationSeconds` of `nowMs`: what the node
 * lifecycle controller would still consider a live node.
 */
export function isLeaseFresh(health: LeaseHealth, nowMs: number, leaseDurationSeconds: number): boolean {
  return health.lastRenewTimeMs !== undefined && nowMs - health.lastRenewTimeMs < leaseDurationSeconds * 1000;
}
