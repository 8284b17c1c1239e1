import type { Clock, KubeClient, Logger } from "@kubenode/kube";
import { createBackoff, KubeError, PatchType, silentLogger } from "@kubenode/kube";
import { NodeStatusError } from "./errors.js";
import { statusChanged, statusPatch } from "./status.js";
import type { Node, NodeStatus, Taint } from "./types.js";

/** How the Node is first created (kubelet --register-node flags). */
export interface RegistrationOptions {
  /** --node-labels, added to the default hostname/os/arch labels. */
  labels?: Record<string, string> | undefined;
  /** --register-with-taints. */
  taints?: Taint[] | undefined;
  /** --register-schedulable=false: adds node.kubernetes.io/unschedulable:NoSchedule. */
  unschedulable?: boolean | undefined;
  /** Value of kubernetes.io/hostname; default the node name. */
  hostname?: string | undefined;
  /** Extra annotations. */
  annotations?: Record<string, string> | undefined;
}

const TAINT_UNSCHEDULABLE: Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };

function checkLabels(labels: Record<string, string>): void {
  const key = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
  const value = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
  for (const [k, v] of Object.entries(labels)) {
    if (!key.test(k))
      throw new NodeStatusError("InvalidArgument", `label key ${JSON.stringify(k)} is not a valid label key`);
    if (typeof v !== "string" || !value.test(v)) {
      throw new NodeStatusError(
        "InvalidArgument",
        `label ${k}=${JSON.stringify(v)}: value is not a valid label value`,
      );
    }
  }
}

/** The default labels the kubelet owns on its Node. */
export function defaultNodeLabels(
  nodeName: string,
  os: string,
  arch: string,
  hostname?: string,
): Record<string, string> {
  return {
    "kubernetes.io/hostname": hostname ?? nodeName,
    "kubernetes.io/os": os,
    "kubernetes.io/arch": arch,
  };
}

/** The Node to POST: default + user labels, taints, attach-detach annotation, initial status. */
export function buildInitialNode(
  nodeName: string,
  status: NodeStatus,
  options: RegistrationOptions = {},
): Node {
  const os = status.nodeInfo?.operatingSystem ?? "linux";
  const arch = status.nodeInfo?.architecture ?? "amd64";
  const labels = { ...options.labels, ...defaultNodeLabels(nodeName, os, arch, options.hostname) };
  checkLabels(labels);
  const taints = [...(options.taints ?? [])];
  for (const t of taints) {
    if (!t.key || !["NoSchedule", "PreferNoSchedule", "NoExecute"].includes(t.effect)) {
      throw new NodeStatusError(
        "InvalidArgument",
        `taint ${JSON.stringify(t)} needs a key and effect NoSchedule, PreferNoSchedule or NoExecute`,
      );
    }
  }
  if (options.unschedulable) taints.push(TAINT_UNSCHEDULABLE);
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: nodeName,
      labels,
      annotations: {
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        ...options.annotations,
      },
    },
    spec: { ...(taints.length ? { taints } : {}), ...(options.unschedulable ? { unschedulable: true } : {}) },
    status,
  };
}

/**
 * Registers the Node: POST with backoff (100 ms doubling to 7 s) until it succeeds or `signal`
 * aborts. If the Node already exists, reconciles the default labels and the status (e.g.
 * hugepages sizes that went away) and returns the existing object, as the kubelet does.
 */
export async function registerNode(args: {
  client: KubeClient;
  node: Node;
  clock: Clock;
  signal?: AbortSignal;
  /** Failed attempts are logged here ("Unable to register node with API server"). Default: dropped. */
  logger?: Logger;
}): Promise<{ node: Node; created: boolean }> {
  const { client, node, clock, signal } = args;
  const logger = args.logger ?? silentLogger;
  const name = node.metadata.name;
  const backoff = createBackoff({ initialMs: 100, maxMs: 7_000 });
  const sig = signal ? { signal } : {};
  for (;;) {
    try {
      const created = await client.request<Node>({
        method: "POST",
        path: "/api/v1/nodes",
        body: node,
        ...sig,
      });
      return { node: created, created: true };
    } catch (err) {
      const k = KubeError.from(err);
      if (k.code === "AlreadyExists") {
        try {
          return { node: await reconcileExisting(client, node, sig), created: false };
        } catch (err2) {
          logger.error("Unable to reconcile the existing node", KubeError.from(err2), { node: name });
        }
      } else if (signal?.aborted || k.code === "Aborted") {
        throw new NodeStatusError("Stopped", `registration of node ${name} stopped`, { cause: k });
      } else {
        logger.error("Unable to register node with API server", k, { node: name });
      }
    }
    try {
      await clock.sleep(backoff.next(), signal);
    } catch (err) {
      throw new NodeStatusError("Stopped", `registration of node ${name} stopped`, { cause: err });
    }
  }
}

async function reconcileExisting(
  client: KubeClient,
  desired: Node,
  sig: { signal?: AbortSignal },
): Promise<Node> {
  const name = desired.metadata.name;
  const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
  let existing = await client.request<Node>({ method: "GET", path, ...sig });
  // Default labels are the kubelet's to keep right; user labels set later by others are left alone.
  const wantLabels = defaultNodeLabels(
    name,
    desired.metadata.labels?.["kubernetes.io/os"] ?? "linux",
    desired.metadata.labels?.["kubernetes.io/arch"] ?? "amd64",
    desired.metadata.labels?.["kubernetes.io/hostname"],
  );
  const labelPatch: Record<string, string> = {};
  for (const [k, v] of Object.entries(wantLabels)) if (existing.metadata.labels?.[k] !== v) labelPatch[k] = v;
  if (Object.keys(labelPatch).length > 0) {
    existing = await client.request<Node>({
      method: "PATCH",
      path,
      contentType: PatchType.StrategicMerge,
      body: { metadata: { labels: labelPatch } },
      ...sig,
    });
  }
  const desiredStatus = desired.status;
  if (desiredStatus) {
    // Keep the server's conditions (with their transition times); reconcile everything else.
    const merged: NodeStatus = {
      ...desiredStatus,
      conditions: existing.status?.conditions ?? desiredStatus.conditions ?? [],
    };
    if (statusChanged(existing.status, merged)) {
      existing = await client.request<Node>({
        method: "PATCH",
        path: `${path}/status`,
        contentType: PatchType.StrategicMerge,
        body: statusPatch(existing.status, { ...merged, conditions: merged.conditions ?? [] }),
        ...sig,
      });
    }
  }
  return existing;
}
