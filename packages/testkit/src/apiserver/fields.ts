import { VOLUME_SOURCES } from "./pod-validation.js";
import type { ResourceDef } from "./resources.js";
import type { Json } from "./types.js";

/**
 * Known fields per kind, for kube-apiserver's field validation (`fieldValidation=Strict|Warn|Ignore`,
 * default Warn): top-level and metadata fields of every kind, and the specs of pods and pod
 * templates (containers, ports, env, resources, volume mounts) where typos matter most.
 */
const META = new Set([
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
]);

const SPEC_STATUS = ["spec", "status"];
const TOP: Record<string, string[]> = {
  Pod: SPEC_STATUS,
  Node: SPEC_STATUS,
  Service: SPEC_STATUS,
  Namespace: SPEC_STATUS,
  PodDisruptionBudget: SPEC_STATUS,
  Deployment: SPEC_STATUS,
  ReplicaSet: SPEC_STATUS,
  Job: SPEC_STATUS,
  CronJob: SPEC_STATUS,
  ControllerRevision: ["data", "revision"],
  DaemonSet: SPEC_STATUS,
  StatefulSet: SPEC_STATUS,
  Role: ["rules"],
  ClusterRole: ["rules", "aggregationRule"],
  RoleBinding: ["subjects", "roleRef"],
  ClusterRoleBinding: ["subjects", "roleRef"],
  Lease: ["spec"],
  ConfigMap: ["data", "binaryData", "immutable"],
  Secret: ["data", "stringData", "type", "immutable"],
  ServiceAccount: ["secrets", "imagePullSecrets", "automountServiceAccountToken"],
  EndpointSlice: ["addressType", "endpoints", "ports"],
};
const CORE_EVENT = [
  "involvedObject",
  "reason",
  "message",
  "source",
  "firstTimestamp",
  "lastTimestamp",
  "count",
  "type",
  "eventTime",
  "series",
  "action",
  "related",
  "reportingComponent",
  "reportingInstance",
];
const EVENTS_V1 = [
  "eventTime",
  "series",
  "reportingController",
  "reportingInstance",
  "action",
  "reason",
  "regarding",
  "related",
  "note",
  "type",
  "deprecatedSource",
  "deprecatedFirstTimestamp",
  "deprecatedLastTimestamp",
  "deprecatedCount",
];

/** A nested field list: field name -> its own field list (object), `[]` for lists of objects, or true (leaf). */
type Shape = { [field: string]: Shape | [Shape] | true };
const leaves = (...names: string[]): Shape => Object.fromEntries(names.map((n) => [n, true]));

/** Probe and lifecycle handler actions (typos in a probe's port or path silently disable it). */
const HTTP_GET: Shape = leaves("path", "port", "host", "scheme", "httpHeaders");
const PORT_ONLY: Shape = leaves("port", "host");
const PROBE: Shape = {
  ...leaves(
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
  ),
  exec: leaves("command"),
  httpGet: HTTP_GET,
  tcpSocket: PORT_ONLY,
  grpc: leaves("port", "service"),
};
const HOOK: Shape = {
  exec: leaves("command"),
  httpGet: HTTP_GET,
  tcpSocket: PORT_ONLY,
  sleep: leaves("seconds"),
};
/** A pod volume: its name and the VolumeSource members (an unknown source is an unknown field). */
const VOLUME: Shape = leaves("name", "image", ...VOLUME_SOURCES.map(([k]) => k));

const CONTAINER: Shape = {
  livenessProbe: PROBE,
  readinessProbe: PROBE,
  startupProbe: PROBE,
  lifecycle: { postStart: HOOK, preStop: HOOK },
  ...leaves(
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "envFrom",
    "resizePolicy",
    "restartPolicy",
    "volumeDevices",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
  ),
  ports: [leaves("name", "hostPort", "containerPort", "protocol", "hostIP")],
  env: [leaves("name", "value", "valueFrom")],
  resources: leaves("limits", "requests", "claims"),
  volumeMounts: [
    leaves(
      "name",
      "readOnly",
      "recursiveReadOnly",
      "mountPath",
      "subPath",
      "mountPropagation",
      "subPathExpr",
    ),
  ],
};
const POD_SPEC: Shape = {
  volumes: [VOLUME],
  ...leaves(
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
  ),
  containers: [CONTAINER],
  initContainers: [CONTAINER],
};
const TEMPLATE: Shape = { metadata: true, spec: POD_SPEC };
const JOB_SPEC: Shape = {
  ...leaves(
    "parallelism",
    "completions",
    "activeDeadlineSeconds",
    "podFailurePolicy",
    "successPolicy",
    "backoffLimit",
    "backoffLimitPerIndex",
    "maxFailedIndexes",
    "selector",
    "manualSelector",
    "ttlSecondsAfterFinished",
    "completionMode",
    "suspend",
    "podReplacementPolicy",
    "managedBy",
  ),
  template: TEMPLATE,
};
/** The spec shapes checked below the top level (the kinds whose nested typos matter most). */
const SPECS: Record<string, Shape> = {
  Pod: POD_SPEC,
  Deployment: {
    ...leaves(
      "replicas",
      "selector",
      "strategy",
      "minReadySeconds",
      "revisionHistoryLimit",
      "paused",
      "progressDeadlineSeconds",
    ),
    template: TEMPLATE,
  },
  ReplicaSet: { ...leaves("replicas", "minReadySeconds", "selector"), template: TEMPLATE },
  DaemonSet: {
    ...leaves("selector", "updateStrategy", "minReadySeconds", "revisionHistoryLimit"),
    template: TEMPLATE,
  },
  StatefulSet: {
    ...leaves(
      "replicas",
      "selector",
      "serviceName",
      "volumeClaimTemplates",
      "podManagementPolicy",
      "updateStrategy",
      "revisionHistoryLimit",
      "minReadySeconds",
      "persistentVolumeClaimRetentionPolicy",
      "ordinals",
    ),
    template: TEMPLATE,
  },
  Job: JOB_SPEC,
  CronJob: {
    ...leaves(
      "schedule",
      "timeZone",
      "startingDeadlineSeconds",
      "concurrencyPolicy",
      "suspend",
      "successfulJobsHistoryLimit",
      "failedJobsHistoryLimit",
    ),
    jobTemplate: { metadata: true, spec: JOB_SPEC },
  },
};
function unknownIn(node: Json, shape: Shape, path: string, out: string[]): void {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return;
  for (const [k, v] of Object.entries(node)) {
    // strategic merge patch directives ($patch, $setElementOrder/x, $retainKeys, ...)
    if (k.startsWith("$")) continue;
    const here = `${path}.${k}`;
    const sub = shape[k];
    if (sub === undefined) {
      out.push(here);
      continue;
    }
    if (sub === true) continue;
    if (Array.isArray(sub)) {
      if (Array.isArray(v))
        v.forEach((item, i) => {
          unknownIn(item, sub[0], `${here}[${i}]`, out);
        });
    } else unknownIn(v, sub, here, out);
  }
}

/** Unknown field paths of a request body (empty for kinds without a field list). */
export function unknownFields(def: ResourceDef, body: Json): string[] {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return [];
  const allowed = def.kind === "Event" ? (def.group ? EVENTS_V1 : CORE_EVENT) : TOP[def.kind];
  if (!allowed) return [];
  const out: string[] = [];
  for (const k of Object.keys(body)) {
    if (k === "apiVersion" || k === "kind" || k === "metadata" || k.startsWith("$")) continue;
    if (!allowed.includes(k)) out.push(k);
  }
  const m = body.metadata;
  if (m && typeof m === "object" && !Array.isArray(m)) {
    for (const k of Object.keys(m)) if (!META.has(k) && !k.startsWith("$")) out.push(`metadata.${k}`);
  }
  const spec = SPECS[def.kind];
  if (spec) unknownIn(body.spec, spec, "spec", out);
  const tm = body.spec?.template?.metadata;
  if (def.kind !== "Pod" && tm && typeof tm === "object" && !Array.isArray(tm))
    for (const k of Object.keys(tm))
      if (!META.has(k) && !k.startsWith("$")) out.push(`spec.template.metadata.${k}`);
  return out;
}
