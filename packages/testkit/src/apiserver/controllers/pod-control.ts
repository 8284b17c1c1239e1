import { cloneJson } from "../patch.js";
import type { ResourceDef } from "../resources.js";
import { StatusFailure } from "../status.js";
import type { Json, KubeObject } from "../types.js";
import { labelSelectorMatches } from "../workloads.js";
import {
  type ControllerContext,
  controllerOf,
  controllerRef,
  ignoreMissing,
  isTerminal,
  R,
} from "./context.js";

/**
 * Pod helpers shared by the workload controllers, after pkg/controller/controller_utils.go
 * (RealPodControl, ActivePodsWithRanks) and pkg/api/v1/pod (readiness, availability).
 */

/** Counted by controllers: not finished and not being deleted (controller.IsPodActive). */
export const isActive = (p: KubeObject): boolean => !isTerminal(p) && !p.metadata.deletionTimestamp;

const readyCondition = (p: KubeObject): Json | undefined =>
  (p.status?.conditions ?? []).find((c: Json) => c.type === "Ready");

export const isReady = (p: KubeObject): boolean => readyCondition(p)?.status === "True";

/** Ready for at least `minReadySeconds` (podutil.IsPodAvailable). */
export function isAvailable(p: KubeObject, minReadySeconds: number, nowMs: number): boolean {
  const c = readyCondition(p);
  if (c?.status !== "True") return false;
  if (!minReadySeconds) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : Number.NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= nowMs;
}

/**
 * The pods of a namespace an owner controls: pods matching its selector whose controller
 * reference is the owner's UID. Orphans that match are adopted (a controller ownerReference is
 * added), owned pods that no longer match are released, as the controllers' ref managers do.
 */
export function claimPods(ctx: ControllerContext, ownerDef: ResourceDef, owner: KubeObject): KubeObject[] {
  const pods = R("", "pods");
  const ns = owner.metadata.namespace ?? "";
  const uid = owner.metadata.uid;
  const out: KubeObject[] = [];
  for (const p of ctx.storage.list(pods.key, ns)) {
    const ref = controllerOf(p);
    const matches = labelSelectorMatches(owner.spec?.selector, p.metadata.labels ?? {});
    if (ref?.uid === uid) {
      if (matches || p.metadata.deletionTimestamp) out.push(p);
      else
        ignoreMissing(() =>
          ctx.core.mutate(pods, ns, p.metadata.name, (x) => {
            x.metadata.ownerReferences = x.metadata.ownerReferences.filter((r: Json) => r.uid !== uid);
            if (!x.metadata.ownerReferences.length) delete x.metadata.ownerReferences;
            return x;
          }),
        );
    } else if (!ref && matches && !p.metadata.deletionTimestamp && !owner.metadata.deletionTimestamp) {
      let adopted: KubeObject | undefined;
      ignoreMissing(() => {
        adopted = ctx.core.mutate(pods, ns, p.metadata.name, (x) => {
          x.metadata.ownerReferences = [
            ...(x.metadata.ownerReferences ?? []),
            controllerRef(ownerDef, owner),
          ];
          return x;
        });
      });
      if (adopted) out.push(adopted);
    }
  }
  return out;
}

/**
 * Creates a pod from a template for an owner (RealPodControl.CreatePods): generateName
 * `<owner>-`, template labels, annotations and finalizers, a controller ownerReference, and a
 * SuccessfulCreate (or Warning FailedCreate) event on the owner.
 */
export function createPod(
  ctx: ControllerContext,
  ownerDef: ResourceDef,
  owner: KubeObject,
  component: string,
  opts: {
    labels?: Record<string, string>;
    finalizers?: string[];
    spec?: Json;
    name?: string;
    message?: string;
  } = {},
): KubeObject | undefined {
  const t = owner.spec?.template ?? {};
  const metadata: Json = {
    ...(opts.name ? { name: opts.name } : { generateName: `${owner.metadata.name}-` }),
    labels: { ...(t.metadata?.labels ?? {}), ...(opts.labels ?? {}) },
    ownerReferences: [controllerRef(ownerDef, owner)],
  };
  if (t.metadata?.annotations) metadata.annotations = { ...t.metadata.annotations };
  const finalizers = [...(t.metadata?.finalizers ?? []), ...(opts.finalizers ?? [])];
  if (finalizers.length) metadata.finalizers = finalizers;
  try {
    const pod = ctx.core.create(R("", "pods"), owner.metadata.namespace ?? "", {
      metadata,
      spec: opts.spec ?? cloneJson(t.spec ?? {}),
    });
    ctx.recordEvent(
      owner,
      "Normal",
      "SuccessfulCreate",
      opts.message ?? `Created pod: ${pod.metadata.name}`,
      component,
      "Create",
      ownerDef,
    );
    return pod;
  } catch (e) {
    if (!(e instanceof StatusFailure)) throw e;
    ctx.recordEvent(
      owner,
      "Warning",
      "FailedCreate",
      `Error creating: ${e.message}`,
      component,
      "Create",
      ownerDef,
    );
    return undefined;
  }
}

/** Deletes an owned pod with a SuccessfulDelete event on the owner (RealPodControl.DeletePod). */
export function deletePod(
  ctx: ControllerContext,
  ownerDef: ResourceDef,
  owner: KubeObject,
  pod: KubeObject,
  component: string,
  message?: string,
): void {
  ignoreMissing(() => {
    ctx.core.delete(R("", "pods"), pod.metadata.namespace ?? "", pod.metadata.name);
    ctx.recordEvent(
      owner,
      "Normal",
      "SuccessfulDelete",
      message ?? `Deleted pod: ${pod.metadata.name}`,
      component,
      "Delete",
      ownerDef,
    );
  });
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Sorts pods so the ones to delete first come first (ActivePodsWithRanks, without the
 * related-pods-per-node rule): unscheduled, then Pending < Unknown < Running, not Ready, lower
 * pod-deletion-cost, more recently Ready, more restarts, newer.
 */
export function rankForDeletion(pods: KubeObject[]): KubeObject[] {
  const cost = (p: KubeObject): number =>
    Number(p.metadata.annotations?.["controller.kubernetes.io/pod-deletion-cost"] ?? 0) || 0;
  const restarts = (p: KubeObject): number =>
    Math.max(0, ...(p.status?.containerStatuses ?? []).map((c: Json) => c.restartCount ?? 0));
  const time = (s: string | undefined): number => (s ? Date.parse(s) : 0);
  return [...pods].sort((a, b) => {
    const sa = a.spec?.nodeName ? 1 : 0;
    const sb = b.spec?.nodeName ? 1 : 0;
    if (sa !== sb) return sa - sb;
    const pa = PHASE_RANK[a.status?.phase ?? "Pending"] ?? 0;
    const pb = PHASE_RANK[b.status?.phase ?? "Pending"] ?? 0;
    if (pa !== pb) return pa - pb;
    const ra = isReady(a) ? 1 : 0;
    const rb = isReady(b) ? 1 : 0;
    if (ra !== rb) return ra - rb;
    if (cost(a) !== cost(b)) return cost(a) - cost(b);
    if (ra && rb) {
      const ta = time(readyCondition(a)?.lastTransitionTime);
      const tb = time(readyCondition(b)?.lastTransitionTime);
      if (ta !== tb) return tb - ta;
    }
    if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
    const ca = time(a.metadata.creationTimestamp);
    const cb = time(b.metadata.creationTimestamp);
    if (ca !== cb) return cb - ca;
    return a.metadata.uid < b.metadata.uid ? -1 : 1;
  });
}
