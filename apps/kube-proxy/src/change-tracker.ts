import { type EndpointSliceLike, SERVICE_NAME_LABEL, type ServiceLike } from "@kubenode/netrules";

/** The annotation the EndpointSlice controller sets to when the change that caused this slice happened. */
export const TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";

interface Meta {
  metadata?: {
    name?: string | undefined;
    namespace?: string | undefined;
    annotations?: Record<string, string> | undefined;
    resourceVersion?: string | undefined;
  };
}

/**
 * Why an EndpointSlice belongs to no Service, or undefined when it names one. Such a slice programs
 * nothing; upstream logs "Error getting endpoint slice cache keys" with this error
 * (endpointslicecache.go endpointSliceCacheKeys).
 */
export function sliceWithoutService(slice: EndpointSliceLike): string | undefined {
  const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (typeof service === "string" && service !== "") return undefined;
  return `no ${SERVICE_NAME_LABEL} label set on endpoint slice: ${JSON.stringify(slice.metadata?.name ?? "")}`;
}

/** Changes taken by one sync. */
export interface PendingChanges {
  serviceChanges: number;
  endpointChanges: number;
  /** Trigger times (ms since epoch) of the EndpointSlice changes, for network programming latency. */
  triggerTimesMs: number[];
  /** "namespace/name" of every Service and EndpointSlice that changed (current value via services()/endpointSlices()). */
  changedServiceKeys: Set<string>;
  changedSliceKeys: Set<string>;
}

/**
 * Holds the current Services and EndpointSlices and counts changes between syncs (mirrors
 * kube-proxy's ServiceChangeTracker / EndpointsChangeTracker, minus the per-service diffing that
 * @kubenode/netrules does by object identity).
 */
export interface ChangeTracker {
  serviceUpdate(old: ServiceLike | undefined, current: ServiceLike | undefined): void;
  endpointSliceUpdate(old: EndpointSliceLike | undefined, current: EndpointSliceLike | undefined): void;
  services(): ServiceLike[];
  endpointSlices(): EndpointSliceLike[];
  /** The current Service / EndpointSlice with this "namespace/name", if any. */
  service(key: string): ServiceLike | undefined;
  endpointSlice(key: string): EndpointSliceLike | undefined;
  /** Returns and clears the pending change counts. */
  take(): PendingChanges;
  /** Puts back changes a failed sync took, so they are counted (and timed) by the next one. */
  restore(changes: PendingChanges): void;
  pending(): { services: number; endpoints: number };
}

function keyOf(o: Meta): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

/** Creates a tracker. `onChange` fires after every change (the proxier queues a sync there). */
export function createChangeTracker(onChange: () => void = () => {}): ChangeTracker {
  const services = new Map<string, ServiceLike>();
  const slices = new Map<string, EndpointSliceLike>();
  let serviceChanges = 0;
  let endpointChanges = 0;
  let triggerTimesMs: number[] = [];
  let changedServiceKeys = new Set<string>();
  let changedSliceKeys = new Set<string>();

  return {
    serviceUpdate(old, current) {
      const obj = (current ?? old) as Meta | undefined;
      if (!obj) return;
      const key = keyOf(obj);
      if (current) services.set(key, current);
      else services.delete(key);
      changedServiceKeys.add(key);
      serviceChanges++;
      onChange();
    },
    endpointSliceUpdate(old, current) {
      const obj = (current ?? old) as Meta | undefined;
      if (!obj) return;
      const key = keyOf(obj);
      if (current) slices.set(key, current);
      else slices.delete(key);
      changedSliceKeys.add(key);
      endpointChanges++;
      const t = (current as Meta | undefined)?.metadata?.annotations?.[TRIGGER_TIME_ANNOTATION];
      const ms = t ? Date.parse(t) : Number.NaN;
      if (Number.isFinite(ms)) triggerTimesMs.push(ms);
      onChange();
    },
    services: () => [...services.values()],
    endpointSlices: () => [...slices.values()],
    service: (key) => services.get(key),
    endpointSlice: (key) => slices.get(key),
    take() {
      const out = { serviceChanges, endpointChanges, triggerTimesMs, changedServiceKeys, changedSliceKeys };
      serviceChanges = 0;
      endpointChanges = 0;
      triggerTimesMs = [];
      changedServiceKeys = new Set();
      changedSliceKeys = new Set();
      return out;
    },
    restore(changes) {
      serviceChanges += changes.serviceChanges;
      endpointChanges += changes.endpointChanges;
      triggerTimesMs = [...changes.triggerTimesMs, ...triggerTimesMs];
      for (const k of changes.changedServiceKeys) changedServiceKeys.add(k);
      for (const k of changes.changedSliceKeys) changedSliceKeys.add(k);
    },
    pending: () => ({ services: serviceChanges, endpoints: endpointChanges }),
  };
}
