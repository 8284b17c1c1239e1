import { formatQuantity, parseQuantity, quantityValue } from "@kubenode/kube";
import type { EvictionPod, PodContainer, ResourceList } from "./types.js";

/** Priority at and above which a pod is critical (scheduling.SystemCriticalPriority = 2e9). */
export const SYSTEM_CRITICAL_PRIORITY = 2_000_000_000;

const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";
const CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

/** A resource value as an integer, rounded up like Quantity.Value(); numbers pass through. */
export function resourceValue(v: string | number): number {
  return typeof v === "number" ? v : quantityValue(parseQuantity(v));
}

/** A resource value printed canonically in the format its text implies (numbers as BinarySI). */
export function formatResource(v: string | number | undefined): string {
  if (v === undefined) return "0";
  if (typeof v === "number") return formatQuantity(v, "BinarySI");
  const q = parseQuantity(v);
  return formatQuantity(quantityValue(q), q.format);
}

function quantityOf(list: ResourceList | undefined, name: string): number | undefined {
  const v = list?.[name];
  return v === undefined ? undefined : resourceValue(v);
}

interface PodResources {
  requests: Map<string, number>;
  limits: Map<string, number>;
  bestEffort: boolean;
}

const cache = new WeakMap<EvictionPod, PodResources>();

function effective(pod: EvictionPod, pick: "requests" | "limits"): Map<string, number> {
  // Mirrors PodRequests/PodLimits: sum of app containers (plus restartable init containers),
  // at least the largest regular init container, plus pod overhead.
  const out = new Map<string, number>();
  const spec = pod.spec;
  const names = new Set<string>();
  const containers: readonly PodContainer[] = spec?.containers ?? [];
  const inits: readonly PodContainer[] = spec?.initContainers ?? [];
  for (const c of [...containers, ...inits])
    for (const k of Object.keys(c.resources?.[pick] ?? {})) names.add(k);
  for (const name of names) {
    let sum = 0;
    let any = false;
    for (const c of containers) {
      const q = quantityOf(c.resources?.[pick], name);
      if (q !== undefined) {
        sum += q;
        any = true;
      }
    }
    let sidecars = 0;
    let maxInit = 0;
    for (const c of inits) {
      const q = quantityOf(c.resources?.[pick], name);
      if (q === undefined) continue;
      any = true;
      if (c.restartPolicy === "Always") {
        sidecars += q;
        maxInit = Math.max(maxInit, sidecars);
      } else {
        maxInit = Math.max(maxInit, sidecars + q);
      }
    }
    if (any) out.set(name, Math.max(sum + sidecars, maxInit));
  }
  if (pick === "requests" && spec?.overhead) {
    for (const [k, v] of Object.entries(spec.overhead)) {
      if (v === undefined) continue;
      const q = resourceValue(v);
      out.set(k, (out.get(k) ?? 0) + q);
    }
  }
  return out;
}

function resourcesOf(pod: EvictionPod): PodResources {
  let r = cache.get(pod);
  if (r) return r;
  const requests = effective(pod, "requests");
  const limits = effective(pod, "limits");
  let bestEffort = true;
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const list of [c.resources?.requests, c.resources?.limits]) {
      for (const name of ["cpu", "memory"]) {
        const q = quantityOf(list, name);
        if (q !== undefined && q > 0) bestEffort = false;
      }
    }
  }
  r = { requests, limits, bestEffort };
  cache.set(pod, r);
  return r;
}

/** The pod's effective request for a resource (0 when none), like GetResourceRequestQuantity. */
export function podRequest(pod: EvictionPod, resource: string): number {
  return resourcesOf(pod).requests.get(resource) ?? 0;
}

/** The pod's effective limit for a resource, undefined when not every path sets one. */
export function podLimit(pod: EvictionPod, resource: string): number | undefined {
  return resourcesOf(pod).limits.get(resource);
}

/** BestEffort: no container sets a cpu or memory request or limit. */
export function isBestEffort(pod: EvictionPod): boolean {
  return resourcesOf(pod).bestEffort;
}

/** Pod priority, 0 when unset (like corev1helpers.PodPriority). */
export function podPriority(pod: EvictionPod): number {
  return pod.spec?.priority ?? 0;
}

/** Static pod: its config source annotation is not "api". */
export function isStaticPod(pod: EvictionPod): boolean {
  const src = pod.metadata?.annotations?.[CONFIG_SOURCE_ANNOTATION];
  return src !== undefined && src !== "api";
}

/** Mirror pod: carries the config.mirror annotation. */
export function isMirrorPod(pod: EvictionPod): boolean {
  return pod.metadata?.annotations?.[CONFIG_MIRROR_ANNOTATION] !== undefined;
}

/** Critical pods are never evicted: static, mirror, or priority >= 2,000,000,000 (kubelettypes.IsCriticalPod). */
export function isCriticalPod(pod: EvictionPod): boolean {
  return isStaticPod(pod) || isMirrorPod(pod) || podPriority(pod) >= SYSTEM_CRITICAL_PRIORITY;
}

/** Whether the pod's tolerations tolerate a NoSchedule taint with this key (no value). */
export function toleratesTaint(pod: EvictionPod, key: string, effect = "NoSchedule"): boolean {
  for (const t of pod.spec?.tolerations ?? []) {
    if (t.effect !== undefined && t.effect !== "" && t.effect !== effect) continue;
    const op = t.operator ?? "Equal";
    if (t.key === undefined || t.key === "") {
      if (op === "Exists") return true;
      continue;
    }
    if (t.key !== key) continue;
    if (op === "Exists") return true;
    if (op === "Equal" && (t.value ?? "") === "") return true;
  }
  return false;
}

/** `namespace/name` for logs and messages. */
export function podKey(pod: EvictionPod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

/** Pod QoS class (mirrors v1qos.GetPodQOS for cpu and memory). */
export function podQos(pod: EvictionPod): "Guaranteed" | "Burstable" | "BestEffort" {
  if (isBestEffort(pod)) return "BestEffort";
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  for (const c of all) {
    for (const name of ["cpu", "memory"]) {
      const limit = quantityOf(c.resources?.limits, name);
      const request = quantityOf(c.resources?.requests, name) ?? limit;
      if (limit === undefined || request !== limit) return "Burstable";
    }
  }
  return "Guaranteed";
}
