import { createHash } from "node:crypto";
import { groupVersionPaths } from "./discovery.js";
import { RESOURCES, type ResourceDef } from "./resources.js";
import type { Json } from "./types.js";

const META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

function pkgOf(r: ResourceDef): string {
  if (!r.group) return "core";
  return r.group.replace(/\.k8s\.io$/, "").replace(/\./g, "_");
}

/** The OpenAPI definition name kube-apiserver uses for a kind, e.g. io.k8s.api.core.v1.Pod. */
export function definitionName(r: ResourceDef): string {
  return `io.k8s.api.${pkgOf(r)}.${r.version}.${r.kind}`;
}

const obj = (description: string, properties?: Record<string, Json>): Json => ({
  type: "object",
  description,
  ...(properties ? { properties } : {}),
});
const str = (description: string): Json => ({ type: "string", description });
const int = (description: string): Json => ({ type: "integer", format: "int32", description });
const arr = (description: string, items: Json, mergeKey?: string): Json => ({
  type: "array",
  description,
  items,
  ...(mergeKey ? { "x-kubernetes-patch-merge-key": mergeKey, "x-kubernetes-patch-strategy": "merge" } : {}),
});

const CONTAINER = obj("A single application container that you want to run within a pod.", {
  name: str("Name of the container specified as a DNS_LABEL."),
  image: str("Container image name."),
  imagePullPolicy: str("Image pull policy. One of Always, Never, IfNotPresent."),
  command: arr("Entrypoint array.", { type: "string" }),
  args: arr("Arguments to the entrypoint.", { type: "string" }),
  env: arr(
    "List of environment variables to set in the container.",
    obj("EnvVar represents an environment variable present in a Container."),
    "name",
  ),
  ports: arr(
    "List of ports to expose from the container.",
    obj("ContainerPort represents a network port in a single container."),
    "containerPort",
  ),
  resources: obj("Compute Resources required by this container."),
  volumeMounts: arr(
    "Pod volumes to mount into the container's filesystem.",
    obj("VolumeMount describes a mounting of a Volume within a container."),
    "mountPath",
  ),
  readinessProbe: obj("Periodic probe of container service readiness."),
  livenessProbe: obj("Periodic probe of container liveness."),
  terminationMessagePath: str(
    "Path at which the file to which the container's termination message will be written is mounted.",
  ),
});

const LABEL_SELECTOR = obj("A label query over pods. It must match the pod template's labels.", {
  matchLabels: {
    type: "object",
    description: "matchLabels is a map of {key,value} pairs.",
    additionalProperties: { type: "string" },
  },
  matchExpressions: arr(
    "matchExpressions is a list of label selector requirements. The requirements are ANDed.",
    obj(
      "A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.",
    ),
  ),
});
const INT_OR_STRING = (description: string): Json => ({ "x-kubernetes-int-or-string": true, description });
const strings = (description: string): Json => arr(description, { type: "string" });
const POLICY_RULE = obj(
  "PolicyRule holds information that describes a policy rule, but does not contain information about who the rule applies to or which namespace the rule applies to.",
  {
    verbs: strings(
      "Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule. '*' represents all verbs.",
    ),
    apiGroups: strings("APIGroups is the name of the APIGroup that contains the resources."),
    resources: strings(
      "Resources is a list of resources this rule applies to. '*' represents all resources.",
    ),
    resourceNames: strings("ResourceNames is an optional white list of names that the rule applies to."),
    nonResourceURLs: strings("NonResourceURLs is a set of partial urls that a user should have access to."),
  },
);

/** PodTemplateSpec: metadata plus the Pod spec fields (filled in once SPEC_FIELDS exists). */
const podTemplateSpec: Record<string, Json> = {};
const podTemplate = (): Json =>
  obj("Template describes the pods that will be created.", {
    metadata: {
      allOf: [{ $ref: `#/components/schemas/${META}` }],
      description: "Standard object's metadata.",
    },
    spec: obj("Specification of the desired behavior of the pod.", podTemplateSpec),
  });

const SPEC_FIELDS: Record<string, Record<string, Json>> = {
  Pod: {
    containers: arr("List of containers belonging to the pod.", CONTAINER, "name"),
    initContainers: arr("List of initialization containers belonging to the pod.", CONTAINER, "name"),
    nodeName: str("NodeName indicates in which node this pod is scheduled."),
    nodeSelector: {
      type: "object",
      description: "NodeSelector is a selector which must be true for the pod to fit on a node.",
      additionalProperties: { type: "string" },
    },
    restartPolicy: str("Restart policy for all containers within the pod. One of Always, OnFailure, Never."),
    terminationGracePeriodSeconds: {
      type: "integer",
      format: "int64",
      description: "Optional duration in seconds the pod needs to terminate gracefully.",
    },
    tolerations: arr(
      "If specified, the pod's tolerations.",
      obj(
        "The pod this Toleration is attached to tolerates any taint that matches the triple <key,value,effect>.",
      ),
    ),
    volumes: arr(
      "List of volumes that can be mounted by containers belonging to the pod.",
      obj("Volume represents a named volume in a pod."),
      "name",
    ),
    serviceAccountName: str("ServiceAccountName is the name of the ServiceAccount to use to run this pod."),
    hostNetwork: { type: "boolean", description: "Host networking requested for this pod." },
    dnsPolicy: str("Set DNS policy for the pod."),
  },
  Node: {
    podCIDR: str("PodCIDR represents the pod IP range assigned to the node."),
    taints: arr(
      "If specified, the node's taints.",
      obj("The node this Taint is attached to has the effect on any pod that does not tolerate the Taint."),
    ),
    unschedulable: {
      type: "boolean",
      description: "Unschedulable controls node schedulability of new pods.",
    },
    providerID: str("ID of the node assigned by the cloud provider."),
  },
  Service: {
    type: str(
      "type determines how the Service is exposed. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.",
    ),
    selector: {
      type: "object",
      description: "Route service traffic to pods with label keys and values matching this selector.",
      additionalProperties: { type: "string" },
    },
    ports: arr(
      "The list of ports that are exposed by this service.",
      obj("ServicePort contains information on service's port."),
      "port",
    ),
    clusterIP: str("clusterIP is the IP address of the service and is usually assigned randomly."),
  },
  Deployment: {
    replicas: int("Number of desired pods. Defaults to 1."),
    selector: LABEL_SELECTOR,
    template: podTemplate(),
    strategy: obj("The deployment strategy to use to replace existing pods with new ones.", {
      type: str('Type of deployment. Can be "Recreate" or "RollingUpdate". Default is RollingUpdate.'),
      rollingUpdate: obj(
        "Rolling update config params. Present only if DeploymentStrategyType = RollingUpdate.",
        {
          maxUnavailable: INT_OR_STRING(
            "The maximum number of pods that can be unavailable during the update.",
          ),
          maxSurge: INT_OR_STRING(
            "The maximum number of pods that can be scheduled above the desired number of pods.",
          ),
        },
      ),
    }),
    minReadySeconds: int(
      "Minimum number of seconds for which a newly created pod should be ready to be considered available.",
    ),
    revisionHistoryLimit: int("The number of old ReplicaSets to retain to allow rollback. Defaults to 10."),
    paused: { type: "boolean", description: "Indicates that the deployment is paused." },
    progressDeadlineSeconds: int(
      "The maximum time in seconds for a deployment to make progress before it is considered to be failed. Defaults to 600s.",
    ),
  },
  ReplicaSet: {
    replicas: int("Replicas is the number of desired pods. Defaults to 1."),
    selector: LABEL_SELECTOR,
    template: podTemplate(),
    minReadySeconds: int(
      "Minimum number of seconds for which a newly created pod should be ready to be considered available.",
    ),
  },
  DaemonSet: {
    selector: LABEL_SELECTOR,
    template: podTemplate(),
    updateStrategy: obj("An update strategy to replace existing DaemonSet pods with new pods.", {
      type: str('Type of daemon set update. Can be "RollingUpdate" or "OnDelete". Default is RollingUpdate.'),
      rollingUpdate: obj('Rolling update config params. Present only if type = "RollingUpdate".', {
        maxUnavailable: INT_OR_STRING(
          "The maximum number of DaemonSet pods that can be unavailable during the update.",
        ),
        maxSurge: INT_OR_STRING(
          "The maximum number of nodes with an existing available DaemonSet pod that can have an updated DaemonSet pod during during an update.",
        ),
      }),
    }),
    minReadySeconds: int(
      "The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its container crashing, for it to be considered available.",
    ),
    revisionHistoryLimit: int("The number of old history to retain to allow rollback. Defaults to 10."),
  },
  StatefulSet: {
    replicas: int("replicas is the desired number of replicas of the given Template. Defaults to 1."),
    selector: LABEL_SELECTOR,
    template: podTemplate(),
    serviceName: str("serviceName is the name of the service that governs this StatefulSet."),
    podManagementPolicy: str(
      "podManagementPolicy controls how pods are created during initial scale up: OrderedReady (default) or Parallel.",
    ),
    updateStrategy: obj(
      "updateStrategy indicates the StatefulSetUpdateStrategy that will be employed to update Pods in the StatefulSet when a revision is made to Template.",
      {
        type: str("Type indicates the type of the StatefulSetUpdateStrategy. Default is RollingUpdate."),
        rollingUpdate: obj(
          "RollingUpdate is used to communicate parameters when Type is RollingUpdateStatefulSetStrategyType.",
          {
            partition: int(
              "Partition indicates the ordinal at which the StatefulSet should be partitioned for updates.",
            ),
            maxUnavailable: INT_OR_STRING(
              "The maximum number of pods that can be unavailable during the update.",
            ),
          },
        ),
      },
    ),
    revisionHistoryLimit: int(
      "revisionHistoryLimit is the maximum number of revisions that will be maintained in the StatefulSet's revision history.",
    ),
    minReadySeconds: int(
      "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing for it to be considered available.",
    ),
    volumeClaimTemplates: arr(
      "volumeClaimTemplates is a list of claims that pods are allowed to reference.",
      obj("PersistentVolumeClaim is a user's request for and claim to a persistent volume"),
    ),
  },
  CertificateSigningRequest: {
    request: {
      type: "string",
      format: "byte",
      description:
        'request contains an x509 certificate signing request encoded in a "CERTIFICATE REQUEST" PEM block.',
    },
    signerName: str("signerName indicates the requested signer, and is a qualified name."),
    expirationSeconds: int(
      "expirationSeconds is the requested duration of validity of the issued certificate.",
    ),
    usages: strings("usages specifies a set of key usages requested in the issued certificate."),
    username: str(
      "username contains the name of the user that created the CertificateSigningRequest. Populated by the API server on creation and immutable.",
    ),
    uid: str(
      "uid contains the uid of the user that created the CertificateSigningRequest. Populated by the API server on creation and immutable.",
    ),
    groups: strings(
      "groups contains group membership of the user that created the CertificateSigningRequest. Populated by the API server on creation and immutable.",
    ),
  },
  Job: {
    parallelism: int("Specifies the maximum desired number of pods the job should run at any given time."),
    completions: int(
      "Specifies the desired number of successfully finished pods the job should be run with.",
    ),
    backoffLimit: int("Specifies the number of retries before marking this job failed. Defaults to 6."),
    activeDeadlineSeconds: {
      type: "integer",
      format: "int64",
      description:
        "Specifies the duration in seconds relative to the startTime that the job may be continuously active before the system tries to terminate it.",
    },
    completionMode: str(
      "completionMode specifies how Pod completions are tracked. It can be `NonIndexed` (default) or `Indexed`.",
    ),
    suspend: {
      type: "boolean",
      description: "suspend specifies whether the Job controller should create Pods or not.",
    },
    manualSelector: {
      type: "boolean",
      description: "manualSelector controls generation of pod labels and pod selectors.",
    },
    selector: LABEL_SELECTOR,
    template: podTemplate(),
    ttlSecondsAfterFinished: int(
      "ttlSecondsAfterFinished limits the lifetime of a Job that has finished execution.",
    ),
  },
  Lease: {
    holderIdentity: str("holderIdentity contains the identity of the holder of a current lease."),
    leaseDurationSeconds: int(
      "leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it.",
    ),
    renewTime: {
      type: "string",
      format: "date-time",
      description: "renewTime is a time when the current holder of a lease has last updated the lease.",
    },
    acquireTime: {
      type: "string",
      format: "date-time",
      description: "acquireTime is a time when the current lease was acquired.",
    },
    leaseTransitions: int("leaseTransitions is the number of transitions of a lease between holders."),
  },
};

Object.assign(podTemplateSpec, SPEC_FIELDS.Pod);

const DESCRIPTIONS: Record<string, string> = {
  Deployment: "Deployment enables declarative updates for Pods and ReplicaSets.",
  ReplicaSet: "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
  Job: "Job represents the configuration of a single job.",
  DaemonSet: "DaemonSet represents the configuration of a daemon set.",
  StatefulSet: "StatefulSet represents a set of pods with consistent identities.",
  CertificateSigningRequest:
    "CertificateSigningRequest objects provide a mechanism to obtain x509 certificates by submitting a certificate signing request, and having it asynchronously approved and issued.",
  Role: "Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.",
  ClusterRole:
    "ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.",
  RoleBinding: "RoleBinding references a role, but does not contain it.",
  ClusterRoleBinding: "ClusterRoleBinding references a ClusterRole, but not contain it.",
  Pod: "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
  Node: "Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).",
  Service:
    "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
  Lease: "Lease defines a lease concept.",
  Namespace: "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
  ConfigMap: "ConfigMap holds configuration data for pods to consume.",
  Secret: "Secret holds secret data of a certain type.",
  EndpointSlice: "EndpointSlice represents a subset of the endpoints that implement a service.",
};

function kindSchema(r: ResourceDef): Json {
  const props: Record<string, Json> = {
    apiVersion: str("APIVersion defines the versioned schema of this representation of an object."),
    kind: str("Kind is a string value representing the REST resource this object represents."),
    metadata: {
      allOf: [{ $ref: `#/components/schemas/${META}` }],
      description: "Standard object's metadata.",
    },
  };
  if (r.kind === "ConfigMap" || r.kind === "Secret") {
    props.data = {
      type: "object",
      description: "Data contains the configuration data.",
      additionalProperties: { type: "string" },
    };
    if (r.kind === "Secret") props.type = str("Used to facilitate programmatic handling of secret data.");
  } else if (r.kind === "EndpointSlice") {
    props.addressType = str("addressType specifies the type of address carried by this EndpointSlice.");
    props.endpoints = arr(
      "endpoints is a list of unique endpoints in this slice.",
      obj("Endpoint represents a single logical backend implementing a service."),
    );
    props.ports = arr(
      "ports specifies the list of network ports exposed by each endpoint in this slice.",
      obj("EndpointPort represents a Port used by an EndpointSlice"),
    );
  } else if (r.kind === "Role" || r.kind === "ClusterRole") {
    props.rules = arr("Rules holds all the PolicyRules for this Role", POLICY_RULE);
    if (r.kind === "ClusterRole")
      props.aggregationRule = obj(
        "AggregationRule is an optional field that describes how to build the Rules for this ClusterRole.",
      );
  } else if (r.kind === "RoleBinding" || r.kind === "ClusterRoleBinding") {
    props.subjects = arr(
      "Subjects holds references to the objects the role applies to.",
      obj("Subject contains a reference to the object or user identities a role binding applies to.", {
        kind: str(
          'Kind of object being referenced. Values defined by this API group are "User", "Group", and "ServiceAccount".',
        ),
        apiGroup: str("APIGroup holds the API group of the referenced subject."),
        name: str("Name of the object being referenced."),
        namespace: str("Namespace of the referenced object."),
      }),
    );
    props.roleRef = obj(
      "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
      {
        apiGroup: str("APIGroup is the group for the resource being referenced"),
        kind: str("Kind is the type of resource being referenced"),
        name: str("Name is the name of resource being referenced"),
      },
    );
  } else if (r.kind !== "Event") {
    props.spec = obj(`Spec defines the behavior of the ${r.kind}.`, SPEC_FIELDS[r.kind]);
    if (r.subresources.status) props.status = obj(`Most recently observed status of the ${r.kind}.`);
  }
  return {
    type: "object",
    description: DESCRIPTIONS[r.kind] ?? `${r.kind} (${r.apiVersion}).`,
    properties: props,
    "x-kubernetes-group-version-kind": [{ group: r.group, version: r.version, kind: r.kind }],
  };
}

const OBJECT_META: Json = {
  type: "object",
  description:
    "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
  properties: {
    name: str("Name must be unique within a namespace."),
    namespace: str("Namespace defines the space within which each name must be unique."),
    labels: {
      type: "object",
      description: "Map of string keys and values that can be used to organize and categorize objects.",
      additionalProperties: { type: "string" },
    },
    annotations: {
      type: "object",
      description: "Annotations is an unstructured key value map.",
      additionalProperties: { type: "string" },
    },
    uid: str("UID is the unique in time and space value for this object."),
    resourceVersion: str("An opaque value that represents the internal version of this object."),
    generateName: str("GenerateName is an optional prefix, used by the server, to generate a unique name."),
    finalizers: {
      ...arr("Must be empty before the object is deleted from the registry.", { type: "string" }),
      "x-kubernetes-patch-strategy": "merge",
    },
    ownerReferences: arr("List of objects depended by this object.", { type: "object" }, "uid"),
    creationTimestamp: {
      type: "string",
      format: "date-time",
      description:
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    },
    deletionTimestamp: {
      type: "string",
      format: "date-time",
      description: "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted.",
    },
  },
};

const QUERY = (name: string, description: string): Json => ({
  name,
  in: "query",
  description,
  schema: { type: "string", uniqueItems: true },
});

function pathsFor(rs: ResourceDef[]): Json {
  const paths: Json = {};
  for (const r of rs) {
    const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced ? "/namespaces/{namespace}" : "";
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const ref = { $ref: `#/components/schemas/${definitionName(r)}` };
    const op = (action: string, extra: Json[] = []): Json => ({
      description: `${action} ${r.kind}`,
      operationId: `${action}${r.kind}`,
      parameters: [
        QUERY("dryRun", "When present, indicates that modifications should not be persisted."),
        QUERY(
          "fieldManager",
          "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        ...extra,
      ],
      responses: { "200": { description: "OK", content: { "application/json": { schema: ref } } } },
      "x-kubernetes-action": action,
      "x-kubernetes-group-version-kind": gvk,
    });
    const fv = QUERY(
      "fieldValidation",
      "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.",
    );
    if (r.verbs.includes("list") || r.verbs.includes("create"))
      paths[`${prefix}${ns}/${r.plural}`] = {
        ...(r.verbs.includes("list") ? { get: op("list") } : {}),
        ...(r.verbs.includes("create") ? { post: op("post", [fv]) } : {}),
      };
    if (r.verbs.includes("get"))
      paths[`${prefix}${ns}/${r.plural}/{name}`] = {
        get: op("get"),
        put: op("put", [fv]),
        patch: op("patch", [fv, QUERY("force", "Force is going to force Apply requests.")]),
        delete: op("delete"),
      };
    for (const sub of Object.keys(r.subresources))
      if (sub === "status")
        paths[`${prefix}${ns}/${r.plural}/{name}/status`] = {
          get: op("get"),
          put: op("put", [fv]),
          patch: op("patch", [fv]),
        };
  }
  return paths;
}

/** /openapi/v3/<group-version path> document, or undefined when not served. */
export function openApiV3Doc(gvPath: string): Json | undefined {
  const rs = RESOURCES.filter(
    (r) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`) === gvPath,
  );
  if (!rs.length) return undefined;
  const schemas: Json = { [META]: OBJECT_META };
  for (const r of rs) schemas[definitionName(r)] = kindSchema(r);
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.32.0" },
    paths: pathsFor(rs),
    components: { schemas },
  };
}

let indexCache: Json | undefined;
/** /openapi/v3 discovery index. */
export function openApiV3Index(): Json {
  if (!indexCache) {
    const paths: Json = {};
    for (const p of groupVersionPaths()) {
      const hash = createHash("sha512")
        .update(JSON.stringify(openApiV3Doc(p)))
        .digest("hex")
        .toUpperCase()
        .slice(0, 128);
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
    }
    indexCache = { paths };
  }
  return indexCache;
}

/** /openapi/v2 (Swagger 2.0) with the same definitions, for older clients. */
export function openApiV2(): Json {
  const definitions: Json = { [META]: OBJECT_META };
  for (const r of RESOURCES)
    definitions[definitionName(r)] = JSON.parse(
      JSON.stringify(kindSchema(r)).replaceAll("#/components/schemas/", "#/definitions/"),
    );
  return { swagger: "2.0", info: { title: "Kubernetes", version: "v1.32.0" }, paths: {}, definitions };
}

/**
 * /openapi/v2 as the protobuf (gnostic openapi_v2.Document) kubectl asks for: only `swagger` and
 * `info`, so kubectl's client-side validation finds no schema for unknown kinds and defers to the
 * server, as it does with a real cluster whose document lacks the kind.
 */
export function openApiV2Protobuf(): Buffer {
  const str = (field: number, v: string): Buffer => {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
  };
  const info = Buffer.concat([str(1, "Kubernetes"), str(2, "v1.32.0")]);
  return Buffer.concat([str(1, "2.0"), Buffer.from([(2 << 3) | 2, info.length]), info]);
}
