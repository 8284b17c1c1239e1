import type { Json } from "./types.js";

/**
 * What kube-apiserver's OpenAPI says that @kubernetes/client-node's models do not carry: which Go
 * package a type lives in, which string fields are resource.Quantity, the opaque JSON types, and the
 * list and patch extensions kubectl apply merges by. Each entry is a fact read from upstream's
 * published spec (api/openapi-spec in kubernetes/kubernetes, release 1.36), restricted to the types
 * the simulator serves. Definition names are written without their "io.k8s.api." prefix.
 */

/** client-node models that are apimachinery meta/v1 types (io.k8s.apimachinery.pkg.apis.meta.v1.*). */
export const META_CLASSES: ReadonlySet<string> = new Set([
  "V1ObjectMeta",
  "V1ListMeta",
  "V1ManagedFieldsEntry",
  "V1OwnerReference",
  "V1Condition",
  "V1LabelSelector",
  "V1LabelSelectorRequirement",
  "V1FieldSelectorRequirement",
  "V1DeleteOptions",
  "V1Preconditions",
]);

/**
 * core/v1 types that other groups' kinds embed. Every other unprefixed model lives in the package
 * of the type that first references it, and client-node prefixes a class ("CoreV1Event",
 * "RbacV1Subject") only where two packages share a name.
 */
export const CORE_CLASSES: ReadonlySet<string> = new Set(["V1PodTemplateSpec", "V1PersistentVolumeClaim"]);

/** client-node names a type it has no model for: it is one of the scalar definitions below. */
export const SCALAR_CLASSES: Readonly<Record<string, string>> = {
  V1MicroTime: "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
};

/** The Go package an API group's types live in: its first label ("rbac.authorization.k8s.io" -> rbac). */
export function packageOfGroup(group: string): string {
  return group === "" ? "core" : group.split(".")[0]!;
}

/** The full definition name, for names written short in the tables below. */
export function fullName(short: string): string {
  return short.startsWith("meta.") ? `io.k8s.apimachinery.pkg.apis.${short}` : `io.k8s.api.${short}`;
}

const description = (text: string): Json => ({ description: text });

/**
 * Types serialized as JSON scalars or opaque objects. v3 describes the two-typed ones with oneOf
 * (kube-openapi's OpenAPIV3OneOfTypes), v2 as strings; kubectl explain names them by their
 * definition ("<IntOrString>", "<map[string]Quantity>") because their v3 schema has no single type.
 */
export const SCALAR_TYPES: Readonly<Record<string, (v: "v2" | "v3") => Json>> = {
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": (v) => ({
    ...description(
      "An int32 or a string, written as whichever it holds (a port number or name, a count or a percentage).",
    ),
    format: "int-or-string",
    ...(v === "v3" ? { oneOf: [{ type: "integer" }, { type: "string" }] } : { type: "string" }),
  }),
  "io.k8s.apimachinery.pkg.api.resource.Quantity": (v) => ({
    ...description(
      'A fixed-point number with an optional suffix ("500m", "1Gi", "2"), as a string or a number.',
    ),
    ...(v === "v3" ? { oneOf: [{ type: "string" }, { type: "number" }] } : { type: "string" }),
  }),
  "io.k8s.apimachinery.pkg.apis.meta.v1.Time": () => ({
    ...description("A timestamp in RFC 3339 form with second precision."),
    type: "string",
    format: "date-time",
  }),
  "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": () => ({
    ...description("A timestamp in RFC 3339 form with microsecond precision."),
    type: "string",
    format: "date-time",
  }),
  "io.k8s.apimachinery.pkg.runtime.RawExtension": () => ({
    ...description("An embedded object of any kind, stored as the JSON it was given."),
    type: "object",
  }),
  "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": () => ({
    ...description("The set of fields a manager owns, in the fieldsV1 trie encoding."),
    type: "object",
  }),
};

/** Fields client-node types `any` and the definition upstream gives them. */
export const OPAQUE_FIELDS: Readonly<Record<string, string>> = {
  [fullName("apps.v1.ControllerRevision.data")]: "io.k8s.apimachinery.pkg.runtime.RawExtension",
  [fullName("meta.v1.ManagedFieldsEntry.fieldsV1")]: "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
};

/** String fields (or map values) that are resource.Quantity upstream; client-node types them string. */
export const QUANTITY_FIELDS: ReadonlySet<string> = new Set(
  [
    "core.v1.ContainerStatus.allocatedResources",
    "core.v1.EmptyDirVolumeSource.sizeLimit",
    "core.v1.NodeAllocatableResourceClaimStatus.resources",
    "core.v1.NodeStatus.allocatable",
    "core.v1.NodeStatus.capacity",
    "core.v1.PersistentVolumeClaimStatus.allocatedResources",
    "core.v1.PersistentVolumeClaimStatus.capacity",
    "core.v1.PodSpec.overhead",
    "core.v1.PodStatus.allocatedResources",
    "core.v1.ResourceFieldSelector.divisor",
    "core.v1.ResourceRequirements.limits",
    "core.v1.ResourceRequirements.requests",
    "core.v1.VolumeResourceRequirements.limits",
    "core.v1.VolumeResourceRequirements.requests",
  ].map(fullName),
);

// strategic merge patch by key, listed as a map in server-side apply (most keyed lists)
const merge = (key: string, mapKeys: string[] = [key], strategy = "merge"): Json => ({
  "x-kubernetes-list-map-keys": mapKeys,
  "x-kubernetes-list-type": "map",
  "x-kubernetes-patch-merge-key": key,
  "x-kubernetes-patch-strategy": strategy,
});
// strategic merge by key, but replaced whole by server-side apply
const mergeAtomic = (key: string): Json => ({
  "x-kubernetes-list-type": "atomic",
  "x-kubernetes-patch-merge-key": key,
  "x-kubernetes-patch-strategy": "merge",
});
// a map-list for server-side apply that strategic merge patch replaces whole
const mapList = (...keys: string[]): Json => ({
  "x-kubernetes-list-map-keys": keys,
  "x-kubernetes-list-type": "map",
});
const set: Json = { "x-kubernetes-list-type": "set" };
const byType = merge("type");

/**
 * The list and patch extensions of the served types' fields: what kubectl apply's three-way
 * strategic merge patch reads (x-kubernetes-patch-merge-key / -patch-strategy) and what server-side
 * apply reads (x-kubernetes-list-type / -list-map-keys, and -map-type on string maps). Lists
 * upstream marks only "atomic" are left out: without an extension a list is atomic to both.
 */
export const LIST_EXTENSIONS: Readonly<Record<string, Json>> = Object.fromEntries(
  Object.entries({
    "apps.v1.DaemonSetStatus.conditions": byType,
    "apps.v1.DeploymentSpec.strategy": { "x-kubernetes-patch-strategy": "retainKeys" },
    "apps.v1.DeploymentStatus.conditions": byType,
    "apps.v1.ReplicaSetStatus.conditions": byType,
    "apps.v1.StatefulSetStatus.conditions": byType,
    "batch.v1.JobStatus.conditions": mergeAtomic("type"),
    "batch.v1.PodFailurePolicyOnExitCodesRequirement.values": set,
    "batch.v1.UncountedTerminatedPods.failed": set,
    "batch.v1.UncountedTerminatedPods.succeeded": set,
    "certificates.v1.CertificateSigningRequestStatus.conditions": mapList("type"),
    "core.v1.Container.env": merge("name"),
    "core.v1.Container.ports": merge("containerPort", ["containerPort", "protocol"]),
    "core.v1.Container.volumeDevices": merge("devicePath"),
    "core.v1.Container.volumeMounts": merge("mountPath"),
    "core.v1.ContainerRestartRuleOnExitCodes.values": set,
    "core.v1.ContainerStatus.allocatedResourcesStatus": merge("name"),
    "core.v1.ContainerStatus.volumeMounts": merge("mountPath"),
    "core.v1.EphemeralContainer.env": merge("name"),
    "core.v1.EphemeralContainer.ports": merge("containerPort", ["containerPort", "protocol"]),
    "core.v1.EphemeralContainer.volumeDevices": merge("devicePath"),
    "core.v1.EphemeralContainer.volumeMounts": merge("mountPath"),
    "core.v1.NamespaceStatus.conditions": byType,
    "core.v1.NodeAllocatableResourceClaimStatus.containers": set,
    "core.v1.NodeSpec.podCIDRs": { ...set, "x-kubernetes-patch-strategy": "merge" },
    "core.v1.NodeStatus.addresses": byType,
    "core.v1.NodeStatus.conditions": byType,
    "core.v1.PersistentVolumeClaimStatus.allocatedResourceStatuses": { "x-kubernetes-map-type": "granular" },
    "core.v1.PersistentVolumeClaimStatus.conditions": byType,
    "core.v1.PodSpec.containers": merge("name"),
    "core.v1.PodSpec.ephemeralContainers": merge("name"),
    "core.v1.PodSpec.hostAliases": merge("ip"),
    "core.v1.PodSpec.imagePullSecrets": merge("name"),
    "core.v1.PodSpec.nodeSelector": { "x-kubernetes-map-type": "atomic" },
    "core.v1.PodSpec.initContainers": merge("name"),
    "core.v1.PodSpec.resourceClaims": merge("name", ["name"], "merge,retainKeys"),
    "core.v1.PodSpec.schedulingGates": merge("name"),
    "core.v1.PodSpec.topologySpreadConstraints": merge("topologyKey", ["topologyKey", "whenUnsatisfiable"]),
    "core.v1.PodSpec.volumes": merge("name", ["name"], "merge,retainKeys"),
    "core.v1.PodStatus.conditions": byType,
    "core.v1.PodStatus.hostIPs": mergeAtomic("ip"),
    "core.v1.PodStatus.podIPs": merge("ip"),
    "core.v1.PodStatus.resourceClaimStatuses": merge("name", ["name"], "merge,retainKeys"),
    "core.v1.ResourceRequirements.claims": mapList("name"),
    "core.v1.ResourceStatus.resources": mapList("resourceID"),
    "core.v1.ServiceAccount.secrets": merge("name"),
    "core.v1.ServiceSpec.ports": merge("port", ["port", "protocol"]),
    "core.v1.ServiceSpec.selector": { "x-kubernetes-map-type": "atomic" },
    "core.v1.ServiceStatus.conditions": byType,
    "discovery.v1.Endpoint.addresses": set,
    "policy.v1.PodDisruptionBudgetSpec.selector": { "x-kubernetes-patch-strategy": "replace" },
    "policy.v1.PodDisruptionBudgetStatus.conditions": byType,
    "meta.v1.ObjectMeta.finalizers": { ...set, "x-kubernetes-patch-strategy": "merge" },
    "meta.v1.ObjectMeta.ownerReferences": merge("uid"),
  }).map(([field, ext]) => [fullName(field), ext]),
);
