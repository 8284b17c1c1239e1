import type { Clock, KubeClient, Logger, TimerHandle } from "@kubenode/kube";
import { createBackoff, createRealClock, jitterMs, KubeError, silentLogger } from "@kubenode/kube";
import { checkNodeName, HeartbeatError } from "./errors.js";
import { isLeaseFresh, type LeaseHealth } from "./health.js";
import {
  ensureLease,
  type Lease,
  type LeaseContext,
  leaseTiming,
  lookupNodeOwner,
  NODE_LEASE_NAMESPACE,
  type NodeOwner,
  newLease,
  RENEW_INTERVAL_JITTER,
  updateLease,
} from "./lease.js";

/** Options of {@link createLeaseFleet}. */
export interface LeaseFleetOptions {
  /** One client for the whole fleet; its keep-alive sockets are shared by every node. */
  client: KubeClient;
  /** Nodes to start with; more can be added later. */
  nodeNames?: Iterable<string> | undefined;
  /** Default `kube-node-lease`. */
  namespace?: string | undefined;
  /** Default 40. */
  leaseDurationSeconds?: number | undefined;
  /** Default 0.25 x leaseDurationSeconds (10 s). */
  renewIntervalMs?: number | undefined;
  /** Most API calls in flight at once; default 32. Size the client's `maxSockets` to match. */
  concurrency?: number | undefined;
  /** Set ownerReferences to the Nodes (looked up at most once a minute per node); default true. */
  ownerReference?: boolean | undefined;
  clock?: Clock | undefined;
  random?: (() => number) | undefined;
  /**
   * Where the fleet logs (kubenode's one Logger): a failed call at verbosity 4 (one line a node
   * would be 10k lines an outage), the start and end of an API outage as an error and info.
   * Default: dropped.
   */
  logger?: Logger | undefined;
}

/** Counters over the whole fleet. */
export interface LeaseFleetSummary {
  nodes: number;
  /** Nodes whose lease was renewed within leaseDurationSeconds. */
  fresh: number;
  /** Nodes whose last call failed. */
  failing: number;
  /** Successful writes since start. */
  renewals: number;
  /** Failed calls since start. */
  failures: number;
  inFlight: number;
  /** Nodes due now but waiting for a free slot. */
  backlog: number;
}

/** Keeps the leases of many (simulated) nodes fresh from one process. */
export interface LeaseFleet {
  /** Adds a node; its lease is written as soon as a slot is free. Adding twice is a no-op. */
  add(nodeName: string): void;
  /** Stops renewing a node (its lease then expires on its own). */
  remove(nodeName: string): boolean;
  start(): void;
  /** Stops scheduling and waits for in-flight calls to finish. */
  stop(): Promise<void>;
  health(nodeName: string): LeaseHealth | undefined;
  summary(): LeaseFleetSummary;
}

interface NodeState {
  name: string;
  lease: Lease | undefined;
  owner: NodeOwner | undefined;
  ownerCheckedAtMs: number;
  dueMs: number;
  retryMs: number;
  heapIndex: number;
  removed: boolean;
  health: LeaseHealth;
}

const OWNER_LOOKUP_INTERVAL_MS = 60_000;

/** A binary min-heap of nodes by due time. */
class DueHeap {
  private readonly items: NodeState[] = [];
  get size() {
    return this.items.length;
  }
  peek(): NodeState | undefined {
    return this.items[0];
  }
  push(n: NodeState): void {
    n.heapIndex = this.items.length;
    this.items.push(n);
    this.up(n.heapIndex);
  }
  pop(): NodeState | undefined {
    const top = this.items[0];
    if (!top) return undefined;
    this.removeAt(0);
    return top;
  }
  remove(n: NodeState): void {
    if (n.heapIndex >= 0 && this.items[n.heapIndex] === n) this.removeAt(n.heapIndex);
  }
  private removeAt(i: number): void {
    const last = this.items.pop()!;
    const removed = this.items[i];
    if (removed) removed.heapIndex = -1;
    if (i < this.items.length) {
      this.items[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(i);
    } else last.heapIndex = -1;
  }
  private swap(a: number, b: number): void {
    const x = this.items[a]!;
    const y = this.items[b]!;
    this.items[a] = y;
    this.items[b] = x;
    x.heapIndex = b;
    y.heapIndex = a;
  }
  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.items[p]!.dueMs <= this.items[i]!.dueMs) break;
      this.swap(i, p);
      i = p;
    }
  }
  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.items[l]!.dueMs < this.items[m]!.dueMs) m = l;
      if (r < n && this.items[r]!.dueMs < this.items[m]!.dueMs) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

/**
 * Creates a fleet lease renewer (kwok-style simulated nodes): every node's lease is renewed each
 * interval with the same semantics as one kubelet (cached lease, Conflict -> re-GET, 200 ms ->
 * 7 s retry backoff), renewals spread evenly over the interval, at most `concurrency` calls in
 * flight. When the API server is unreachable the whole fleet backs off together, so an outage
 * does not turn into a storm of reconnects.
 */
export function createLeaseFleet(options: LeaseFleetOptions): LeaseFleet {
  const { leaseDurationSeconds, renewIntervalMs } = leaseTiming(options);
  const concurrency = options.concurrency ?? 32;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new HeartbeatError("InvalidArgument", `concurrency must be a positive integer, got ${concurrency}`);
  }
  const clock = options.clock ?? createRealClock();
  const random = options.random ?? Math.random;
  const logger = options.logger ?? silentLogger;
  const wantOwner = options.ownerReference ?? true;
  const stopController = new AbortController();
  const ctx: LeaseContext = {
    client: options.client,
    clock,
    namespace: options.namespace ?? NODE_LEASE_NAMESPACE,
    holderIdentity: "",
    leaseDurationSeconds,
    signal: stopController.signal,
  };
  const nodes = new Map<string, NodeState>();
  const heap = new DueHeap();
  const outage = createBackoff({ initialMs: 200, maxMs: 7_000 });
  let pausedUntilMs = 0;
  let inOutage = false;
  let inFlight = 0;
  let renewals = 0;
  let failures = 0;
  let started = false;
  let stopped = false;
  let timer: TimerHandle | undefined;
  let timerDueMs = Number.POSITIVE_INFINITY;
  let idle: (() => void) | undefined;

  function schedule(n: NodeState, dueMs: number): void {
    n.dueMs = dueMs;
    heap.push(n);
  }

  function arm(): void {
    if (stopped) return;
    const top = heap.peek();
    if (!top || inFlight >= concurrency) return;
    const due = Math.max(top.dueMs, pausedUntilMs);
    if (timer && due >= timerDueMs) return;
    if (timer) clock.clearTimeout(timer);
    timerDueMs = due;
    timer = clock.setTimeout(
      () => {
        timer = undefined;
        timerDueMs = Number.POSITIVE_INFINITY;
        pump();
      },
      Math.max(0, due - clock.now()),
    );
  }

  function pump(): void {
    if (stopped) return;
    const now = clock.now();
    while (inFlight < concurrency && now >= pausedUntilMs) {
      const top = heap.peek();
      if (!top || top.dueMs > now) break;
      heap.pop();
      inFlight++;
      void renew(top).finally(() => {
        inFlight--;
        if (stopped) {
          if (inFlight === 0) idle?.();
          return;
        }
        pump();
      });
    }
    arm();
  }

  async function ownerFor(n: NodeState): Promise<NodeOwner | undefined> {
    if (!wantOwner || n.owner || n.lease?.metadata.ownerReferences?.length) return n.owner;
    const now = clock.now();
    if (n.ownerCheckedAtMs && now - n.ownerCheckedAtMs < OWNER_LOOKUP_INTERVAL_MS) return undefined;
    n.ownerCheckedAtMs = now;
    try {
      n.owner = await lookupNodeOwner(ctx.client, n.name, ctx.signal);
    } catch {
      // Best effort; retried after the lookup interval.
    }
    return n.owner;
  }

  async function renew(n: NodeState): Promise<void> {
    const nodeCtx: LeaseContext = { ...ctx, holderIdentity: n.name };
    try {
      let done = false;
      if (!n.lease) {
        const { lease, created } = await ensureLease(nodeCtx, n.name, await ownerFor(n));
        n.lease = lease;
        done = created;
      }
      if (!done) {
        try {
          n.lease = await updateLease(nodeCtx, newLease(nodeCtx, n.name, n.lease, await ownerFor(n)));
        } catch (err) {
          if (KubeError.from(err).code !== "Conflict") throw err;
          // Someone else wrote the lease: re-read it and try once more, like the kubelet.
          failures++;
          n.health.consecutiveFailures++;
          n.lease = (await ensureLease(nodeCtx, n.name, undefined)).lease;
          n.lease = await updateLease(nodeCtx, newLease(nodeCtx, n.name, n.lease, await ownerFor(n)));
        }
      }
      renewals++;
      n.health.renewals++;
      n.health.lastRenewTimeMs = clock.now();
      n.health.consecutiveFailures = 0;
      n.health.lastError = undefined;
      n.retryMs = 0;
      if (inOutage) {
        inOutage = false;
        logger.info("API server reachable again, fleet renewals resume");
      }
      outage.reset();
      if (!n.removed && !stopped)
        schedule(n, clock.now() + jitterMs(renewIntervalMs, RENEW_INTERVAL_JITTER, random));
    } catch (err) {
      if (stopped) return;
      const k = KubeError.from(err);
      failures++;
      n.health.consecutiveFailures++;
      n.health.lastError = k;
      logger.v(4, "Failed to renew lease", { node: n.name, err: k });
      if (k.code === "Network" || k.code === "Unavailable" || k.code === "Timeout") {
        if (!inOutage) {
          inOutage = true;
          logger.error("API server unreachable, pausing fleet renewals with backoff", k);
        }
        pausedUntilMs = Math.max(pausedUntilMs, clock.now() + outage.next());
      }
      n.retryMs = Math.min(7_000, n.retryMs ? n.retryMs * 2 : 200);
      if (!n.removed) schedule(n, clock.now() + n.retryMs);
    }
  }

  function add(nodeName: string): void {
    checkNodeName(nodeName);
    if (nodes.has(nodeName)) return;
    const n: NodeState = {
      name: nodeName,
      lease: undefined,
      owner: undefined,
      ownerCheckedAtMs: 0,
      dueMs: 0,
      retryMs: 0,
      heapIndex: -1,
      removed: false,
      health: {
        nodeName,
        lastRenewTimeMs: undefined,
        consecutiveFailures: 0,
        renewals: 0,
        lastError: undefined,
      },
    };
    nodes.set(nodeName, n);
    if (started) {
      schedule(n, clock.now());
      pump();
    }
  }

  for (const name of options.nodeNames ?? []) add(name);

  return {
    add,
    remove(nodeName) {
      const n = nodes.get(nodeName);
      if (!n) return false;
      n.removed = true;
      heap.remove(n);
      nodes.delete(nodeName);
      return true;
    },
    start() {
      if (started) throw new HeartbeatError("InvalidArgument", "lease fleet already started");
      started = true;
      // Spread the first renewals evenly over one interval instead of a thundering herd.
      const now = clock.now();
      const all = [...nodes.values()];
      all.forEach((n, i) => {
        schedule(n, now + (all.length > 1 ? (i / all.length) * renewIntervalMs : 0));
      });
      pump();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      stopController.abort();
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
    },
    health(nodeName) {
      const n = nodes.get(nodeName);
      return n ? { ...n.health } : undefined;
    },
    summary() {
      const now = clock.now();
      let fresh = 0;
      let failing = 0;
      let backlog = 0;
      for (const n of nodes.values()) {
        if (isLeaseFresh(n.health, now, leaseDurationSeconds)) fresh++;
        if (n.health.consecutiveFailures > 0) failing++;
        if (n.heapIndex >= 0 && n.dueMs <= now) backlog++;
      }
      return { nodes: nodes.size, fresh, failing, renewals, failures, inFlight, backlog };
    },
  };
}
