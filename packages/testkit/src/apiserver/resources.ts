/** How one API resource is served: mirrors an entry of kube-apiserver's discovery documents. */
export interface ResourceDef {
  group: string;
  version: string;
  /** Lower-case plural used in URLs, e.g. `pods`. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources with their discovery verbs (status, binding, eviction, token, finalize). */
  subresources: Record<string, { kind: string; group?: string; version?: string; verbs: string[] }>;
  verbs: string[];
  /** Resources stored and listed (false for TokenReview-style create-only virtual resources). */
  stored: boolean;
  /** Categories for `kubectl get all`. */
  categories?: string[];
  /** Field selector labels the server accepts besides metadata.name / metadata.namespace. */
  fieldLabels: string[];
  /** apiVersion string written into objects. */
  apiVersion: string;
  /** Key for storage maps: `group/plural`. */
  key: string;
  /** Whether an update that does not find the object creates it (events, like upstream). */
  createOnUpdate?: boolean;
  /** Propagation policy of a DELETE that names none (batch/v1 Jobs orphan, like upstream). */
  defaultPropagationPolicy?: "Orphan";
  /** Converts between the stored shape and this version's wire shape when storage is shared. */
  convert?: { out(o: KubeObject): Json; in(o: KubeObject): KubeObject; field(path: string): string };
}

import { eventsV1 } from "./convert.js";
import type { Json, KubeObject } from "./types.js";

const CRUD = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS = { verbs: ["get", "patch", "update"] };
/** The scale subresource: client-go's scale client reads the Scale GVK from this discovery entry. */
const SCALE = { kind: "Scale", group: "autoscaling", version: "v1", verbs: ["get", "patch", "update"] };

function def(
  d: Omit<ResourceDef, "apiVersion" | "key" | "subresources" | "verbs" | "stored" | "fieldLabels"> &
    Partial<Pick<ResourceDef, "subresources" | "verbs" | "stored" | "fieldLabels">>,
): ResourceDef {
  return {
    subresources: {},
    verbs: CRUD,
    stored: true,
    fieldLabels: [],
    ...d,
    apiVersion: d.group ? `${d.group}/${d.version}` : d.version,
    // events.k8s.io/v1 Events live in the core/v1 event storage, like upstream
    key: d.group === "events.k8s.io" ? "/events" : `${d.group}/${d.plural}`,
  };
}

const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
];

/** Every resource the simulator serves, in discovery order. */
export const RESOURCES: readonly ResourceDef[] = [
  def({
    group: "",
    version: "v1",
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    shortNames: ["ns"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    subresources: {
      status: { kind: "Namespace", ...STATUS },
      finalize: { kind: "Namespace", verbs: ["update"] },
    },
    fieldLabels: ["status.phase"],
  }),
  def({
    group: "",
    version: "v1",
    plural: "nodes",
    singular: "node",
    kind: "Node",
    namespaced: false,
    shortNames: ["no"],
    subresources: {
      status: { kind: "Node", ...STATUS },
      // connect subresource: /api/v1/nodes/{name}/proxy[/{path}] to the node's kubelet
      proxy: { kind: "NodeProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
    },
    fieldLabels: ["spec.unschedulable"],
  }),
  def({
    group: "",
    version: "v1",
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    namespaced: true,
    shortNames: ["po"],
    categories: ["all"],
    subresources: {
      status: { kind: "Pod", ...STATUS },
      binding: { kind: "Binding", verbs: ["create"] },
      eviction: { kind: "Eviction", group: "policy", version: "v1", verbs: ["create"] },
      log: { kind: "Pod", verbs: ["get"] },
      exec: { kind: "PodExecOptions", verbs: ["create", "get"] },
      attach: { kind: "PodAttachOptions", verbs: ["create", "get"] },
      portforward: { kind: "PodPortForwardOptions", verbs: ["create", "get"] },
    },
    fieldLabels: [
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName",
    ],
  }),
  def({
    group: "",
    version: "v1",
    plural: "services",
    singular: "service",
    kind: "Service",
    namespaced: true,
    shortNames: ["svc"],
    categories: ["all"],
    subresources: { status: { kind: "Service", ...STATUS } },
  }),
  def({
    group: "",
    version: "v1",
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    namespaced: true,
    shortNames: ["cm"],
  }),
  def({
    group: "",
    version: "v1",
    plural: "secrets",
    singular: "secret",
    kind: "Secret",
    namespaced: true,
    fieldLabels: ["type"],
  }),
  def({
    group: "",
    version: "v1",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    kind: "ServiceAccount",
    namespaced: true,
    shortNames: ["sa"],
    subresources: {
      token: { kind: "TokenRequest", group: "authentication.k8s.io", version: "v1", verbs: ["create"] },
    },
  }),
  def({
    group: "",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    namespaced: true,
    shortNames: ["ev"],
    fieldLabels: EVENT_FIELDS,
    createOnUpdate: true,
  }),
  def({
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    singular: "lease",
    kind: "Lease",
    namespaced: true,
  }),
  def({
    group: "discovery.k8s.io",
    version: "v1",
    plural: "endpointslices",
    singular: "endpointslice",
    kind: "EndpointSlice",
    namespaced: true,
    fieldLabels: ["addressType"],
  }),
  def({
    group: "events.k8s.io",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    namespaced: true,
    shortNames: ["ev"],
    fieldLabels: [
      "regarding.kind",
      "regarding.namespace",
      "regarding.name",
      "regarding.uid",
      "reason",
      "type",
    ],
    createOnUpdate: true,
    convert: eventsV1,
  }),
  def({
    group: "apps",
    version: "v1",
    plural: "deployments",
    singular: "deployment",
    kind: "Deployment",
    namespaced: true,
    shortNames: ["deploy"],
    categories: ["all"],
    subresources: { status: { kind: "Deployment", ...STATUS }, scale: SCALE },
  }),
  def({
    group: "apps",
    version: "v1",
    plural: "replicasets",
    singular: "replicaset",
    kind: "ReplicaSet",
    namespaced: true,
    shortNames: ["rs"],
    categories: ["all"],
    subresources: { status: { kind: "ReplicaSet", ...STATUS }, scale: SCALE },
  }),
  def({
    group: "apps",
    version: "v1",
    plural: "daemonsets",
    singular: "daemonset",
    kind: "DaemonSet",
    namespaced: true,
    shortNames: ["ds"],
    categories: ["all"],
    subresources: { status: { kind: "DaemonSet", ...STATUS } },
  }),
  def({
    group: "apps",
    version: "v1",
    plural: "statefulsets",
    singular: "statefulset",
    kind: "StatefulSet",
    namespaced: true,
    shortNames: ["sts"],
    categories: ["all"],
    subresources: { status: { kind: "StatefulSet", ...STATUS }, scale: SCALE },
  }),
  def({
    group: "apps",
    version: "v1",
    plural: "controllerrevisions",
    singular: "controllerrevision",
    kind: "ControllerRevision",
    namespaced: true,
  }),
  def({
    group: "batch",
    version: "v1",
    plural: "jobs",
    singular: "job",
    kind: "Job",
    namespaced: true,
    categories: ["all"],
    subresources: { status: { kind: "Job", ...STATUS } },
    // batch/v1 Jobs leave their pods behind unless the client asks otherwise (DefaultGarbageCollectionPolicy)
    defaultPropagationPolicy: "Orphan",
  }),
  def({
    group: "batch",
    version: "v1",
    plural: "cronjobs",
    singular: "cronjob",
    kind: "CronJob",
    namespaced: true,
    shortNames: ["cj"],
    categories: ["all"],
    subresources: { status: { kind: "CronJob", ...STATUS } },
  }),
  def({
    group: "authentication.k8s.io",
    version: "v1",
    plural: "tokenreviews",
    singular: "tokenreview",
    kind: "TokenReview",
    namespaced: false,
    verbs: ["create"],
    stored: false,
  }),
  def({
    group: "authentication.k8s.io",
    version: "v1",
    plural: "selfsubjectreviews",
    singular: "selfsubjectreview",
    kind: "SelfSubjectReview",
    namespaced: false,
    verbs: ["create"],
    stored: false,
  }),
  def({
    group: "authorization.k8s.io",
    version: "v1",
    plural: "subjectaccessreviews",
    singular: "subjectaccessreview",
    kind: "SubjectAccessReview",
    namespaced: false,
    verbs: ["create"],
    stored: false,
  }),
  def({
    group: "authorization.k8s.io",
    version: "v1",
    plural: "selfsubjectaccessreviews",
    singular: "selfsubjectaccessreview",
    kind: "SelfSubjectAccessReview",
    namespaced: false,
    verbs: ["create"],
    stored: false,
  }),
  def({
    group: "authorization.k8s.io",
    version: "v1",
    plural: "selfsubjectrulesreviews",
    singular: "selfsubjectrulesreview",
    kind: "SelfSubjectRulesReview",
    namespaced: false,
    verbs: ["create"],
    stored: false,
  }),
  def({
    group: "certificates.k8s.io",
    version: "v1",
    plural: "certificatesigningrequests",
    singular: "certificatesigningrequest",
    kind: "CertificateSigningRequest",
    namespaced: false,
    shortNames: ["csr"],
    subresources: {
      status: { kind: "CertificateSigningRequest", ...STATUS },
      approval: { kind: "CertificateSigningRequest", ...STATUS },
    },
    fieldLabels: ["spec.signerName"],
  }),
  def({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    kind: "ClusterRoleBinding",
    namespaced: false,
  }),
  def({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "clusterroles",
    singular: "clusterrole",
    kind: "ClusterRole",
    namespaced: false,
  }),
  def({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "rolebindings",
    singular: "rolebinding",
    kind: "RoleBinding",
    namespaced: true,
  }),
  def({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "roles",
    singular: "role",
    kind: "Role",
    namespaced: true,
  }),
  def({
    group: "policy",
    version: "v1",
    plural: "poddisruptionbudgets",
    singular: "poddisruptionbudget",
    kind: "PodDisruptionBudget",
    namespaced: true,
    shortNames: ["pdb"],
    subresources: { status: { kind: "PodDisruptionBudget", ...STATUS } },
  }),
];

/** Group name -> versions -> plural -> def. */
const byPath = new Map<string, ResourceDef>();
for (const r of RESOURCES) byPath.set(`${r.group}/${r.version}/${r.plural}`, r);

/** Looks up a resource by group, version and plural. */
export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return byPath.get(`${group}/${version}/${plural}`);
}

/** Group names with their versions, in discovery order. */
export function apiGroups(): { name: string; versions: string[] }[] {
  const out: { name: string; versions: string[] }[] = [];
  for (const r of RESOURCES) {
    if (!r.group) continue;
    let g = out.find((x) => x.name === r.group);
    if (!g) {
      g = { name: r.group, versions: [] };
      out.push(g);
    }
    if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

export function resourcesIn(group: string, version: string): ResourceDef[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}
