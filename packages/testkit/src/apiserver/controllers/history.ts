import type { ResourceDef } from "../resources.js";
import type { Json, KubeObject } from "../types.js";
import { type ControllerContext, controllerOf, controllerRef, ignoreMissing, R } from "./context.js";

/** A JSON value with every object's keys in sorted order, as Go's json.Marshal of a map writes them. */
function sortedDeep(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortedDeep);
  if (v && typeof v === "object") {
    const out: Json = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sortedDeep(v[k]);
    return out;
  }
  return v;
}

/**
 * The revision data of a DaemonSet or StatefulSet (getPatch in pkg/controller/daemon/update.go and
 * pkg/controller/statefulset/stateful_set_utils.go): a strategic merge patch that replaces
 * `spec.template`, keys sorted. kubectl reads the served bytes of `data` verbatim: `rollout undo`
 * sends them as the patch, and compares them with the same patch of the live object to print
 * "skipped rollback (current template already matches revision N)".
 */
export function revisionData(owner: KubeObject): Json {
  return sortedDeep({ spec: { template: { ...(owner.spec?.template ?? {}), $patch: "replace" } } });
}

/**
 * Keeps the ControllerRevisions of a DaemonSet or StatefulSet as their controllers do
 * (controller_history.go, daemon/update.go constructHistory, statefulset getStatefulSetRevisions):
 * the current template's revision `<name>-<hash>` exists, carrying the highest revision number
 * (an older revision with the same data, as after `kubectl rollout undo`, is renumbered instead of
 * duplicated), and at most `revisionHistoryLimit` (default 10) revisions that no pod uses and that
 * are not current remain, the lowest numbers deleted first. Returns the current revision.
 */
export function syncControllerRevisions(
  ctx: ControllerContext,
  ownerDef: ResourceDef,
  owner: KubeObject,
  hash: string,
  inUse: ReadonlySet<string>,
  copyAnnotations: boolean,
): KubeObject | undefined {
  const { core, storage } = ctx;
  const revDef = R("apps", "controllerrevisions");
  const ns = owner.metadata.namespace ?? "";
  const data = revisionData(owner);
  const text = JSON.stringify(data);
  const mine = storage
    .list(revDef.key, ns)
    .filter((r) => controllerOf(r)?.uid === owner.metadata.uid && !r.metadata.deletionTimestamp);
  const maxRevision = mine.reduce((m, r) => Math.max(m, Number(r.revision) || 0), 0);
  const equal = mine.filter((r) => JSON.stringify(r.data) === text).sort((a, b) => a.revision - b.revision);
  let current = equal[equal.length - 1];
  if (current && current.revision < maxRevision) {
    const renumbered = core.mutate(revDef, ns, current.metadata.name, (r) => ({
      ...r,
      revision: maxRevision + 1,
    }));
    if (renumbered) current = renumbered;
  }
  if (!current && !owner.metadata.deletionTimestamp) {
    const labels = { ...(owner.spec?.template?.metadata?.labels ?? {}), "controller-revision-hash": hash };
    const annotations = copyAnnotations ? { ...(owner.metadata.annotations ?? {}) } : {};
    ignoreMissing(() => {
      current = core.create(revDef, ns, {
        apiVersion: "apps/v1",
        kind: "ControllerRevision",
        metadata: {
          name: `${owner.metadata.name}-${hash}`,
          namespace: ns,
          labels,
          ...(Object.keys(annotations).length ? { annotations } : {}),
          ownerReferences: [controllerRef(ownerDef, owner)],
        },
        data,
        revision: maxRevision + 1,
      });
    });
  }
  // truncateHistory: revisions neither current nor used by a pod, beyond the limit, oldest first
  const limit: number = Number.isInteger(owner.spec?.revisionHistoryLimit)
    ? owner.spec.revisionHistoryLimit
    : 10;
  const old = storage
    .list(revDef.key, ns)
    .filter(
      (r) =>
        controllerOf(r)?.uid === owner.metadata.uid &&
        !r.metadata.deletionTimestamp &&
        r.metadata.name !== current?.metadata.name &&
        !inUse.has(r.metadata.name),
    )
    .sort((a, b) => a.revision - b.revision);
  for (const r of old.slice(0, Math.max(0, old.length - limit)))
    ignoreMissing(() => core.delete(revDef, ns, r.metadata.name));
  return current;
}
