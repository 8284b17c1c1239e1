import { rfc3339 } from "../core.js";
import { cloneJson, deepEqual } from "../patch.js";
import type { Json, KubeObject } from "../types.js";
import {
  type Controller,
  type ControllerContext,
  controllerOf,
  controllerRef,
  ignoreMissing,
  isTerminal,
  R,
} from "./context.js";

const COMPONENT = "deployment-controller";
const HASH_LABEL = "pod-template-hash";
const REVISION = "deployment.kubernetes.io/revision";
const REVISION_HISTORY = "deployment.kubernetes.io/revision-history";
const DESIRED = "deployment.kubernetes.io/desired-replicas";
const MAX = "deployment.kubernetes.io/max-replicas";
/** Deployment annotations never copied to its ReplicaSets (deployment_util's annotationsToSkip). */
const SKIP = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION,
  REVISION_HISTORY,
  DESIRED,
  MAX,
  "deprecated.deployment.rollback.to",
]);

const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** JSON with sorted keys: a stable serialisation of a template. */
function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/**
 * The pod-template-hash (controller.ComputeHash): FNV-32a over the template plus the collision
 * count as 8 little-endian bytes, printed in decimal, each digit mapped through
 * rand.SafeEncodeString's alphabet. Upstream hashes a Go deep-dump of the struct, which a
 * TypeScript server cannot reproduce byte for byte: here the template's sorted-key JSON is
 * hashed instead, so values differ from a real cluster's while the form (1-10 characters of
 * `456789bcdf`) and stability per template are the same.
 */
export function podTemplateHash(template: Json, collisionCount?: number): string {
  let h = 0x811c9dc5;
  const add = (b: number): void => {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (const b of Buffer.from(canonical(template))) add(b);
  if (collisionCount !== undefined && collisionCount !== null) {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(BigInt(collisionCount));
    for (const b of buf) add(b);
  }
  return [...String(h >>> 0)].map((c) => SAFE_ALPHABET[c.charCodeAt(0) % SAFE_ALPHABET.length]).join("");
}

/** A template without the pod-template-hash label, for EqualIgnoreHash comparisons. */
function withoutHash(t: Json): Json {
  const c = cloneJson(t ?? {});
  if (c.metadata?.labels) {
    delete c.metadata.labels[HASH_LABEL];
    if (!Object.keys(c.metadata.labels).length) delete c.metadata.labels;
  }
  return c;
}

/** intstr.GetScaledValueFromIntOrPercent: an int, or a percentage of `total` rounded up or down. */
function scaled(v: Json, total: number, roundUp: boolean): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^\d+%$/.test(v)) {
    const x = (Number.parseInt(v, 10) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return 0;
}

/** maxSurge (rounded up) and maxUnavailable (rounded down) of a Deployment (deployment_util.ResolveFenceposts). */
export function fenceposts(d: KubeObject): { surge: number; unavailable: number } {
  const replicas = d.spec?.replicas ?? 1;
  if (d.spec?.strategy?.type !== "RollingUpdate" || replicas === 0) return { surge: 0, unavailable: 0 };
  const ru = d.spec.strategy.rollingUpdate ?? {};
  const surge = scaled(ru.maxSurge ?? "25%", replicas, true);
  let unavailable = scaled(ru.maxUnavailable ?? "25%", replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable: Math.min(unavailable, replicas) };
}

const revisionOf = (rs: KubeObject): number => Number(rs.metadata.annotations?.[REVISION] ?? 0) || 0;
const specReplicas = (rs: KubeObject): number => rs.spec?.replicas ?? 0;
const sum = (rss: KubeObject[], f: (rs: KubeObject) => number): number => rss.reduce((a, rs) => a + f(rs), 0);
const byAge = (a: KubeObject, b: KubeObject): number =>
  Date.parse(a.metadata.creationTimestamp) - Date.parse(b.metadata.creationTimestamp) ||
  (a.metadata.name < b.metadata.name ? -1 : 1);

/**
 * The Deployment controller (pkg/controller/deployment): a ReplicaSet per pod template named
 * `<deployment>-<pod-template-hash>`, RollingUpdate within maxSurge/maxUnavailable or Recreate,
 * revisions and revision history in annotations (what `kubectl rollout undo` reads), scaling,
 * old ReplicaSet cleanup beyond revisionHistoryLimit, and the status and Available/Progressing
 * conditions `kubectl rollout status` reads.
 */
export function createDeploymentController(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger, recordEvent } = ctx;
  const dDef = R("apps", "deployments");
  const rsDef = R("apps", "replicasets");
  const pods = R("", "pods");

  const scaleRs = (d: KubeObject, rs: KubeObject, replicas: number, surge: number): KubeObject => {
    const from = specReplicas(rs);
    const annotations = {
      ...(rs.metadata.annotations ?? {}),
      [DESIRED]: String(d.spec.replicas),
      [MAX]: String(d.spec.replicas + surge),
    };
    if (from === replicas && deepEqual(annotations, rs.metadata.annotations ?? {})) return rs;
    const next = core.mutate(rsDef, rs.metadata.namespace ?? "", rs.metadata.name, (x) => {
      x.spec.replicas = replicas;
      x.metadata.annotations = annotations;
      return x;
    });
    if (from !== replicas)
      recordEvent(
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled ${replicas > from ? "up" : "down"} replica set ${rs.metadata.name} to ${replicas} from ${from}`,
        COMPONENT,
        "Scale",
        dDef,
      );
    return next ?? rs;
  };

  /** The ReplicaSet for the current template: found (revision bumped if it is an old one) or created. */
  const newReplicaSet = (
    d: KubeObject,
    all: KubeObject[],
    olds: KubeObject[],
    existing: KubeObject | undefined,
    create: boolean,
    surge: number,
  ): { rs?: KubeObject; created?: boolean } => {
    const ns = d.metadata.namespace ?? "";
    const maxOld = Math.max(0, ...olds.map(revisionOf));
    const revision = existing && revisionOf(existing) > maxOld ? revisionOf(existing) : maxOld + 1;
    const copied: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (!SKIP.has(k)) copied[k] = String(v);
    if (existing) {
      const ann: Record<string, string> = { ...(existing.metadata.annotations ?? {}), ...copied };
      const old = revisionOf(existing);
      if (old !== revision) {
        ann[REVISION] = String(revision);
        // a reused (rolled back to) ReplicaSet keeps its former revision numbers in the history
        if (old) ann[REVISION_HISTORY] = [ann[REVISION_HISTORY], String(old)].filter(Boolean).join(",");
      }
      if (deepEqual(ann, existing.metadata.annotations ?? {})) return { rs: existing };
      return {
        rs:
          core.mutate(rsDef, ns, existing.metadata.name, (x) => {
            x.metadata.annotations = ann;
            return x;
          }) ?? existing,
      };
    }
    if (!create) return {};
    const collisionCount: number | undefined = d.status?.collisionCount;
    const hash = podTemplateHash(d.spec.template, collisionCount);
    const name = `${d.metadata.name}-${hash}`;
    const clash = all.find((rs) => rs.metadata.name === name) ?? core.find(rsDef, ns, name);
    if (clash) {
      // a ReplicaSet of that name exists with another template (or owner): count the collision and retry
      core.mutate(
        dDef,
        ns,
        d.metadata.name,
        (x) => ({ ...x, status: { ...(x.status ?? {}), collisionCount: (collisionCount ?? 0) + 1 } }),
        "status",
      );
      return {};
    }
    const replicas = desiredNewReplicas(d, all, undefined, surge);
    const template = cloneJson(d.spec.template);
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [HASH_LABEL]: hash };
    const selector = cloneJson(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash };
    const rs = core.create(rsDef, ns, {
      metadata: {
        name,
        labels: { ...(d.spec.template.metadata?.labels ?? {}), [HASH_LABEL]: hash },
        annotations: {
          ...copied,
          [REVISION]: String(revision),
          [DESIRED]: String(d.spec.replicas),
          [MAX]: String(d.spec.replicas + surge),
        },
        ownerReferences: [controllerRef(dDef, d)],
      },
      spec: {
        replicas,
        minReadySeconds: d.spec.minReadySeconds ?? 0,
        selector,
        template,
      },
    });
    if (replicas > 0)
      recordEvent(
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled up replica set ${name} to ${replicas}`,
        COMPONENT,
        "Scale",
        dDef,
      );
    return { rs, created: true };
  };

  /** NewRSNewReplicas: how far the new ReplicaSet may grow now. */
  const desiredNewReplicas = (
    d: KubeObject,
    all: KubeObject[],
    newRs: KubeObject | undefined,
    surge: number,
  ): number => {
    const replicas: number = d.spec.replicas;
    const current = newRs ? specReplicas(newRs) : 0;
    if (d.spec.strategy?.type !== "RollingUpdate") return replicas;
    const total = sum(all, specReplicas);
    const maxTotal = replicas + surge;
    if (total >= maxTotal) return current;
    return current + Math.max(0, Math.min(maxTotal - total, replicas - current));
  };

  const syncOne = (d: KubeObject): void => {
    const ns = d.metadata.namespace ?? "";
    const uid = d.metadata.uid;
    const { surge, unavailable } = fenceposts(d);
    let all = storage
      .list(rsDef.key, ns)
      .filter((rs) => controllerOf(rs)?.uid === uid && !rs.metadata.deletionTimestamp);
    const wanted = withoutHash(d.spec?.template);
    let newRs = all.filter((rs) => deepEqual(withoutHash(rs.spec?.template), wanted)).sort(byAge)[0];
    let olds = all.filter((rs) => rs !== newRs);
    const recreate = d.spec?.strategy?.type === "Recreate";
    const paused = d.spec?.paused === true;
    let createdNew = false;
    const oldPodsRunning = (): boolean => {
      const oldUids = new Set(olds.map((rs) => rs.metadata.uid));
      // terminating pods still run (deployment/recreate.go oldPodsRunning)
      return storage.list(pods.key, ns).some((p) => oldUids.has(controllerOf(p)?.uid) && !isTerminal(p));
    };

    if (!paused) {
      if (recreate) {
        // Recreate: every old ReplicaSet to zero, wait until their pods are gone, then the new one
        for (const rs of olds) if (specReplicas(rs) > 0) scaleRs(d, rs, 0, surge);
        olds = olds.map((rs) => core.find(rsDef, ns, rs.metadata.name) ?? rs);
        const running = oldPodsRunning();
        const r = newReplicaSet(d, all, olds, newRs, !running, surge);
        if (r.rs) {
          createdNew = r.created === true;
          newRs = r.rs;
          if (!running && !createdNew) newRs = scaleRs(d, newRs, d.spec.replicas, surge);
        }
      } else {
        const r = newReplicaSet(d, all, olds, newRs, true, surge);
        if (!r.rs) return;
        createdNew = r.created === true;
        newRs = r.rs;
        if (createdNew) all = [...all, newRs];
        else all = all.map((rs) => (rs.metadata.uid === newRs!.metadata.uid ? newRs! : rs));
        const activeOlds = olds.filter((rs) => specReplicas(rs) > 0);
        if (activeOlds.length === 0 && specReplicas(newRs) !== d.spec.replicas && !createdNew) {
          // a scaling event with nothing to roll (kubectl scale): the new ReplicaSet takes the count
          newRs = scaleRs(d, newRs, d.spec.replicas, surge);
        } else {
          // reconcileNewReplicaSet
          const target = desiredNewReplicas(d, all, newRs, surge);
          if (target !== specReplicas(newRs) && !createdNew) newRs = scaleRs(d, newRs, target, surge);
          all = all.map((rs) => (rs.metadata.uid === newRs!.metadata.uid ? newRs! : rs));
          // reconcileOldReplicaSets
          const oldTotal = sum(olds, specReplicas);
          if (oldTotal > 0) {
            const allTotal = sum(all, specReplicas);
            const minAvailable = d.spec.replicas - unavailable;
            const newUnavailable = specReplicas(newRs) - (newRs.status?.availableReplicas ?? 0);
            let maxScaledDown = allTotal - minAvailable - newUnavailable;
            if (maxScaledDown > 0) {
              const sorted = [...olds].sort(byAge);
              // first the old replicas that are not available anyway
              let cleaned = 0;
              for (const rs of sorted) {
                if (cleaned >= maxScaledDown) break;
                const cur = core.find(rsDef, ns, rs.metadata.name) ?? rs;
                if (specReplicas(cur) === 0) continue;
                const unhealthy = specReplicas(cur) - (cur.status?.availableReplicas ?? 0);
                if (unhealthy <= 0) continue;
                const n = Math.min(maxScaledDown - cleaned, unhealthy);
                scaleRs(d, cur, specReplicas(cur) - n, surge);
                cleaned += n;
              }
              maxScaledDown -= cleaned;
              // then old available replicas while enough pods stay available
              const fresh = all.map((rs) => core.find(rsDef, ns, rs.metadata.name) ?? rs);
              const available = sum(fresh, (rs) => rs.status?.availableReplicas ?? 0);
              let budget = Math.min(maxScaledDown, available - minAvailable);
              for (const rs of sorted) {
                if (budget <= 0) break;
                const cur = core.find(rsDef, ns, rs.metadata.name) ?? rs;
                if (specReplicas(cur) === 0) continue;
                const n = Math.min(specReplicas(cur), budget);
                scaleRs(d, cur, specReplicas(cur) - n, surge);
                budget -= n;
              }
            }
          }
        }
      }
    }

    // refresh from storage after the writes above
    all = storage
      .list(rsDef.key, ns)
      .filter((rs) => controllerOf(rs)?.uid === uid && !rs.metadata.deletionTimestamp);
    newRs = newRs ? all.find((rs) => rs.metadata.uid === newRs!.metadata.uid) : undefined;
    olds = all.filter((rs) => rs !== newRs);

    // cleanupDeployment: keep revisionHistoryLimit old ReplicaSets that are fully scaled down
    const limit: number = d.spec?.revisionHistoryLimit ?? 10;
    const idle = olds
      .filter(
        (rs) =>
          specReplicas(rs) === 0 &&
          (rs.status?.replicas ?? 0) === 0 &&
          (rs.status?.observedGeneration ?? 0) >= (rs.metadata.generation ?? 0),
      )
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of idle.slice(0, Math.max(0, olds.length - limit)))
      ignoreMissing(() => core.delete(rsDef, ns, rs.metadata.name));

    writeStatus(d, all, newRs, createdNew, unavailable);
  };

  const writeStatus = (
    d: KubeObject,
    all: KubeObject[],
    newRs: KubeObject | undefined,
    createdNew: boolean,
    maxUnavailable: number,
  ): void => {
    const ns = d.metadata.namespace ?? "";
    const replicas: number = d.spec?.replicas ?? 1;
    const prev = d.status ?? {};
    const available = sum(all, (rs) => rs.status?.availableReplicas ?? 0);
    const status: Json = {
      observedGeneration: d.metadata.generation,
      replicas: sum(all, (rs) => rs.status?.replicas ?? 0),
      updatedReplicas: newRs?.status?.replicas ?? 0,
      readyReplicas: sum(all, (rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, sum(all, specReplicas) - available),
    };
    for (const k of [
      "replicas",
      "updatedReplicas",
      "readyReplicas",
      "availableReplicas",
      "unavailableReplicas",
    ])
      if (!status[k]) delete status[k];
    if (prev.collisionCount !== undefined) status.collisionCount = prev.collisionCount;
    const now = rfc3339(core.clock.now());
    let conditions: Json[] = cloneJson(prev.conditions ?? []);
    /** SetDeploymentCondition: same status and reason is a no-op; a new reason keeps lastTransitionTime. */
    const setCondition = (c: Json, refresh = false): void => {
      const cur = conditions.find((x) => x.type === c.type);
      if (cur && cur.status === c.status && cur.reason === c.reason && !refresh) return;
      const cond = {
        type: c.type,
        status: c.status,
        lastUpdateTime: now,
        lastTransitionTime: now,
        reason: c.reason,
        message: c.message,
      };
      if (cur && cur.status === c.status) cond.lastTransitionTime = cur.lastTransitionTime;
      conditions = [...conditions.filter((x) => x.type !== c.type), cond];
    };
    const minAvailable = replicas - maxUnavailable;
    if ((status.availableReplicas ?? 0) >= minAvailable)
      setCondition({
        type: "Available",
        status: "True",
        reason: "MinimumReplicasAvailable",
        message: "Deployment has minimum availability.",
      });
    else
      setCondition({
        type: "Available",
        status: "False",
        reason: "MinimumReplicasUnavailable",
        message: "Deployment does not have minimum availability.",
      });
    const rsName = newRs?.metadata.name ?? "";
    const progressing = conditions.find((x) => x.type === "Progressing");
    const complete =
      newRs !== undefined &&
      (status.updatedReplicas ?? 0) === replicas &&
      (status.replicas ?? 0) === replicas &&
      (status.availableReplicas ?? 0) === replicas;
    const progressed =
      (status.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0) ||
      (status.replicas ?? 0) - (status.updatedReplicas ?? 0) <
        (prev.replicas ?? 0) - (prev.updatedReplicas ?? 0) ||
      (status.readyReplicas ?? 0) > (prev.readyReplicas ?? 0) ||
      (status.availableReplicas ?? 0) > (prev.availableReplicas ?? 0);
    if (d.spec?.paused) {
      setCondition({
        type: "Progressing",
        status: "Unknown",
        reason: "DeploymentPaused",
        message: "Deployment is paused",
      });
    } else if (createdNew) {
      setCondition({
        type: "Progressing",
        status: "True",
        reason: "NewReplicaSetCreated",
        message: `Created new replica set "${rsName}"`,
      });
    } else if (complete) {
      setCondition({
        type: "Progressing",
        status: "True",
        reason: "NewReplicaSetAvailable",
        message: `ReplicaSet "${rsName}" has successfully progressed.`,
      });
    } else if (progressed && newRs) {
      setCondition(
        {
          type: "Progressing",
          status: "True",
          reason: "ReplicaSetUpdated",
          message: `ReplicaSet "${rsName}" is progressing.`,
        },
        true,
      );
    } else if (!progressing && newRs) {
      setCondition({
        type: "Progressing",
        status: "True",
        reason: "FoundNewReplicaSet",
        message: `Found new replica set "${rsName}"`,
      });
    } else if (
      progressing &&
      progressing.reason !== "NewReplicaSetAvailable" &&
      progressing.status === "True" &&
      newRs
    ) {
      const deadline: number = d.spec?.progressDeadlineSeconds ?? 600;
      if (Date.parse(progressing.lastUpdateTime) + deadline * 1000 < core.clock.now())
        setCondition({
          type: "Progressing",
          status: "False",
          reason: "ProgressDeadlineExceeded",
          message: `ReplicaSet "${rsName}" has timed out progressing.`,
        });
    }
    if (conditions.length) status.conditions = conditions;
    const revision = newRs?.metadata.annotations?.[REVISION];
    ignoreMissing(() =>
      core.mutate(
        dDef,
        ns,
        d.metadata.name,
        (x) => {
          // the revision annotation goes with the status write (the status strategy keeps annotations)
          if (revision && x.metadata.annotations?.[REVISION] !== revision)
            x.metadata.annotations = { ...(x.metadata.annotations ?? {}), [REVISION]: revision };
          x.status = status;
          return x;
        },
        "status",
      ),
    );
  };

  const sync = (): void => {
    for (const d of storage.list(dDef.key)) if (!d.metadata.deletionTimestamp) syncOne(d);
  };
  watch(dDef, () => trigger("deployments"));
  watch(rsDef, () => trigger("deployments"));
  watch(pods, (e) => {
    if (e.type === "DELETED") trigger("deployments");
  });
  return { name: "deployments", sync };
}
