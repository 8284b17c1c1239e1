import { cloneJson } from "../patch.js";
import type { Json, KubeObject } from "../types.js";
import { type Controller, type ControllerContext, ignoreMissing, R } from "./context.js";
import { podTemplateHash } from "./deployment.js";
import { syncControllerRevisions } from "./history.js";
import { claimPods, createPod, deletePod, isAvailable, isReady } from "./pod-control.js";

const COMPONENT = "statefulset-controller";

/**
 * The StatefulSet controller (pkg/controller/statefulset): pods `<name>-<ordinal>` for ordinals
 * 0..replicas-1 with hostname = pod name and subdomain = serviceName, the
 * `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
 * `controller-revision-hash` (`<name>-<hash>`) labels; OrderedReady creates in ordinal order,
 * each after the lower ones are Running and Ready, and removes from the highest ordinal one at a
 * time, Parallel does both at once; RollingUpdate replaces pods of an old revision from the
 * highest ordinal down to the partition, one at a time; status with current/update revisions.
 * No volumeClaimTemplates (no PersistentVolumeClaims are served).
 */
export function createStatefulSetController(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger } = ctx;
  const stsDef = R("apps", "statefulsets");
  const pods = R("", "pods");

  const syncOne = (sts: KubeObject): void => {
    const name = sts.metadata.name;
    const ns = sts.metadata.namespace ?? "";
    const s = sts.spec ?? {};
    const replicas: number = s.replicas ?? 1;
    const parallel = s.podManagementPolicy === "Parallel";
    const updateRevision = `${name}-${podTemplateHash(s.template ?? {})}`;
    const currentRevision: string = sts.status?.currentRevision ?? updateRevision;
    const ordinalOf = (p: KubeObject): number => {
      const m = p.metadata.name.match(/-(\d+)$/);
      return m && p.metadata.name === `${name}-${m[1]}` ? Number(m[1]) : -1;
    };
    const byOrdinal = new Map<number, KubeObject>();
    const claimed = claimPods(ctx, stsDef, sts);
    for (const p of claimed) {
      const i = ordinalOf(p);
      if (i >= 0) byOrdinal.set(i, p);
    }
    // ControllerRevisions named like the revisions pods carry; old ones kept for rollout undo
    const inUse = new Set<string>([currentRevision, updateRevision]);
    for (const p of claimed) inUse.add(p.metadata.labels?.["controller-revision-hash"] ?? "");
    syncControllerRevisions(ctx, stsDef, sts, updateRevision.slice(name.length + 1), inUse, false);
    const runningReady = (p: KubeObject | undefined): boolean =>
      p !== undefined && !p.metadata.deletionTimestamp && p.status?.phase === "Running" && isReady(p);
    const event = (verb: "create" | "delete", pod: string): string =>
      `${verb} Pod ${pod} in StatefulSet ${name} successful`;
    const create = (i: number): void => {
      const podName = `${name}-${i}`;
      const spec = cloneJson(s.template?.spec ?? {});
      spec.hostname = podName;
      if (s.serviceName) spec.subdomain = s.serviceName;
      createPod(ctx, stsDef, sts, COMPONENT, {
        name: podName,
        spec,
        labels: {
          "statefulset.kubernetes.io/pod-name": podName,
          "apps.kubernetes.io/pod-index": String(i),
          "controller-revision-hash": updateRevision,
        },
        message: event("create", podName),
      });
    };
    const remove = (p: KubeObject): void =>
      deletePod(ctx, stsDef, sts, p, COMPONENT, event("delete", p.metadata.name));

    if (!sts.metadata.deletionTimestamp) {
      // create missing ordinals (OrderedReady: the first missing one once all below are Running and Ready)
      let blocked = false;
      for (let i = 0; i < replicas && !blocked; i++) {
        const p = byOrdinal.get(i);
        if (!p) {
          create(i);
          blocked = !parallel;
        } else if (!parallel && !runningReady(p)) blocked = true;
      }
      // condemned ordinals go from the highest down (OrderedReady: one at a time, when the rest are healthy)
      const condemned = [...byOrdinal.keys()].filter((i) => i >= replicas).sort((a, b) => b - a);
      const healthy = [...byOrdinal.entries()]
        .filter(([i]) => i < replicas)
        .every(([, p]) => runningReady(p));
      for (const i of condemned) {
        const p = byOrdinal.get(i)!;
        if (p.metadata.deletionTimestamp) {
          if (!parallel) break;
          continue;
        }
        if (!parallel && !healthy) break;
        remove(p);
        if (!parallel) break;
      }
      // RollingUpdate: the highest ordinal at or above the partition still on an old revision
      const partition: number = s.updateStrategy?.rollingUpdate?.partition ?? 0;
      const settled =
        !blocked &&
        !condemned.length &&
        [...Array(replicas).keys()].every((i) => runningReady(byOrdinal.get(i)));
      if (s.updateStrategy?.type === "RollingUpdate" && settled) {
        for (let i = replicas - 1; i >= partition; i--) {
          const p = byOrdinal.get(i)!;
          if (p.metadata.labels?.["controller-revision-hash"] !== updateRevision) {
            remove(p);
            break;
          }
        }
      }
    }

    const nowMs = core.clock.now();
    const live = storage
      .list(pods.key, ns)
      .filter(
        (p) => ordinalOf(p) >= 0 && p.metadata.ownerReferences?.some((r) => r.uid === sts.metadata.uid),
      );
    const active = live.filter((p) => !p.metadata.deletionTimestamp);
    const revisionCount = (rev: string): number =>
      active.filter((p) => p.metadata.labels?.["controller-revision-hash"] === rev).length;
    const status: Json = {
      observedGeneration: sts.metadata.generation,
      replicas: active.length,
      readyReplicas: active.filter(isReady).length,
      currentReplicas: revisionCount(currentRevision),
      updatedReplicas: revisionCount(updateRevision),
      currentRevision,
      updateRevision,
      collisionCount: 0,
      availableReplicas: active.filter((p) => isAvailable(p, s.minReadySeconds ?? 0, nowMs)).length,
    };
    // completeRollingUpdate: every replica updated and ready moves the current revision on
    if (
      status.updatedReplicas === replicas &&
      status.readyReplicas === replicas &&
      status.replicas === replicas
    ) {
      status.currentRevision = updateRevision;
      status.currentReplicas = status.updatedReplicas;
    }
    for (const k of ["readyReplicas", "currentReplicas", "updatedReplicas"]) if (!status[k]) delete status[k];
    ignoreMissing(() => core.mutate(stsDef, ns, name, (x) => ({ ...x, status }), "status"));
  };

  const sync = (): void => {
    for (const sts of storage.list(stsDef.key)) syncOne(sts);
  };
  watch(stsDef, () => trigger("statefulsets"));
  watch(pods, (e) => {
    if (e.object.metadata.ownerReferences?.some((r) => r.kind === "StatefulSet") || e.type === "ADDED")
      trigger("statefulsets");
  });
  return { name: "statefulsets", sync };
}
