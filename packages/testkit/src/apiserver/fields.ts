import type { ResourceDef } from "./resources.js";
import type { Json } from "./types.js";

/**
 * Known top-level and metadata fields per kind, for kube-apiserver's field validation
 * (`fieldValidation=Strict|Warn|Ignore`, default Warn): a subset of full schema validation that
 * catches misspelt top-level and metadata fields.
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

/** Unknown top-level and metadata field paths of a request body (empty for kinds without a field list). */
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
  return out;
}
