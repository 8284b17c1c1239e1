import type { Json, KubeObject } from "../types.js";
import { type Controller, type ControllerContext, ignoreMissing, R } from "./context.js";
import {
  claimPods,
  createPod,
  deletePod,
  isActive,
  isAvailable,
  isReady,
  rankForDeletion,
} from "./pod-control.js";

const COMPONENT = "replicaset-controller";
/** Upstream creates or deletes at most this many pods per sync (burstReplicas). */
const BURST_REPLICAS = 500;

/**
 * The ReplicaSet controller (pkg/controller/replicaset): keeps `spec.replicas` active pods
 * matching the selector, deleting the cheapest first, and reports replicas,
 * fullyLabeledReplicas, readyReplicas, availableReplicas (Ready for minReadySeconds) and
 * observedGeneration in the status.
 */
export function createReplicaSetController(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger } = ctx;
  const rsDef = R("apps", "replicasets");
  const pods = R("", "pods");

  const syncOne = (rs: KubeObject): void => {
    const ns = rs.metadata.namespace ?? "";
    let owned = claimPods(ctx, rsDef, rs);
    if (!rs.metadata.deletionTimestamp) {
      const active = owned.filter(isActive);
      const diff = active.length - (rs.spec?.replicas ?? 1);
      if (diff < 0) {
        for (let i = 0; i < Math.min(-diff, BURST_REPLICAS); i++) createPod(ctx, rsDef, rs, COMPONENT);
      } else if (diff > 0) {
        for (const p of rankForDeletion(active).slice(0, Math.min(diff, BURST_REPLICAS)))
          deletePod(ctx, rsDef, rs, p, COMPONENT);
      }
      if (diff !== 0) owned = claimPods(ctx, rsDef, rs);
    }
    const nowMs = core.clock.now();
    const active = owned.filter(isActive);
    const templateLabels: Record<string, string> = rs.spec?.template?.metadata?.labels ?? {};
    const minReady = rs.spec?.minReadySeconds ?? 0;
    const status: Json = {
      ...(rs.status ?? {}),
      replicas: active.length,
      fullyLabeledReplicas: active.filter((p) =>
        Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v),
      ).length,
      readyReplicas: active.filter(isReady).length,
      availableReplicas: active.filter((p) => isAvailable(p, minReady, nowMs)).length,
      observedGeneration: rs.metadata.generation,
    };
    // zero counts are omitted on the wire (omitempty), like upstream
    for (const k of ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"])
      if (!status[k]) delete status[k];
    ignoreMissing(() => core.mutate(rsDef, ns, rs.metadata.name, (x) => ({ ...x, status }), "status"));
  };

  const sync = (): void => {
    for (const rs of storage.list(rsDef.key)) syncOne(rs);
  };
  watch(rsDef, () => trigger("replicasets"));
  watch(pods, (e) => {
    if (e.object.metadata.ownerReferences?.some((r) => r.kind === "ReplicaSet") || e.type === "ADDED")
      trigger("replicasets");
  });
  return { name: "replicasets", sync };
}
