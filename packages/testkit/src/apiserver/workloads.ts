import { defaultPodSpec, validateLabels } from "./defaults.js";
import { validatePodSpec } from "./pod-validation.js";
import type { ResourceDef } from "./resources.js";
import {
  type FieldError,
  fieldForbidden,
  fieldInvalid,
  fieldNotSupported,
  fieldRequired,
  invalid,
} from "./status.js";
import type { Json, KubeObject } from "./types.js";

/**
 * API semantics of the workload kinds (apps/v1 Deployment and ReplicaSet, batch/v1 Job) that
 * live in the API server rather than in the controllers: defaults (pkg/apis/{apps,batch}/v1/
 * defaults.go), validation, the Job selector generated on create, and the scale subresource.
 */

/** metav1.LabelSelector matching (matchLabels + matchExpressions); a missing selector matches nothing. */
export function labelSelectorMatches(sel: Json, labels: Record<string, string>): boolean {
  if (!sel || typeof sel !== "object") return false;
  if (!Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v)) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    if (e.operator === "In" && !(has && (e.values ?? []).includes(v))) return false;
    if (e.operator === "NotIn" && has && (e.values ?? []).includes(v)) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** A LabelSelector in the string form of metav1.FormatLabelSelector (Scale status.selector, kubectl). */
export function selectorString(sel: Json): string {
  if (!sel || typeof sel !== "object") return "";
  const parts: string[] = [];
  for (const k of Object.keys(sel.matchLabels ?? {}).sort()) parts.push(`${k}=${sel.matchLabels[k]}`);
  for (const e of sel.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${values})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${values})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.join(",");
}

export function defaultTemplate(spec: Json): void {
  if (!spec.template || typeof spec.template !== "object") return;
  const t = spec.template;
  // metav1.Time zero value: how a real server shows the template's creationTimestamp
  if (t.metadata && typeof t.metadata === "object") {
    if (!("creationTimestamp" in t.metadata)) t.metadata.creationTimestamp = null;
  } else t.metadata = { creationTimestamp: null };
  if (t.spec && typeof t.spec === "object") defaultPodSpec(t.spec);
}

/** SetDefaults_Deployment / _ReplicaSet / _Job of the v1 API groups, in place. */
export function defaultWorkload(def: ResourceDef, obj: KubeObject): void {
  obj.spec ??= {};
  const s = obj.spec;
  if (typeof s !== "object") return;
  defaultTemplate(s);
  switch (def.kind) {
    case "Deployment": {
      s.replicas ??= 1;
      s.strategy ??= {};
      s.strategy.type ??= "RollingUpdate";
      if (s.strategy.type === "RollingUpdate") {
        s.strategy.rollingUpdate ??= {};
        s.strategy.rollingUpdate.maxUnavailable ??= "25%";
        s.strategy.rollingUpdate.maxSurge ??= "25%";
      }
      s.revisionHistoryLimit ??= 10;
      s.progressDeadlineSeconds ??= 600;
      break;
    }
    case "ReplicaSet":
      s.replicas ??= 1;
      break;
    case "StatefulSet": {
      s.replicas ??= 1;
      s.podManagementPolicy ??= "OrderedReady";
      if (!s.updateStrategy?.type)
        s.updateStrategy = {
          type: "RollingUpdate",
          rollingUpdate: { partition: 0 },
          ...(s.updateStrategy ?? {}),
        };
      s.revisionHistoryLimit ??= 10;
      s.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: "Retain", whenScaled: "Retain" };
      break;
    }
    case "DaemonSet": {
      s.updateStrategy ??= {};
      s.updateStrategy.type ??= "RollingUpdate";
      if (s.updateStrategy.type === "RollingUpdate") {
        s.updateStrategy.rollingUpdate ??= {};
        s.updateStrategy.rollingUpdate.maxUnavailable ??= 1;
        s.updateStrategy.rollingUpdate.maxSurge ??= 0;
      }
      s.revisionHistoryLimit ??= 10;
      break;
    }
    case "Job": {
      // completions and parallelism both unset: one pod; completions stays unset for work queues
      if (s.completions === undefined && s.parallelism === undefined) {
        s.completions = 1;
        s.parallelism = 1;
      }
      s.parallelism ??= 1;
      s.backoffLimit ??= 6;
      s.completionMode ??= "NonIndexed";
      s.suspend ??= false;
      s.podReplacementPolicy ??= s.podFailurePolicy ? "Failed" : "TerminatingOrFailed";
      s.manualSelector ??= false;
      // batch/v1 copies the template labels to a Job without labels on every decode
      const tl = s.template?.metadata?.labels;
      if ((!obj.metadata.labels || !Object.keys(obj.metadata.labels).length) && tl && Object.keys(tl).length)
        obj.metadata.labels = { ...tl };
      break;
    }
  }
}

/** The Job strategy's PrepareForCreate: selector and pod labels from the Job's UID (unless manualSelector). */
export function prepareJobForCreate(obj: KubeObject): void {
  const s = obj.spec;
  if (!s || typeof s !== "object" || s.manualSelector === true) return;
  const uid = obj.metadata.uid;
  s.template ??= {};
  s.template.metadata ??= {};
  s.template.metadata.labels = {
    ...(s.template.metadata.labels ?? {}),
    "batch.kubernetes.io/controller-uid": uid,
    "batch.kubernetes.io/job-name": obj.metadata.name,
    "controller-uid": uid,
    "job-name": obj.metadata.name,
  };
  s.selector = { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
}

function nonNegative(errs: FieldError[], field: string, v: unknown): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0))
    errs.push(fieldInvalid(field, v, "must be greater than or equal to 0"));
}

/** Validation of the workload kinds (ValidateDeployment / ValidateReplicaSet / ValidateJob, a useful subset). */
export function validateWorkload(def: ResourceDef, obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const s = obj.spec;
  if (!s || typeof s !== "object") return [fieldRequired("spec", "")];
  const sel = s.selector;
  const emptySel =
    !sel ||
    typeof sel !== "object" ||
    (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length);
  if (emptySel) errs.push(fieldRequired("spec.selector", ""));
  const t = s.template;
  if (!t || typeof t !== "object") {
    errs.push(fieldRequired("spec.template", ""));
    return errs;
  }
  const labels = t.metadata?.labels ?? {};
  errs.push(...validateLabels(t.metadata?.labels, "spec.template.metadata.labels"));
  if (!emptySel && !labelSelectorMatches(sel, labels))
    errs.push(
      fieldInvalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"),
    );
  const ps = t.spec;
  if (!ps || typeof ps !== "object") errs.push(fieldRequired("spec.template.spec.containers", ""));
  else {
    errs.push(...validatePodSpec(ps, "spec.template.spec", { checkRestartPolicy: false }));
    const allowed = def.kind === "Job" ? ["OnFailure", "Never"] : ["Always"];
    if (!allowed.includes(ps.restartPolicy))
      errs.push(fieldNotSupported("spec.template.spec.restartPolicy", ps.restartPolicy, allowed));
  }
  if (def.kind === "Job") {
    nonNegative(errs, "spec.parallelism", s.parallelism);
    nonNegative(errs, "spec.completions", s.completions);
    nonNegative(errs, "spec.backoffLimit", s.backoffLimit);
    if (!["NonIndexed", "Indexed"].includes(s.completionMode))
      errs.push(fieldNotSupported("spec.completionMode", s.completionMode, ["NonIndexed", "Indexed"]));
    return errs;
  }
  if (def.kind === "StatefulSet") {
    nonNegative(errs, "spec.replicas", s.replicas);
    if (!["OrderedReady", "Parallel"].includes(s.podManagementPolicy))
      errs.push(
        fieldNotSupported("spec.podManagementPolicy", s.podManagementPolicy, ["OrderedReady", "Parallel"]),
      );
  }
  if (def.kind === "DaemonSet" || def.kind === "StatefulSet") {
    const types = ["RollingUpdate", "OnDelete"];
    if (!types.includes(s.updateStrategy?.type))
      errs.push(fieldNotSupported("spec.updateStrategy.type", s.updateStrategy?.type, types));
    return errs;
  }
  nonNegative(errs, "spec.replicas", s.replicas);
  if (def.kind === "Deployment") {
    const st = s.strategy ?? {};
    if (!["Recreate", "RollingUpdate"].includes(st.type))
      errs.push(fieldNotSupported("spec.strategy.type", st.type, ["Recreate", "RollingUpdate"]));
    if (st.type === "Recreate" && st.rollingUpdate)
      errs.push(
        fieldForbidden(
          "spec.strategy.rollingUpdate",
          "may not be specified when strategy `type` is 'Recreate'",
        ),
      );
    const ru = st.rollingUpdate;
    if (st.type === "RollingUpdate" && ru) {
      for (const f of ["maxUnavailable", "maxSurge"] as const) {
        const v = ru[f];
        const ok =
          (Number.isInteger(v) && v >= 0) ||
          (typeof v === "string" &&
            /^(\d+)%$/.test(v) &&
            Number.parseInt(v, 10) <= (f === "maxUnavailable" ? 100 : Number.POSITIVE_INFINITY));
        if (!ok)
          errs.push(
            fieldInvalid(
              `spec.strategy.rollingUpdate.${f}`,
              v,
              typeof v === "string" && /^\d+%$/.test(v)
                ? "must not be greater than 100%"
                : "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            ),
          );
      }
      if (isZero(ru.maxUnavailable) && isZero(ru.maxSurge))
        errs.push(
          fieldInvalid(
            "spec.strategy.rollingUpdate.maxUnavailable",
            ru.maxUnavailable,
            "may not be 0 when `maxSurge` is 0",
          ),
        );
    }
    nonNegative(errs, "spec.revisionHistoryLimit", s.revisionHistoryLimit);
    nonNegative(errs, "spec.minReadySeconds", s.minReadySeconds);
    if (
      Number.isInteger(s.progressDeadlineSeconds) &&
      Number.isInteger(s.minReadySeconds) &&
      s.progressDeadlineSeconds <= s.minReadySeconds
    )
      errs.push(
        fieldInvalid(
          "spec.progressDeadlineSeconds",
          s.progressDeadlineSeconds,
          "must be greater than minReadySeconds",
        ),
      );
  }
  return errs;
}

const isZero = (v: unknown): boolean => v === 0 || v === "0%";

/** The annotation a DaemonSet's template generation is kept in (apps/v1 has no field for it). */
export const TEMPLATE_GENERATION = "deprecated.daemonset.template.generation";

/**
 * The DaemonSet strategy's template generation: 1 on create, +1 whenever the template changes;
 * apps/v1 shows it as an annotation, which pods carry as `pod-template-generation`.
 */
export function daemonSetTemplateGeneration(
  cur: KubeObject | undefined,
  next: KubeObject,
  same: (a: Json, b: Json) => boolean,
): void {
  const prev = Number(cur?.metadata.annotations?.[TEMPLATE_GENERATION] ?? 0) || 0;
  const gen = !cur ? 1 : same(cur.spec?.template, next.spec?.template) ? Math.max(prev, 1) : prev + 1;
  next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [TEMPLATE_GENERATION]: String(gen) };
}

/** Whether an update of this kind bumps metadata.generation (spec changes; Deployments also annotations). */
export function generationChanged(
  def: ResourceDef,
  cur: KubeObject,
  next: KubeObject,
  same: (a: Json, b: Json) => boolean,
): boolean {
  if (!same(cur.spec, next.spec)) return true;
  return def.kind === "Deployment" && !same(cur.metadata.annotations ?? {}, next.metadata.annotations ?? {});
}

/** The autoscaling/v1 Scale view of a Deployment or ReplicaSet. */
export function toScale(obj: KubeObject): Json {
  const m = obj.metadata;
  const spec: Json = {};
  if (obj.spec?.replicas) spec.replicas = obj.spec.replicas;
  const status: Json = { replicas: obj.status?.replicas ?? 0 };
  const sel = selectorString(obj.spec?.selector);
  if (sel) status.selector = sel;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec,
    status,
  };
}

/** Checks a Scale body sent to PUT .../scale (kind, name, replicas) and returns its replicas. */
export function scaleReplicas(body: Json, name: string): number {
  const replicas = body?.spec?.replicas ?? 0;
  if (!Number.isInteger(replicas) || replicas < 0)
    throw invalid("Scale", "autoscaling", name, [
      fieldInvalid("spec.replicas", replicas, "must be greater than or equal to 0"),
    ]);
  return replicas;
}
