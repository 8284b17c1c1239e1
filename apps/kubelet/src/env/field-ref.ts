// Values of the downward API (upstream pkg/fieldpath and pkg/api/v1/resource), shared by env
// (fieldRef, resourceFieldRef) and downwardAPI volumes.
import { cpus, totalmem } from "node:os";
import { parseQuantity } from "@kubenode/kube";
import type { Pod } from "../api.js";

/** What the downward API knows beyond the pod object. */
export interface DownwardContext {
  podIPs: readonly string[];
  hostIPs: readonly string[];
  /** Node allocatable, used for limits a container does not set. Default: the host's cores and memory. */
  nodeAllocatable?: { milliCpu: number; memoryBytes: number; ephemeralStorageBytes?: number };
}

/** A field path the pod does not have or that is not supported. */
export class FieldRefError extends Error {
  override readonly name = "FieldRefError";
}

/** `k="v"` lines sorted by key (fieldpath.FormatMap; Go's %q quoting). */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join("\n");
}

const SUBSCRIPT = /^metadata\.(labels|annotations)\['(.*)'\]$/;

/**
 * The value of a fieldRef path. `allowMaps`: whole `metadata.labels`/`metadata.annotations`
 * (downwardAPI volumes only, as upstream's validation allows).
 */
export function podFieldValue(pod: Pod, fieldPath: string, ctx: DownwardContext, allowMaps = false): string {
  const m = SUBSCRIPT.exec(fieldPath);
  if (m) {
    const map = m[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[m[2]!] ?? "";
  }
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name ?? "";
    case "metadata.namespace":
      return pod.metadata.namespace ?? "";
    case "metadata.uid":
      return pod.metadata.uid ?? "";
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return (pod.spec.serviceAccountName as string | undefined) ?? "";
    case "status.hostIP":
      return ctx.hostIPs[0] ?? "";
    case "status.hostIPs":
      return ctx.hostIPs.join(",");
    case "status.podIP":
      return ctx.podIPs[0] ?? "";
    case "status.podIPs":
      return ctx.podIPs.join(",");
  }
  if (allowMaps && fieldPath === "metadata.labels") return formatMap(pod.metadata.labels);
  if (allowMaps && fieldPath === "metadata.annotations") return formatMap(pod.metadata.annotations);
  throw new FieldRefError(`unsupported fieldPath: ${fieldPath}`);
}

function amount(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  return typeof v === "number" ? v : quantityValueExact(String(v));
}

/** A quantity as a float ("250m" stays 0.25). */
function quantityValueExact(text: string): number {
  return parseQuantity(text).amount;
}

/**
 * resourceFieldRef (ExtractContainerResourceValue): limits.cpu/memory/ephemeral-storage,
 * requests.cpu/memory/ephemeral-storage of `containerName`, divided by `divisor` and rounded up
 * (cpu at least 1 when a value is set). Unset limits are the node's allocatable (MergeContainerResourceLimits).
 */
export function resourceFieldValue(
  pod: Pod,
  containerName: string,
  resource: string,
  divisor: string | number | undefined,
  ctx: DownwardContext,
): string {
  const c = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find(
    (x) => x.name === containerName,
  );
  if (!c) throw new FieldRefError(`container ${containerName} not found in pod ${pod.metadata.name}`);
  const alloc = ctx.nodeAllocatable ?? { milliCpu: cpus().length * 1000, memoryBytes: totalmem() };
  const [kind, name] = resource.split(".", 2) as [string, string | undefined];
  if ((kind !== "limits" && kind !== "requests") || !name)
    throw new FieldRefError(`unsupported container resource: ${resource}`);
  const list = kind === "limits" ? c.resources?.limits : c.resources?.requests;
  let value = amount(list?.[name]);
  if (value === undefined && kind === "limits") {
    if (name === "cpu") value = alloc.milliCpu / 1000;
    else if (name === "memory") value = alloc.memoryBytes;
    else if (name === "ephemeral-storage") value = alloc.ephemeralStorageBytes ?? 0;
  }
  if (name !== "cpu" && name !== "memory" && name !== "ephemeral-storage" && !name.startsWith("hugepages-"))
    throw new FieldRefError(`unsupported container resource: ${resource}`);
  const div = amount(divisor ?? 1) || 1;
  const v = value ?? 0;
  if (name === "cpu") {
    // convertResourceCPUToString: ceil(milli / divisorMilli), at least 1 when the value is set
    return String(Math.max(v > 0 ? 1 : 0, Math.ceil(Math.round(v * 1000) / Math.round(div * 1000))));
  }
  return String(Math.ceil(v / div));
}
