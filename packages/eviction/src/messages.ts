import { formatQuantity } from "@kubenode/kube";
import { formatResource, resourceValue } from "./pod.js";
import { resourceFormat, SIGNAL_TO_RESOURCE, type SignalObservations, type StatsLookup } from "./signals.js";
import { thresholdQuantity } from "./thresholds.js";
import type { EvictionPod, EvictionResource, PressureCondition, Threshold } from "./types.js";

/** Reason on the evicted pod's status and on the Evicted event. */
export const EVICTED_REASON = "Evicted";

/** Event annotation keys (mirror kubelet's eviction event annotations). */
export const OFFENDING_CONTAINERS_KEY = "offending_containers";
export const OFFENDING_CONTAINERS_USAGE_KEY = "offending_containers_usage";
export const STARVED_RESOURCE_KEY = "starved_resource";

/** "The node had condition: [MemoryPressure]. " as kubelet's admission rejects with. */
export function nodeConditionMessage(conditions: readonly PressureCondition[]): string {
  return `The node had condition: [${conditions.join(" ")}]. `;
}

/**
 * Builds the eviction message and event annotations, in kubelet's wording:
 * "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container x was
 * using 300Mi, request is 100Mi, has larger consumption of memory. "
 */
export function evictionMessage(
  resource: EvictionResource,
  pod: EvictionPod,
  stats: StatsLookup,
  thresholds: readonly Threshold[],
  observations: SignalObservations,
): { message: string; annotations: Record<string, string> } {
  let message = `The node was low on resource: ${resource}. `;
  const annotations: Record<string, string> = {};
  for (const t of thresholds) {
    if (SIGNAL_TO_RESOURCE[t.signal] !== resource) continue;
    const obs = observations.get(t.signal);
    if (!obs) continue;
    const q =
      t.value.quantity !== undefined
        ? formatQuantity(t.value.quantity, t.value.format ?? "BinarySI")
        : formatQuantity(thresholdQuantity(t.value, obs.capacity), "BinarySI");
    message += `Threshold quantity: ${q}, available: ${formatQuantity(obs.available, resourceFormat(resource))}. `;
    break;
  }
  const podStats = stats(pod.metadata?.uid);
  if (!podStats) return { message, annotations };
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const exceeded: string[] = [];
  const usages: string[] = [];
  for (const cs of podStats.containers ?? []) {
    const spec = containers.find((c) => c.name === cs.name);
    if (!spec) continue;
    const rawRequest = spec.resources?.requests?.[resource];
    const request = rawRequest === undefined ? 0 : resourceValue(rawRequest);
    let usage: number | undefined;
    if (resource === "ephemeral-storage") {
      if (cs.rootfs?.usedBytes !== undefined && cs.logs?.usedBytes !== undefined)
        usage = cs.rootfs.usedBytes + cs.logs.usedBytes;
    } else if (resource === "memory") {
      usage = cs.memoryWorkingSetBytes;
    }
    if (usage !== undefined && usage > request) {
      const u = formatQuantity(usage, "BinarySI");
      message += `Container ${cs.name} was using ${u}, request is ${formatResource(rawRequest)}, has larger consumption of ${resource}. `;
      exceeded.push(cs.name);
      usages.push(u);
    }
  }
  annotations[OFFENDING_CONTAINERS_KEY] = exceeded.join(",");
  annotations[OFFENDING_CONTAINERS_USAGE_KEY] = usages.join(",");
  annotations[STARVED_RESOURCE_KEY] = resource;
  return { message, annotations };
}

/** A node condition for node-status, without timestamps (node-status owns transition times). */
export interface PressureNodeCondition {
  type: PressureCondition;
  status: "True" | "False";
  reason: string;
  message: string;
}

const CONDITION_TEXT: Record<PressureCondition, { t: [string, string]; f: [string, string] }> = {
  MemoryPressure: {
    t: ["KubeletHasInsufficientMemory", "kubelet has insufficient memory available"],
    f: ["KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
  },
  DiskPressure: {
    t: ["KubeletHasDiskPressure", "kubelet has disk pressure"],
    f: ["KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
  },
  PIDPressure: {
    t: ["KubeletHasInsufficientPID", "kubelet has insufficient PID available"],
    f: ["KubeletHasSufficientPID", "kubelet has sufficient PID available"],
  },
};

/** The three pressure conditions with kubelet's reasons and messages (mirrors nodestatus setters). */
export function pressureNodeConditions(active: readonly PressureCondition[]): PressureNodeCondition[] {
  return (["MemoryPressure", "DiskPressure", "PIDPressure"] as const).map((type) => {
    const on = active.includes(type);
    const [reason, message] = on ? CONDITION_TEXT[type].t : CONDITION_TEXT[type].f;
    return { type, status: on ? "True" : "False", reason, message };
  });
}
