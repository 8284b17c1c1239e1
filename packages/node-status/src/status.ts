import { type NodeEvent, pressureCondition, readyCondition } from "./conditions.js";
import { NodeStatusError } from "./errors.js";
import type { MachineInfo, NodePressure, RuntimeCondition } from "./providers.js";
import { amountOf, formatBytes, formatCount, formatCpuMillis } from "./quantity.js";
import type { ContainerImage, NodeAddress, NodeCondition, NodeStatus } from "./types.js";

/** Resource amounts held back from pods, as quantities ("500m", "1Gi"). */
export interface ReservedResources {
  cpu?: string;
  memory?: string;
  "ephemeral-storage"?: string;
}

/** Settings of the status computation, mirroring kubelet flags. */
export interface NodeStatusConfig {
  nodeName: string;
  /** --max-pods; default 110. */
  maxPods?: number;
  /** kubeletVersion in nodeInfo. */
  kubeletVersion?: string;
  /** --kube-reserved. */
  kubeReserved?: ReservedResources;
  /** --system-reserved. */
  systemReserved?: ReservedResources;
  /**
   * Hard eviction thresholds subtracted from allocatable: quantities or percentages of capacity.
   * Default memory.available 100Mi, nodefs.available 10% (the kubelet's Linux defaults).
   */
  evictionHard?: { "memory.available"?: string; "nodefs.available"?: string };
  /** Port in daemonEndpoints; default 10250. */
  kubeletPort?: number;
  /** Most images reported; default 50 (nodeStatusMaxImages). */
  maxImages?: number;
}

/** Provider answers for one computation; failures are captured, not thrown. */
export interface StatusInputs {
  machine: MachineInfo;
  addresses: NodeAddress[];
  runtimeVersion: { name: string; version: string } | undefined;
  /** undefined when there is no runtime provider (a virtual node). */
  runtime: RuntimeState | undefined;
  pressure: NodePressure;
  images: ContainerImage[] | undefined;
  readinessErrors: string[];
  extendedResources: Record<string, string>;
}

/** What node-status knows of the runtime's health. */
export type RuntimeState =
  | { kind: "never-synced" }
  | { kind: "down" }
  | { kind: "ok"; conditions: RuntimeCondition[] };

const MAX_NAMES_PER_IMAGE = 5;

function threshold(value: string | undefined, capacity: number, what: string): number {
  if (value === undefined) return 0;
  const v = value.trim();
  if (v.endsWith("%")) {
    const pct = Number(v.slice(0, -1));
    if (!Number.isFinite(pct) || pct < 0 || pct > 100)
      throw new NodeStatusError("InvalidArgument", `${what}: ${value} is not a percentage`);
    return (capacity * pct) / 100;
  }
  return amountOf(v, what);
}

/** capacity and allocatable, with kubeReserved + systemReserved + hard eviction subtracted. */
export function computeResources(
  machine: MachineInfo,
  extended: Record<string, string>,
  config: NodeStatusConfig,
): { capacity: Record<string, string>; allocatable: Record<string, string> } {
  const maxPods = config.maxPods ?? 110;
  const kr = config.kubeReserved ?? {};
  const sr = config.systemReserved ?? {};
  const ev = { "memory.available": "100Mi", "nodefs.available": "10%", ...config.evictionHard };
  const cpuMillis = machine.cpuCores * 1000;
  const hugeTotal = Object.values(machine.hugePagesBytes).reduce((a, b) => a + b, 0);
  const capacity: Record<string, string> = {
    cpu: formatCpuMillis(cpuMillis),
    memory: formatBytes(machine.memoryBytes),
    pods: formatCount(maxPods),
  };
  const cpuReserved =
    amountOf(kr.cpu ?? "0", "kubeReserved.cpu") + amountOf(sr.cpu ?? "0", "systemReserved.cpu");
  const memReserved =
    amountOf(kr.memory ?? "0", "kubeReserved.memory") +
    amountOf(sr.memory ?? "0", "systemReserved.memory") +
    threshold(ev["memory.available"], machine.memoryBytes, "evictionHard memory.available");
  const allocatable: Record<string, string> = {
    cpu: formatCpuMillis(cpuMillis - cpuReserved * 1000),
    // Hugepages are preallocated, so they are not allocatable as ordinary memory.
    memory: formatBytes(machine.memoryBytes - memReserved - hugeTotal),
    pods: formatCount(maxPods),
  };
  if (machine.ephemeralStorageBytes !== undefined) {
    const cap = machine.ephemeralStorageBytes;
    capacity["ephemeral-storage"] = formatBytes(cap);
    const reserved =
      amountOf(kr["ephemeral-storage"] ?? "0", "kubeReserved.ephemeral-storage") +
      amountOf(sr["ephemeral-storage"] ?? "0", "systemReserved.ephemeral-storage") +
      threshold(ev["nodefs.available"], cap, "evictionHard nodefs.available");
    allocatable["ephemeral-storage"] = formatBytes(cap - reserved);
  }
  for (const [pageBytes, total] of Object.entries(machine.hugePagesBytes)) {
    const key = `hugepages-${formatBytes(Number(pageBytes))}`;
    capacity[key] = formatBytes(total);
    allocatable[key] = formatBytes(total);
  }
  for (const [name, value] of Object.entries(extended)) {
    amountOf(value, `extended resource ${name}`);
    capacity[name] = value;
    allocatable[name] = value;
  }
  return { capacity, allocatable };
}

function runtimeErrors(runtime: RuntimeState | undefined): string[] {
  if (!runtime) return [];
  if (runtime.kind === "never-synced") return ["container runtime status check may not have completed yet"];
  if (runtime.kind === "down") return ["container runtime is down"];
  const errs: string[] = [];
  const fmt = (c: RuntimeCondition) =>
    `${c.type}=${c.status} reason:${c.reason ?? ""} message:${c.message ?? ""}`;
  const rt = runtime.conditions.find((c) => c.type === "RuntimeReady");
  if (!rt?.status) {
    errs.push(`container runtime not ready: ${rt ? fmt(rt) : "RuntimeReady condition missing"}`);
  }
  const net = runtime.conditions.find((c) => c.type === "NetworkReady");
  if (!net?.status) {
    errs.push(`container runtime network not ready: ${net ? fmt(net) : "NetworkReady condition missing"}`);
  }
  return errs;
}

/** Images as the kubelet reports them: largest first, at most `max`, at most 5 names each. */
export function reportedImages(images: ContainerImage[], max = 50): ContainerImage[] {
  return [...images]
    .filter((i) => i.names.length > 0)
    .sort((a, b) => b.sizeBytes - a.sizeBytes)
    .slice(0, max)
    .map((i) => ({ names: i.names.slice(0, MAX_NAMES_PER_IMAGE), sizeBytes: i.sizeBytes }));
}

/**
 * Computes the full NodeStatus from provider answers and the previously reported status, in the
 * kubelet's setter order (addresses, machine info, versions, daemon endpoints, images, pressure
 * conditions, Ready last). Returns the transition events to record.
 */
export function computeNodeStatus(
  inputs: StatusInputs,
  previous: NodeStatus | undefined,
  config: NodeStatusConfig,
  nowMs: number,
): { status: NodeStatus; events: NodeEvent[] } {
  const events: NodeEvent[] = [];
  const { capacity, allocatable } = computeResources(inputs.machine, inputs.extendedResources, config);
  const m = inputs.machine;
  const status: NodeStatus = {
    addresses: inputs.addresses,
    capacity,
    allocatable,
    nodeInfo: {
      machineID: m.machineID,
      systemUUID: m.systemUUID,
      bootID: m.bootID,
      kernelVersion: m.kernelVersion,
      osImage: m.osImage,
      containerRuntimeVersion: inputs.runtimeVersion
        ? `${inputs.runtimeVersion.name}://${inputs.runtimeVersion.version}`
        : "",
      kubeletVersion: config.kubeletVersion ?? "v1.32.0",
      kubeProxyVersion: "",
      operatingSystem: m.operatingSystem,
      architecture: m.architecture,
    },
    daemonEndpoints: { kubeletEndpoint: { Port: config.kubeletPort ?? 10250 } },
  };
  if (inputs.images) status.images = reportedImages(inputs.images, config.maxImages ?? 50);

  const prev = (type: string): NodeCondition | undefined =>
    previous?.conditions?.find((c) => c.type === type);
  const conditions: NodeCondition[] = [];
  for (const kind of ["memory", "disk", "pid"] as const) {
    const type = kind === "memory" ? "MemoryPressure" : kind === "disk" ? "DiskPressure" : "PIDPressure";
    const r = pressureCondition(kind, prev(type), inputs.pressure[kind], nowMs, config.nodeName);
    conditions.push(r.condition);
    if (r.event) events.push(r.event);
  }
  const errors = [...runtimeErrors(inputs.runtime), ...inputs.readinessErrors];
  const missing = ["cpu", "memory", "pods"].filter((r) => !(r in capacity));
  if (missing.length > 0) errors.push(`missing node capacity for resources: ${missing.join(", ")}`);
  const ready = readyCondition(prev("Ready"), errors, nowMs, config.nodeName);
  conditions.push(ready.condition);
  if (ready.event) events.push(ready.event);
  // Keep conditions the kubelet does not own (e.g. set by other agents) as they were.
  for (const c of previous?.conditions ?? []) {
    if (!conditions.some((x) => x.type === c.type)) conditions.push(c);
  }
  status.conditions = conditions;
  return { status, events };
}

/** Status without heartbeat times, to decide whether anything changed. */
function withoutHeartbeats(status: NodeStatus | undefined): unknown {
  if (!status) return undefined;
  return {
    ...status,
    conditions: (status.conditions ?? []).map(({ lastHeartbeatTime: _, ...rest }) => rest),
  };
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** True when `next` differs from `previous` in anything but lastHeartbeatTime. */
export function statusChanged(previous: NodeStatus | undefined, next: NodeStatus): boolean {
  const keys = Object.keys(next);
  const prevSubset = previous ? Object.fromEntries(keys.map((k) => [k, previous[k]])) : undefined;
  return stable(withoutHeartbeats(prevSubset as NodeStatus | undefined)) !== stable(withoutHeartbeats(next));
}

/**
 * A strategic merge patch turning `previous` into `next` for the status subresource: only
 * changed fields; removed capacity keys deleted with null; addresses replaced whole (their merge
 * key, type, is not unique).
 */
export function statusPatch(
  previous: NodeStatus | undefined,
  next: NodeStatus,
): { status: Record<string, unknown> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(next)) {
    const old = previous?.[key];
    if (key !== "conditions" && stable(old) === stable(value)) continue;
    if ((key === "capacity" || key === "allocatable") && old && typeof old === "object") {
      const map: Record<string, unknown> = { ...(value as Record<string, string>) };
      for (const k of Object.keys(old)) if (!(k in map)) map[k] = null;
      out[key] = map;
    } else if (key === "addresses") {
      out[key] = [{ $patch: "replace" }, ...(value as NodeAddress[])];
    } else {
      out[key] = value;
    }
  }
  return { status: out };
}
