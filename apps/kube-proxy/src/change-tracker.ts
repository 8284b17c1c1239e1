import type { EndpointSliceLike, ServiceLike } from "@kubenode/netrules";

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

/** Changes taken by one sync. */
export interface PendingChanges {
  serviceChanges: number;
  endpointChanges: number;
  /** Trigger times (ms since epoch) of the EndpointSlice changes, for network programming latency. */
  triggerTimesMs: number[];
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

  return {
    serviceUpdate(old, current) {
      const obj = (current ?? old) as Meta | undefined;
      if (!obj) return;
      if (current) services.set(keyOf(current as Meta), current);
      else services.delete(keyOf(obj));
      serviceChanges++;
      onChange();
    },
    endpointSliceUpdate(old, current) {
      const obj = (current ?? old) as Meta | undefined;
      if (!obj) return;
      if (current) slices.set(keyOf(current as Meta), current);
      else slices.delete(keyOf(obj));
      endpointChanges++;
      const t = (current as Meta | undefined)?.metadata?.annotations?.[TRIGGER_TIME_ANNOTATION];
      const ms = t ? Date.parse(t) : Number.NaN;
      if (Number.isFinite(ms)) triggerTimesMs.push(ms);
      onChange();
    },
    services: () => [...services.values()],
    endpointSlices: () => [...slices.values()],
    take() {
      const out = { serviceChanges, endpointChanges, triggerTimesMs };
      serviceChanges = 0;
      endpointChanges = 0;
      triggerTimesMs = [];
      return out;
    },
    restore(changes) {
      serviceChanges += changes.serviceChanges;
      endpointChanges += changes.endpointChanges;
      triggerTimesMs = [...changes.triggerTimesMs, ...triggerTimesMs];
    },
    pending: () => ({ services: serviceChanges, endpoints: endpointChanges }),
  };
}
