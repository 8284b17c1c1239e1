import type { ApiCore } from "../core.js";
import { findResource, type ResourceDef } from "../resources.js";
import { StatusFailure } from "../status.js";
import type { ApiStorage, StorageEvent } from "../storage.js";
import type { Json, KubeObject } from "../types.js";

/** What every dev controller is given: the API semantics layer plus the shared machinery. */
export interface ControllerContext {
  readonly core: ApiCore;
  readonly storage: ApiStorage;
  /** Calls `fn` for every change of a resource from now on (subscriptions close on stop). */
  watch(def: ResourceDef, fn: (e: StorageEvent) => void): void;
  /** Asks the named controller to sync soon; several triggers before it runs coalesce into one sync. */
  trigger(name: string): void;
  /** Queues background work (garbage collection); `syncAll()` drains the queue. */
  enqueue(task: () => void): void;
  /**
   * Emits a core/v1 Event about an object, as the upstream controllers' event recorders do.
   * `involved` defaults to Pod for namespaced objects and Node otherwise.
   */
  recordEvent(
    obj: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
    component: string,
    action: string,
    involved?: ResourceDef,
  ): void;
}

/** One dev controller: a level-triggered sync (re-run on its watches and on the periodic resync). */
export interface Controller {
  name: string;
  sync(): void;
  /** Called when the server resumes after suspend(). */
  resume?(): void;
}

/** The v1 definition of a served resource (every resource the controllers touch is served as v1). */
export const R = (group: string, plural: string): ResourceDef => findResource(group, "v1", plural)!;

/** Runs a write, ignoring NotFound and Conflict: the object moved on and the next sync sees it. */
export function ignoreMissing(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusFailure && (e.code === 404 || e.code === 409)) return;
    throw e;
  }
}

export const isTerminal = (p: KubeObject): boolean =>
  p.status?.phase === "Succeeded" || p.status?.phase === "Failed";

/** The toleration of `tols` that tolerates `taint`, if any (v1.Toleration.ToleratesTaint). */
export function tolerates(tols: Json[], taint: Json): Json | undefined {
  return tols.find((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === "Exists") return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? "") === (taint.value ?? "");
  });
}

/** An owner reference naming `owner` as the managing controller (controller_utils' NewControllerRef). */
export function controllerRef(def: ResourceDef, owner: KubeObject): Json {
  return {
    apiVersion: def.apiVersion,
    kind: def.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The controller owner reference of an object, if any (metav1.GetControllerOf). */
export function controllerOf(o: KubeObject): Json | undefined {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}

/** Builds the recordEvent of a {@link ControllerContext}. */
export function eventRecorder(core: ApiCore): ControllerContext["recordEvent"] {
  const eventsDef = R("", "events");
  const podDef = R("", "pods");
  const nodeDef = R("", "nodes");
  // Upstream names an event `<object>.<UnixNano in hex>`, unique because its clock moves every
  // nanosecond. A test's clock may stand still across many events, so the nanoseconds below the
  // millisecond count events instead: a name is never reused (a random suffix was, now and then,
  // and the second event was lost to AlreadyExists).
  let seq = 0;
  return (obj, type, reason, message, component, action, involved) => {
    const now = core.clock.now();
    const nanos = BigInt(Math.floor(now)) * 1_000_000n + BigInt(seq++ % 1_000_000);
    const ns = obj.metadata.namespace || "default";
    const kindDef = involved ?? (obj.metadata.namespace ? podDef : nodeDef);
    ignoreMissing(() =>
      core.create(eventsDef, ns, {
        metadata: {
          name: `${obj.metadata.name}.${nanos.toString(16)}`,
          namespace: ns,
        },
        involvedObject: {
          kind: kindDef.kind,
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
          uid: obj.metadata.uid,
          apiVersion: kindDef.apiVersion,
          resourceVersion: obj.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        action,
        source: { component },
        reportingComponent: component,
        reportingInstance: `${component}-kubenode`,
        eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"),
        firstTimestamp: null,
        lastTimestamp: null,
      }),
    );
  };
}
