import type { Clock, KubeClient, Logger } from "@kubenode/kube";
import { createBackoff, createRealClock, jitterMs, KubeError, silentLogger } from "@kubenode/kube";
import { checkNodeName, HeartbeatError } from "./errors.js";
import type { LeaseHealth } from "./health.js";
import {
  ensureLease,
  type Lease,
  type LeaseContext,
  leaseTiming,
  lookupNodeOwner,
  MAX_UPDATE_RETRIES,
  NODE_LEASE_NAMESPACE,
  type NodeOwner,
  newLease,
  RENEW_INTERVAL_JITTER,
  updateLease,
} from "./lease.js";

/** Options of {@link createLeaseController}. */
export interface LeaseControllerOptions {
  client: KubeClient;
  /** The node whose lease is kept fresh; also the lease name. */
  nodeName: string;
  /** Written to spec.holderIdentity; default the node name. */
  holderIdentity?: string | undefined;
  /** Default `kube-node-lease`. */
  namespace?: string | undefined;
  /** Default 40 (the kubelet's nodeLeaseDurationSeconds). */
  leaseDurationSeconds?: number | undefined;
  /** Default 0.25 x leaseDurationSeconds (10 s). */
  renewIntervalMs?: number | undefined;
  clock?: Clock | undefined;
  random?: (() => number) | undefined;
  /**
   * Set an ownerReference to the Node once its UID is known, so the lease is deleted with the
   * Node. Default true (looks the Node up while the reference is missing).
   */
  ownerReference?: boolean | undefined;
  /** Where failed lease calls are logged (kubenode's one Logger). Default: dropped. */
  logger?: Logger | undefined;
  /**
   * Called when a renewal fails at least twice in a row. The kubelet's onRepeatedHeartbeatFailure
   * closes the API client's connections here, so a half-open connection does not keep the next
   * attempts failing: a caller action, not a log line.
   */
  onRepeatedFailure?: (() => void) | undefined;
}

/** Keeps one node's Lease fresh. */
export interface LeaseController {
  /** Starts renewing: once now, then every renew interval with jitter. */
  start(): void;
  /** Stops the loop and aborts in-flight calls; resolves when nothing is left running. */
  stop(): Promise<void>;
  /** One renewal as the loop does it (ensure with backoff, then update with retries). */
  sync(): Promise<void>;
  health(): LeaseHealth;
  /** The lease as last written or read. */
  readonly lease: Lease | undefined;
}

/**
 * Creates a node lease controller with the kubelet's semantics: updates reuse the cached lease
 * (no GET per renewal); a Conflict re-reads it; while the lease cannot be read or created the
 * controller retries with a backoff of 200 ms doubling to 7 s.
 */
export function createLeaseController(options: LeaseControllerOptions): LeaseController {
  checkNodeName(options.nodeName);
  const { leaseDurationSeconds, renewIntervalMs } = leaseTiming(options);
  const clock = options.clock ?? createRealClock();
  const random = options.random ?? Math.random;
  const logger = options.logger ?? silentLogger;
  const nodeName = options.nodeName;
  const stopController = new AbortController();
  const ctx: LeaseContext = {
    client: options.client,
    clock,
    namespace: options.namespace ?? NODE_LEASE_NAMESPACE,
    holderIdentity: options.holderIdentity ?? nodeName,
    leaseDurationSeconds,
    signal: stopController.signal,
  };
  const wantOwner = options.ownerReference ?? true;
  const health: LeaseHealth = {
    nodeName,
    lastRenewTimeMs: undefined,
    consecutiveFailures: 0,
    renewals: 0,
    lastError: undefined,
  };
  let latest: Lease | undefined;
  let owner: NodeOwner | undefined;
  let loop: Promise<void> | undefined;
  let stopped = false;

  const succeeded = (lease: Lease) => {
    latest = lease;
    health.lastRenewTimeMs = clock.now();
    health.consecutiveFailures = 0;
    health.renewals++;
    health.lastError = undefined;
  };
  const failed = (err: unknown, msg: string) => {
    health.consecutiveFailures++;
    health.lastError = KubeError.from(err);
    logger.error(msg, health.lastError, { node: nodeName });
  };

  async function resolveOwner(base: Lease | undefined): Promise<NodeOwner | undefined> {
    if (!wantOwner || owner || base?.metadata.ownerReferences?.length) return owner;
    try {
      owner = await lookupNodeOwner(ctx.client, nodeName, ctx.signal);
    } catch {
      // The reference is best effort; the renewal itself must not fail because of it.
    }
    return owner;
  }

  // Mirrors backoffEnsureLease: retries until the lease is read or created, or we stop.
  async function backoffEnsureLease(): Promise<{ lease: Lease; created: boolean }> {
    const backoff = createBackoff({ initialMs: 200, maxMs: 7_000 });
    for (;;) {
      try {
        const result = await ensureLease(ctx, nodeName, await resolveOwner(undefined));
        if (result.created) succeeded(result.lease);
        return result;
      } catch (err) {
        if (stopped) throw new HeartbeatError("Stopped", "lease controller stopped", { cause: err });
        failed(err, "Failed to ensure lease exists, will retry");
        await clock.sleep(backoff.next(), ctx.signal);
      }
    }
  }

  // Mirrors retryUpdateLease: up to 5 PUTs of the cached lease; a Conflict re-reads it first.
  async function retryUpdateLease(base: Lease): Promise<void> {
    let current = base;
    for (let i = 0; i < MAX_UPDATE_RETRIES; i++) {
      try {
        succeeded(await updateLease(ctx, newLease(ctx, nodeName, current, await resolveOwner(current))));
        return;
      } catch (err) {
        if (stopped) throw new HeartbeatError("Stopped", "lease controller stopped", { cause: err });
        failed(err, "Failed to update lease");
        if (KubeError.from(err).code === "Conflict") {
          current = (await backoffEnsureLease()).lease;
          latest = current;
          continue;
        }
        if (i > 0) options.onRepeatedFailure?.();
      }
    }
    throw new HeartbeatError(
      "RenewFailed",
      `failed ${MAX_UPDATE_RETRIES} attempts to update lease ${ctx.namespace}/${nodeName}`,
      {
        cause: health.lastError,
      },
    );
  }

  async function sync(): Promise<void> {
    if (latest) {
      try {
        await retryUpdateLease(latest);
        return;
      } catch (err) {
        if (stopped) throw err;
      }
    }
    const { lease, created } = await backoffEnsureLease();
    latest = lease;
    if (created) return; // just written with a fresh renewTime
    await retryUpdateLease(lease);
  }

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        await sync();
      } catch {
        // Counted in health; the next interval tries again.
      }
      if (stopped) break;
      try {
        // Sliding interval: the wait starts after the renewal finished, like JitterUntil(sliding).
        await clock.sleep(jitterMs(renewIntervalMs, RENEW_INTERVAL_JITTER, random), stopController.signal);
      } catch {
        break;
      }
    }
  }

  return {
    start() {
      if (loop)
        throw new HeartbeatError("InvalidArgument", `lease controller for ${nodeName} already started`);
      loop = run();
    },
    async stop() {
      stopped = true;
      stopController.abort();
      await loop;
    },
    sync,
    health: () => ({ ...health }),
    get lease() {
      return latest;
    },
  };
}
