import type { Clock, KubeClient } from "@kubenode/kube";
import { KubeError } from "@kubenode/kube";
import { HeartbeatError } from "./errors.js";

/** The namespace of node leases. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";
/** The kubelet's default lease duration (`nodeLeaseDurationSeconds`). */
export const DEFAULT_LEASE_DURATION_SECONDS = 40;
/** Renew interval = 0.25 x lease duration (kubelet's `renewIntervalFraction`). */
export const RENEW_INTERVAL_FRACTION = 0.25;
/** Jitter factor applied to every renew interval, like `wait.JitterUntil(..., 0.04, ...)`. */
export const RENEW_INTERVAL_JITTER = 0.04;
/** Update attempts per renewal before giving up until the next interval. */
export const MAX_UPDATE_RETRIES = 5;

/**
 * The lease duration and renew interval a controller or fleet runs with: the kubelet's defaults
 * (40 s, renewed every quarter of it) unless given, checked.
 */
export function leaseTiming(options: {
  leaseDurationSeconds?: number | undefined;
  renewIntervalMs?: number | undefined;
}): { leaseDurationSeconds: number; renewIntervalMs: number } {
  const leaseDurationSeconds = options.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS;
  if (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds <= 0) {
    throw new HeartbeatError(
      "InvalidArgument",
      `leaseDurationSeconds must be a positive integer, got ${leaseDurationSeconds}`,
    );
  }
  const renewIntervalMs = options.renewIntervalMs ?? leaseDurationSeconds * 1000 * RENEW_INTERVAL_FRACTION;
  if (!(renewIntervalMs > 0))
    throw new HeartbeatError("InvalidArgument", `renewIntervalMs must be > 0, got ${renewIntervalMs}`);
  return { leaseDurationSeconds, renewIntervalMs };
}

/** A coordination.k8s.io/v1 Lease, the fields heartbeat reads and writes. */
export interface Lease {
  apiVersion?: "coordination.k8s.io/v1";
  kind?: "Lease";
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    uid?: string;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
    [key: string]: unknown;
  };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
    leaseTransitions?: number;
    [key: string]: unknown;
  };
}

/** Formats a time as a Kubernetes MicroTime (RFC 3339 with microseconds). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/(\.\d{3})Z$/, "$1000Z");
}

export function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** What every renewal needs to know. */
export interface LeaseContext {
  client: KubeClient;
  clock: Clock;
  namespace: string;
  holderIdentity: string;
  leaseDurationSeconds: number;
  signal?: AbortSignal;
}

/**
 * The lease to write: a copy of `base` (or a fresh one) with renewTime = now, holder and
 * duration set (mirrors the lease controller's newLease).
 */
export function newLease(
  ctx: LeaseContext,
  nodeName: string,
  base: Lease | undefined,
  owner?: NodeOwner,
): Lease {
  const lease: Lease = base
    ? { ...base, metadata: { ...base.metadata }, spec: { ...base.spec } }
    : {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: nodeName, namespace: ctx.namespace },
        spec: {},
      };
  lease.spec.holderIdentity = ctx.holderIdentity;
  lease.spec.leaseDurationSeconds = ctx.leaseDurationSeconds;
  lease.spec.renewTime = microTime(ctx.clock.now());
  if (owner && !lease.metadata.ownerReferences?.length) {
    // The lease is garbage-collected with its Node (kubelet's setNodeOwnerFunc).
    lease.metadata.ownerReferences = [{ apiVersion: "v1", kind: "Node", name: owner.name, uid: owner.uid }];
  }
  return lease;
}

/** The Node a lease belongs to, once its UID is known. */
export interface NodeOwner {
  name: string;
  uid: string;
}

/** GET the node's UID; undefined when the Node does not exist (yet). */
export async function lookupNodeOwner(
  client: KubeClient,
  nodeName: string,
  signal?: AbortSignal,
): Promise<NodeOwner | undefined> {
  try {
    const node = await client.request<{ metadata?: { uid?: string } }>({
      method: "GET",
      path: `/api/v1/nodes/${encodeURIComponent(nodeName)}`,
      signal,
    });
    const uid = node?.metadata?.uid;
    return uid ? { name: nodeName, uid } : undefined;
  } catch (err) {
    const k = KubeError.from(err);
    if (k.code === "NotFound") return undefined;
    throw k;
  }
}

/** GET the lease, or create it when missing. `created` tells whether this call created it. */
export async function ensureLease(
  ctx: LeaseContext,
  nodeName: string,
  owner: NodeOwner | undefined,
): Promise<{ lease: Lease; created: boolean }> {
  const sig = ctx.signal ? { signal: ctx.signal } : {};
  try {
    const lease = await ctx.client.request<Lease>({
      method: "GET",
      path: leasePath(ctx.namespace, nodeName),
      ...sig,
    });
    return { lease, created: false };
  } catch (err) {
    const k = KubeError.from(err);
    if (k.code !== "NotFound") throw k;
  }
  const lease = await ctx.client.request<Lease>({
    method: "POST",
    path: leasePath(ctx.namespace),
    body: newLease(ctx, nodeName, undefined, owner),
    ...sig,
  });
  return { lease: cacheable(lease), created: true };
}

/**
 * The lease as kept in memory between renewals: managedFields dropped (the server keeps its own
 * and they are most of a lease's size, which matters with thousands cached in fleet mode).
 */
export function cacheable(lease: Lease): Lease {
  if (lease.metadata.managedFields === undefined) return lease;
  const { managedFields: _, ...metadata } = lease.metadata;
  return { ...lease, metadata: metadata as Lease["metadata"] };
}

/** PUT the renewed lease; the cached resourceVersion makes a stale write fail with Conflict. */
export async function updateLease(ctx: LeaseContext, lease: Lease): Promise<Lease> {
  return cacheable(
    await ctx.client.request<Lease>({
      method: "PUT",
      path: leasePath(ctx.namespace, lease.metadata.name),
      body: lease,
      signal: ctx.signal,
    }),
  );
}
