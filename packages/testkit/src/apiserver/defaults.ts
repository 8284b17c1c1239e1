import { validateCsr } from "./certificates.js";
import { defaultCronJob, validateCronJob } from "./cron-job.js";
import { VOLUME_SOURCES, validatePodSpec } from "./pod-validation.js";
import type { ResourceDef } from "./resources.js";
import { type FieldError, fieldInvalid, fieldNotSupported, fieldRequired, fieldTooLong } from "./status.js";
import type { Json, KubeObject } from "./types.js";
import { defaultWorkload, validateWorkload } from "./workloads.js";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** Annotations may hold at most 256 KiB of keys and values (TotalAnnotationSizeLimitB). */
const TOTAL_ANNOTATION_BYTES = 256 * 1024;
/** ConfigMap and Secret content limit (core.MaxSecretSize). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Bytes of a string map's keys and values (base64 values counted decoded). */
function mapBytes(m: Json, base64 = false): number {
  if (!m || typeof m !== "object") return 0;
  let n = 0;
  for (const [k, v] of Object.entries(m)) {
    n += Buffer.byteLength(k);
    if (typeof v === "string") n += base64 ? Buffer.from(v, "base64").length : Buffer.byteLength(v);
  }
  return n;
}

/** Validates `metadata.name` with the rule of the resource (namespaces: DNS label, services: DNS-1035). */
export function validateName(def: ResourceDef, name: string, field = "metadata.name"): FieldError[] {
  // IsDNS1123Label / IsDNS1035Label / IsDNS1123Subdomain: the length error first, then the pattern
  const check = (max: number, re: RegExp, msg: string): FieldError[] => {
    const errs: FieldError[] = [];
    if (name.length > max) errs.push(fieldInvalid(field, name, `must be no more than ${max} characters`));
    if (!re.test(name)) errs.push(fieldInvalid(field, name, msg));
    return errs;
  };
  if (def.plural === "namespaces") return check(63, DNS1123_LABEL, LABEL_MSG);
  if (def.plural === "services") return check(63, DNS1035_LABEL, DNS1035_MSG);
  if (def.plural === "events" || def.plural === "leases" || def.plural === "certificatesigningrequests") {
    // events and leases accept any path-segment name (node names with dots etc.); so do CSRs
    // (ValidateCertificateRequestName accepts anything: kubelets name theirs node-csr-<base64url>)
    if (name.includes("/") || name.includes("%") || name === "." || name === "..")
      return [fieldInvalid(field, name, `may not contain '/'`)];
    return [];
  }
  return check(253, DNS1123_SUBDOMAIN, SUBDOMAIN_MSG);
}

export function validateLabels(labels: Json, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (labels === undefined || labels === null) return errs;
  if (typeof labels !== "object" || Array.isArray(labels))
    return [fieldInvalid(field, labels, "must be a map of strings")];
  for (const [k, v] of Object.entries(labels)) {
    if (!QUALIFIED_NAME.test(k) || k.split("/").pop()!.length > 63)
      errs.push(
        fieldInvalid(
          field,
          k,
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
      );
    if (typeof v !== "string" || !LABEL_VALUE.test(v) || v.length > 63)
      errs.push(
        fieldInvalid(
          `${field}`,
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
      );
  }
  return errs;
}

/** Validates an object of a resource as kube-apiserver's type validation would (a useful subset). */
export function validateObject(def: ResourceDef, obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const m = obj.metadata;
  if (!m.name) errs.push(fieldRequired("metadata.name", "name or generateName is required"));
  else errs.push(...validateName(def, m.name));
  errs.push(...validateLabels(m.labels, "metadata.labels"));
  if (m.annotations !== undefined && (typeof m.annotations !== "object" || Array.isArray(m.annotations)))
    errs.push(fieldInvalid("metadata.annotations", m.annotations, "must be a map of strings"));
  else if (m.annotations && mapBytes(m.annotations) > TOTAL_ANNOTATION_BYTES)
    errs.push(fieldTooLong("metadata.annotations", TOTAL_ANNOTATION_BYTES));
  switch (def.kind) {
    case "Pod":
      errs.push(...validatePodSpec(obj.spec, "spec", { checkRestartPolicy: true }));
      break;
    case "Service": {
      const s = obj.spec ?? {};
      const types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
      if (s.type !== undefined && !types.includes(s.type))
        errs.push(fieldNotSupported("spec.type", s.type, types));
      if (
        s.type !== "ExternalName" &&
        s.clusterIP !== "None" &&
        (!Array.isArray(s.ports) || s.ports.length === 0)
      )
        errs.push(fieldRequired("spec.ports", ""));
      if (Array.isArray(s.ports)) {
        s.ports.forEach((p: Json, i: number) => {
          if (!Number.isInteger(p?.port) || p.port < 1 || p.port > 65535)
            errs.push(
              fieldInvalid(`spec.ports[${i}].port`, p?.port ?? 0, "must be between 1 and 65535, inclusive"),
            );
          if (s.ports.length > 1 && !p?.name) errs.push(fieldRequired(`spec.ports[${i}].name`, ""));
        });
      }
      break;
    }
    case "EndpointSlice": {
      const types = ["IPv4", "IPv6", "FQDN"];
      if (!obj.addressType) errs.push(fieldRequired("addressType", ""));
      else if (!types.includes(obj.addressType))
        errs.push(fieldNotSupported("addressType", obj.addressType, types));
      if (obj.endpoints !== undefined && !Array.isArray(obj.endpoints))
        errs.push(fieldInvalid("endpoints", obj.endpoints, "must be a list"));
      if (Array.isArray(obj.endpoints) && obj.endpoints.length > 1000)
        errs.push(fieldInvalid("endpoints", obj.endpoints.length, "must have at most 1000 items"));
      break;
    }
    case "ConfigMap":
    case "Secret": {
      // ValidateConfigMap / ValidateSecret: keys plus values at most 1 MiB in total
      const total =
        def.kind === "Secret"
          ? mapBytes(obj.data, true)
          : mapBytes(obj.data) + mapBytes(obj.binaryData, true);
      if (total > MAX_CONFIG_BYTES)
        errs.push(fieldTooLong(def.kind === "Secret" ? "data" : "[]", MAX_CONFIG_BYTES));
      for (const field of ["data", "binaryData", "stringData"]) {
        const d = obj[field];
        if (d === undefined || d === null) continue;
        if (typeof d !== "object" || Array.isArray(d)) errs.push(fieldInvalid(field, d, "must be a map"));
        else
          for (const k of Object.keys(d))
            if (!/^[-._a-zA-Z0-9]+$/.test(k))
              errs.push(
                fieldInvalid(
                  `${field}[${k}]`,
                  k,
                  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                ),
              );
      }
      break;
    }
    case "Deployment":
    case "ReplicaSet":
    case "DaemonSet":
    case "StatefulSet":
    case "Job":
      errs.push(...validateWorkload(def, obj));
      break;
    case "CronJob":
      errs.push(...validateCronJob(obj));
      break;
    case "CertificateSigningRequest":
      errs.push(...validateCsr(def, obj));
      break;
    case "RoleBinding":
    case "ClusterRoleBinding": {
      const ref = obj.roleRef;
      if (!ref?.name) errs.push(fieldRequired("roleRef.name", ""));
      const kinds = def.kind === "RoleBinding" ? ["Role", "ClusterRole"] : ["ClusterRole"];
      if (!kinds.includes(ref?.kind)) errs.push(fieldNotSupported("roleRef.kind", ref?.kind ?? "", kinds));
      if (ref?.apiGroup !== "rbac.authorization.k8s.io")
        errs.push(fieldNotSupported("roleRef.apiGroup", ref?.apiGroup ?? "", ["rbac.authorization.k8s.io"]));
      (obj.subjects ?? []).forEach((s: Json, i: number) => {
        if (!["User", "Group", "ServiceAccount"].includes(s?.kind))
          errs.push(
            fieldNotSupported(`subjects[${i}].kind`, s?.kind ?? "", ["ServiceAccount", "User", "Group"]),
          );
        if (!s?.name) errs.push(fieldRequired(`subjects[${i}].name`, ""));
      });
      break;
    }
    case "Lease": {
      const s = obj.spec ?? {};
      if (
        s.leaseDurationSeconds !== undefined &&
        (!Number.isInteger(s.leaseDurationSeconds) || s.leaseDurationSeconds <= 0)
      )
        errs.push(
          fieldInvalid("spec.leaseDurationSeconds", s.leaseDurationSeconds, "must be greater than 0"),
        );
      break;
    }
  }
  return errs;
}

/** SetDefaults_HTTPGetAction: path "/" and scheme HTTP, for probes and lifecycle hooks alike. */
function defaultHttpGet(h: Json): void {
  if (!h || typeof h !== "object") return;
  if (!h.path) h.path = "/";
  if (!h.scheme) h.scheme = "HTTP";
}

function defaultContainer(c: Json): void {
  if (!c || typeof c !== "object") return;
  if (c.imagePullPolicy === undefined && typeof c.image === "string") {
    // mirrors SetDefaults_Container: ":latest" or no tag -> Always, else IfNotPresent
    const afterSlash = c.image.slice(c.image.lastIndexOf("/") + 1);
    const hasDigest = c.image.includes("@");
    const tag = afterSlash.includes(":") ? afterSlash.slice(afterSlash.indexOf(":") + 1) : "";
    c.imagePullPolicy = !hasDigest && (tag === "" || tag === "latest") ? "Always" : "IfNotPresent";
  }
  c.terminationMessagePath ??= "/dev/termination-log";
  c.terminationMessagePolicy ??= "File";
  c.resources ??= {};
  if (Array.isArray(c.ports)) for (const p of c.ports) if (p && typeof p === "object") p.protocol ??= "TCP";
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    const p = c[probe];
    if (!p || typeof p !== "object") continue;
    p.timeoutSeconds ??= 1;
    p.periodSeconds ??= 10;
    p.successThreshold ??= 1;
    p.failureThreshold ??= 3;
    defaultHttpGet(p.httpGet);
  }
  if (c.lifecycle && typeof c.lifecycle === "object")
    for (const hook of ["postStart", "preStop"]) defaultHttpGet(c.lifecycle[hook]?.httpGet);
}

/** SetDefaults_PodSpec with its containers and volumes: pods and pod templates alike. */
export function defaultPodSpec(s: Json): void {
  s.restartPolicy ??= "Always";
  s.terminationGracePeriodSeconds ??= 30;
  s.dnsPolicy ??= "ClusterFirst";
  s.schedulerName ??= "default-scheduler";
  s.securityContext ??= {};
  if (s.serviceAccountName === undefined && s.serviceAccount !== undefined)
    s.serviceAccountName = s.serviceAccount;
  if (Array.isArray(s.containers)) s.containers.forEach(defaultContainer);
  if (Array.isArray(s.initContainers)) s.initContainers.forEach(defaultContainer);
  if (Array.isArray(s.volumes)) {
    for (const v of s.volumes) {
      if (!v || typeof v !== "object") continue;
      if (v.secret) v.secret.defaultMode ??= 420;
      if (v.configMap) v.configMap.defaultMode ??= 420;
      if (v.projected) v.projected.defaultMode ??= 420;
      if (v.hostPath) v.hostPath.type ??= "";
      // SetDefaults_Volume: a volume without any source is an emptyDir
      if (!VOLUME_SOURCES.some(([k]) => v[k] !== undefined && v[k] !== null)) v.emptyDir = {};
    }
  }
}

/** Applies API defaults (SetDefaults_* of k8s.io/kubernetes/pkg/apis/core/v1) to a fresh object, in place. */
export function applyDefaults(def: ResourceDef, obj: KubeObject): void {
  switch (def.kind) {
    case "Pod": {
      const s = obj.spec;
      if (!s || typeof s !== "object") return;
      defaultPodSpec(s);
      // SetDefaults_Pod, then the Priority and ServiceAccount admission plugins (pods, not templates)
      s.enableServiceLinks ??= true;
      s.preemptionPolicy ??= "PreemptLowerPriority";
      s.priority ??= 0;
      if (s.serviceAccountName === undefined) s.serviceAccountName = s.serviceAccount ?? "default";
      s.serviceAccount ??= s.serviceAccountName;
      // mirrors the DefaultTolerationSeconds admission plugin (300 s for not-ready / unreachable)
      const tol: Json[] = Array.isArray(s.tolerations) ? s.tolerations : [];
      for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
        if (
          !tol.some(
            (t) =>
              t &&
              (t.key === key || (t.operator === "Exists" && !t.key)) &&
              (!t.effect || t.effect === "NoExecute"),
          )
        )
          tol.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
      }
      s.tolerations = tol;
      break;
    }
    case "Service": {
      obj.spec ??= {};
      const s = obj.spec;
      s.type ??= "ClusterIP";
      s.sessionAffinity ??= "None";
      if (s.type !== "ExternalName") {
        s.internalTrafficPolicy ??= "Cluster";
        if (s.type === "NodePort" || s.type === "LoadBalancer") s.externalTrafficPolicy ??= "Cluster";
      }
      if (Array.isArray(s.ports))
        for (const p of s.ports) {
          if (!p || typeof p !== "object") continue;
          p.protocol ??= "TCP";
          p.targetPort ??= p.port;
        }
      break;
    }
    case "Secret":
      obj.type ??= "Opaque";
      break;
    case "Namespace":
      obj.spec = { finalizers: ["kubernetes"], ...(obj.spec ?? {}) };
      break;
    case "EndpointSlice":
      if (Array.isArray(obj.ports))
        for (const p of obj.ports) if (p && typeof p === "object") p.protocol ??= "TCP";
      break;
    case "Deployment":
    case "ReplicaSet":
    case "DaemonSet":
    case "StatefulSet":
    case "Job":
      defaultWorkload(def, obj);
      break;
    case "CronJob":
      defaultCronJob(obj);
      break;
    case "Node":
      break;
  }
}

const isEmpty = (v: Json): boolean =>
  (Array.isArray(v) && v.length === 0) ||
  (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);

/**
 * Drops empty maps and lists from fields Go serialises with `omitempty` (an empty
 * `annotations: {}` from a strategic merge patch decodes to an empty map and is never served),
 * so objects look as they would after a round trip through kube-apiserver's typed structs.
 * Only fields known to be maps or slices: an empty struct (`status: {}`, `resources: {}`) stays.
 */
export function pruneEmpty(def: ResourceDef, obj: KubeObject): void {
  const m = obj.metadata;
  for (const f of ["labels", "annotations", "finalizers", "ownerReferences", "managedFields"])
    if (isEmpty(m[f])) delete m[f];
  const drop = (o: Json, fields: string[]): void => {
    if (!o || typeof o !== "object") return;
    for (const f of fields) if (isEmpty(o[f])) delete o[f];
  };
  switch (def.kind) {
    case "ConfigMap":
      drop(obj, ["data", "binaryData"]);
      break;
    case "Secret":
      drop(obj, ["data", "stringData"]);
      break;
    case "Service":
      drop(obj.spec, ["selector", "externalIPs"]);
      break;
    case "Pod":
      drop(obj.spec, ["nodeSelector", "volumes", "initContainers", "imagePullSecrets"]);
      break;
  }
}
