// Pod QoS class (pkg/apis/core/v1/helper/qos GetPodQOS) and resource arithmetic.
import { parseQuantity } from "@kubenode/kube";
import type { Container, Pod, ResourceList } from "./api.js";

export type QosClass = "Guaranteed" | "Burstable" | "BestEffort";

const QOS_RESOURCES = ["cpu", "memory"] as const;

function amount(list: ResourceList | undefined, name: string): number | undefined {
  const v = list?.[name];
  if (v === undefined) return undefined;
  return typeof v === "number" ? v : parseQuantity(v).amount;
}

/**
 * Guaranteed when every container sets cpu and memory limits equal to its requests (requests
 * default to limits); BestEffort when no container requests or limits cpu or memory; else Burstable.
 */
export function podQosClass(pod: Pod): QosClass {
  const containers: Container[] = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    for (const r of QOS_RESOURCES) {
      const limit = amount(c.resources?.limits, r);
      const request = amount(c.resources?.requests, r) ?? limit;
      if ((request !== undefined && request > 0) || (limit !== undefined && limit > 0)) any = true;
      if (limit === undefined || request === undefined || limit !== request) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

/**
 * Rounds up like resource.Quantity's MilliValue/Value, ignoring binary floating-point noise
 * (`1.1 * 1000` is 1100.0000000000002 and must give 1100, not 1101).
 */
function ceilExact(x: number): number {
  const nearest = Math.round(x);
  return Math.abs(x - nearest) < 1e-6 ? nearest : Math.ceil(x);
}

/** milli-CPU of a quantity (`"250m"` → 250, `"1"` → 1000, `"1.1"` → 1100). */
export function milliCpu(list: ResourceList | undefined, name = "cpu"): number | undefined {
  const v = amount(list, name);
  return v === undefined ? undefined : ceilExact(v * 1000);
}

/** Bytes of a memory quantity. */
export function bytesOf(list: ResourceList | undefined, name = "memory"): number | undefined {
  const v = amount(list, name);
  return v === undefined ? undefined : ceilExact(v);
}
