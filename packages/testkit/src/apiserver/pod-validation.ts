import {
  type FieldError,
  fieldDuplicate,
  fieldForbidden,
  fieldInvalid,
  fieldNotFound,
  fieldNotSupported,
  fieldRequired,
} from "./status.js";
import type { Json } from "./types.js";

/**
 * Pod spec validation for pods and pod templates, following ValidatePodSpec of
 * pkg/apis/core/validation (v1.32): the checks a node agent's users hit with a typo
 * (volumes, container names, ports, probes, lifecycle hooks, volume mounts), in upstream's
 * order and with its field paths and messages. It runs after defaulting, as upstream's does.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const PORT_RANGE_MSG = "must be between 1 and 65535, inclusive";
const NON_NEGATIVE_MSG = "must be greater than or equal to 0";
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];

/**
 * The VolumeSource members in the order validateVolumeSource visits them; the value is the
 * name upstream puts in the field path of "may not specify more than 1 volume type", which
 * differs from the JSON name for two of them (`cephFS`, and upstream's `downwarAPI` typo).
 */
export const VOLUME_SOURCES: ReadonlyArray<readonly [string, string]> = [
  ["emptyDir", "emptyDir"],
  ["hostPath", "hostPath"],
  ["gitRepo", "gitRepo"],
  ["gcePersistentDisk", "gcePersistentDisk"],
  ["awsElasticBlockStore", "awsElasticBlockStore"],
  ["secret", "secret"],
  ["nfs", "nfs"],
  ["iscsi", "iscsi"],
  ["glusterfs", "glusterfs"],
  ["flocker", "flocker"],
  ["persistentVolumeClaim", "persistentVolumeClaim"],
  ["rbd", "rbd"],
  ["cinder", "cinder"],
  ["cephfs", "cephFS"],
  ["quobyte", "quobyte"],
  ["downwardAPI", "downwarAPI"],
  ["fc", "fc"],
  ["flexVolume", "flexVolume"],
  ["configMap", "configMap"],
  ["azureFile", "azureFile"],
  ["vsphereVolume", "vsphereVolume"],
  ["photonPersistentDisk", "photonPersistentDisk"],
  ["portworxVolume", "portworxVolume"],
  ["azureDisk", "azureDisk"],
  ["storageos", "storageos"],
  ["projected", "projected"],
  ["scaleIO", "scaleIO"],
  ["csi", "csi"],
  ["ephemeral", "ephemeral"],
];

const isObject = (v: unknown): v is Record<string, Json> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** validation.IsValidPortName (IANA_SVC_NAME, RFC 6335): every message that applies. */
export function portNameErrors(name: string): string[] {
  const errs: string[] = [];
  if (name.length > 15) errs.push("must be no more than 15 characters");
  if (!/^[-a-z0-9]+$/.test(name))
    errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!/[a-z]/.test(name)) errs.push("must contain at least one letter (a-z)");
  if (name.includes("--")) errs.push("must not contain consecutive hyphens");
  if (name.length > 0 && (name.startsWith("-") || name.endsWith("-")))
    errs.push("must not begin or end with a hyphen");
  return errs;
}

/** ValidatePortNumOrName: an int-or-string port of a probe or hook. */
function validatePortNumOrName(port: Json, field: string): FieldError[] {
  if (typeof port === "string") return portNameErrors(port).map((msg) => fieldInvalid(field, port, msg));
  const n = typeof port === "number" ? port : 0;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? [] : [fieldInvalid(field, n, PORT_RANGE_MSG)];
}

/** validateHandler: exactly one of exec, httpGet, tcpSocket, grpc (probes), sleep (hooks). */
function validateHandler(h: Record<string, Json>, field: string, kinds: readonly string[]): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  for (const kind of kinds) {
    const a = h[kind];
    if (a === undefined || a === null) continue;
    if (n > 0) {
      errs.push(fieldForbidden(`${field}.${kind}`, "may not specify more than 1 handler type"));
      continue;
    }
    n++;
    const f = `${field}.${kind}`;
    const action: Record<string, Json> = isObject(a) ? a : {};
    switch (kind) {
      case "exec":
        if (!Array.isArray(action.command) || action.command.length === 0)
          errs.push(fieldRequired(`${f}.command`));
        break;
      case "httpGet":
        if (!action.path) errs.push(fieldRequired(`${f}.path`));
        errs.push(...validatePortNumOrName(action.port, `${f}.port`));
        if (action.scheme !== "HTTP" && action.scheme !== "HTTPS")
          errs.push(fieldNotSupported(`${f}.scheme`, action.scheme ?? "", ["HTTP", "HTTPS"]));
        break;
      case "tcpSocket":
        errs.push(...validatePortNumOrName(action.port, `${f}.port`));
        break;
      case "grpc": {
        const p = typeof action.port === "number" ? action.port : 0;
        if (!Number.isInteger(p) || p < 1 || p > 65535)
          errs.push(fieldInvalid(`${f}.port`, p, PORT_RANGE_MSG));
        break;
      }
      case "sleep": {
        const s = action.seconds;
        if (!Number.isInteger(s) || s <= 0)
          errs.push(fieldInvalid(`${f}.seconds`, s ?? 0, "must be greater than 0"));
        break;
      }
    }
  }
  if (n === 0) errs.push(fieldRequired(field, "must specify a handler type"));
  return errs;
}

const PROBE_HANDLERS = ["exec", "httpGet", "tcpSocket", "grpc"] as const;
const HOOK_HANDLERS = ["exec", "httpGet", "tcpSocket", "sleep"] as const;

/** validateProbe, plus "must be 1" for successThreshold of liveness and startup probes. */
function validateProbe(p: Json, field: string, successMustBeOne: boolean): FieldError[] {
  if (p === undefined || p === null) return [];
  if (!isObject(p)) return [fieldInvalid(field, p, "must be an object")];
  const errs = validateHandler(p, field, PROBE_HANDLERS);
  for (const k of [
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
  ]) {
    const v = p[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0))
      errs.push(fieldInvalid(`${field}.${k}`, v, NON_NEGATIVE_MSG));
  }
  if (p.terminationGracePeriodSeconds !== undefined && !(p.terminationGracePeriodSeconds > 0))
    errs.push(
      fieldInvalid(
        `${field}.terminationGracePeriodSeconds`,
        p.terminationGracePeriodSeconds,
        "must be greater than 0",
      ),
    );
  if (successMustBeOne && p.successThreshold !== 1)
    errs.push(fieldInvalid(`${field}.successThreshold`, p.successThreshold, "must be 1"));
  return errs;
}

function validateLifecycle(l: Json, field: string): FieldError[] {
  if (!isObject(l)) return [];
  const errs: FieldError[] = [];
  for (const hook of ["postStart", "preStop"]) {
    const h = l[hook];
    if (h === undefined || h === null) continue;
    errs.push(...validateHandler(isObject(h) ? h : {}, `${field}.${hook}`, HOOK_HANDLERS));
  }
  return errs;
}

/** validateContainerPorts: IANA port names unique per container, ports in range, protocol. */
function validateContainerPorts(ports: Json, field: string): FieldError[] {
  if (!Array.isArray(ports)) return [];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  ports.forEach((p: Json, i: number) => {
    const f = `${field}[${i}]`;
    const port: Record<string, Json> = isObject(p) ? p : {};
    if (typeof port.name === "string" && port.name.length > 0) {
      const msgs = portNameErrors(port.name);
      if (msgs.length) for (const msg of msgs) errs.push(fieldInvalid(`${f}.name`, port.name, msg));
      else if (names.has(port.name)) errs.push(fieldDuplicate(`${f}.name`, port.name));
      else names.add(port.name);
    }
    const n = port.containerPort;
    if (n === undefined || n === null || n === 0) errs.push(fieldRequired(`${f}.containerPort`));
    else if (!Number.isInteger(n) || n < 1 || n > 65535)
      errs.push(fieldInvalid(`${f}.containerPort`, n, PORT_RANGE_MSG));
    const h = port.hostPort;
    if (h !== undefined && h !== null && h !== 0 && (!Number.isInteger(h) || h < 1 || h > 65535))
      errs.push(fieldInvalid(`${f}.hostPort`, h, PORT_RANGE_MSG));
    if (!port.protocol) errs.push(fieldRequired(`${f}.protocol`));
    else if (!["SCTP", "TCP", "UDP"].includes(port.protocol))
      errs.push(fieldNotSupported(`${f}.protocol`, port.protocol, ["SCTP", "TCP", "UDP"]));
  });
  return errs;
}

/** ValidateVolumeMounts: a known volume, a mountPath, unique mount paths. */
function validateVolumeMounts(mounts: Json, volumes: Set<string>, field: string): FieldError[] {
  if (!Array.isArray(mounts)) return [];
  const errs: FieldError[] = [];
  const paths = new Set<string>();
  mounts.forEach((m: Json, i: number) => {
    const f = `${field}[${i}]`;
    const mnt: Record<string, Json> = isObject(m) ? m : {};
    const name = typeof mnt.name === "string" ? mnt.name : "";
    if (!name) errs.push(fieldRequired(`${f}.name`));
    if (!volumes.has(name)) errs.push(fieldNotFound(`${f}.name`, name));
    const path = typeof mnt.mountPath === "string" ? mnt.mountPath : "";
    if (!path) errs.push(fieldRequired(`${f}.mountPath`));
    if (paths.has(path)) errs.push(fieldInvalid(`${f}.mountPath`, path, "must be unique"));
    paths.add(path);
  });
  return errs;
}

/** ValidateVolumes: names (DNS label, unique) and exactly one source each; returns the valid names. */
function validateVolumes(list: Json, field: string): { names: Set<string>; errs: FieldError[] } {
  const names = new Set<string>();
  const errs: FieldError[] = [];
  if (!Array.isArray(list)) return { names, errs };
  list.forEach((v: Json, i: number) => {
    const f = `${field}[${i}]`;
    const vol: Record<string, Json> = isObject(v) ? v : {};
    const own: FieldError[] = [];
    let n = 0;
    for (const [key, pathName] of VOLUME_SOURCES) {
      const src = vol[key];
      if (src === undefined || src === null) continue;
      if (n > 0) {
        own.push(fieldForbidden(`${f}.${pathName}`, "may not specify more than 1 volume type"));
        continue;
      }
      n++;
      // the first source's own checks (a useful subset)
      const body: Record<string, Json> = isObject(src) ? src : {};
      if (key === "hostPath" && !body.path) own.push(fieldRequired(`${f}.hostPath.path`));
      if (key === "persistentVolumeClaim" && !body.claimName)
        own.push(fieldRequired(`${f}.persistentVolumeClaim.claimName`));
    }
    if (n === 0) own.push(fieldRequired(f, "must specify a volume type"));
    const name = typeof vol.name === "string" ? vol.name : "";
    if (!name) own.push(fieldRequired(`${f}.name`));
    else {
      if (name.length > 63) own.push(fieldInvalid(`${f}.name`, name, "must be no more than 63 characters"));
      if (!DNS1123_LABEL.test(name)) own.push(fieldInvalid(`${f}.name`, name, DNS1123_LABEL_MSG));
    }
    if (names.has(name)) own.push(fieldDuplicate(`${f}.name`, name));
    if (own.length === 0) names.add(name);
    else errs.push(...own);
  });
  return { names, errs };
}

/** validateContainerCommon: name, image, ports, volume mounts. */
function validateContainerCommon(c: Record<string, Json>, volumes: Set<string>, f: string): FieldError[] {
  const errs: FieldError[] = [];
  if (typeof c.name !== "string" || !c.name) errs.push(fieldRequired(`${f}.name`));
  else {
    if (c.name.length > 63)
      errs.push(fieldInvalid(`${f}.name`, c.name, "must be no more than 63 characters"));
    if (!DNS1123_LABEL.test(c.name)) errs.push(fieldInvalid(`${f}.name`, c.name, DNS1123_LABEL_MSG));
  }
  if (typeof c.image !== "string" || !c.image.trim()) errs.push(fieldRequired(`${f}.image`));
  const tmp = c.terminationMessagePolicy;
  if (tmp !== undefined && tmp !== "File" && tmp !== "FallbackToLogsOnError")
    errs.push(fieldNotSupported(`${f}.terminationMessagePolicy`, tmp, ["File", "FallbackToLogsOnError"]));
  errs.push(...validateContainerPorts(c.ports, `${f}.ports`));
  errs.push(...validateVolumeMounts(c.volumeMounts, volumes, `${f}.volumeMounts`));
  const pull = c.imagePullPolicy;
  if (pull !== undefined && !PULL_POLICIES.includes(pull))
    errs.push(fieldNotSupported(`${f}.imagePullPolicy`, pull, PULL_POLICIES));
  return errs;
}

function validateContainers(
  list: Json,
  volumes: Set<string>,
  field: string,
): { names: Set<string>; errs: FieldError[] } {
  const names = new Set<string>();
  const errs: FieldError[] = [];
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0))
    return { names, errs: [fieldRequired(field)] };
  if (!Array.isArray(list)) return { names, errs: [fieldInvalid(field, list, "must be a list")] };
  list.forEach((item: Json, i: number) => {
    const f = `${field}[${i}]`;
    const c: Record<string, Json> = isObject(item) ? item : {};
    errs.push(...validateContainerCommon(c, volumes, f));
    const name = typeof c.name === "string" ? c.name : "";
    if (names.has(name)) errs.push(fieldDuplicate(`${f}.name`, name));
    else names.add(name);
    errs.push(...validateLifecycle(c.lifecycle, `${f}.lifecycle`));
    errs.push(...validateProbe(c.livenessProbe, `${f}.livenessProbe`, true));
    errs.push(...validateProbe(c.readinessProbe, `${f}.readinessProbe`, false));
    errs.push(...validateProbe(c.startupProbe, `${f}.startupProbe`, true));
    if (c.restartPolicy !== undefined)
      errs.push(fieldForbidden(`${f}.restartPolicy`, "may not be set for non-init containers"));
  });
  return { names, errs };
}

const INIT_ONLY = "may not be set for init containers without restartPolicy=Always";

function validateInitContainers(
  list: Json,
  containerNames: Set<string>,
  volumes: Set<string>,
  field: string,
): FieldError[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) return [fieldInvalid(field, list, "must be a list")];
  const errs: FieldError[] = [];
  const names = new Set(containerNames);
  list.forEach((item: Json, i: number) => {
    const f = `${field}[${i}]`;
    const c: Record<string, Json> = isObject(item) ? item : {};
    errs.push(...validateContainerCommon(c, volumes, f));
    const name = typeof c.name === "string" ? c.name : "";
    if (names.has(name)) errs.push(fieldDuplicate(`${f}.name`, name));
    else names.add(name);
    if (c.restartPolicy !== undefined && c.restartPolicy !== "Always")
      errs.push(fieldNotSupported(`${f}.restartPolicy`, c.restartPolicy, ["Always"]));
    if (c.restartPolicy === "Always") {
      // sidecar containers: hooks and probes as for regular containers (readiness allowed)
      errs.push(...validateLifecycle(c.lifecycle, `${f}.lifecycle`));
      errs.push(...validateProbe(c.livenessProbe, `${f}.livenessProbe`, true));
      errs.push(...validateProbe(c.readinessProbe, `${f}.readinessProbe`, false));
      errs.push(...validateProbe(c.startupProbe, `${f}.startupProbe`, true));
    } else {
      for (const k of ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"])
        if (c[k] !== undefined && c[k] !== null) errs.push(fieldForbidden(`${f}.${k}`, INIT_ONLY));
    }
  });
  return errs;
}

const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

/**
 * ValidatePodSpec (the subset above) for a pod (`field` "spec") or a pod template
 * ("spec.template.spec"). Workload kinds check the template's restartPolicy themselves
 * (Always only, or OnFailure/Never for Jobs), as their own validators do upstream.
 */
export function validatePodSpec(s: Json, field: string, opts: { checkRestartPolicy: boolean }): FieldError[] {
  if (!isObject(s)) return [fieldRequired(`${field}.containers`)];
  const errs: FieldError[] = [];
  const vols = validateVolumes(s.volumes, `${field}.volumes`);
  errs.push(...vols.errs);
  const ctrs = validateContainers(s.containers, vols.names, `${field}.containers`);
  errs.push(...ctrs.errs);
  errs.push(...validateInitContainers(s.initContainers, ctrs.names, vols.names, `${field}.initContainers`));
  if (opts.checkRestartPolicy && s.restartPolicy !== undefined && !RESTART_POLICIES.includes(s.restartPolicy))
    errs.push(fieldNotSupported(`${field}.restartPolicy`, s.restartPolicy, RESTART_POLICIES));
  if (s.dnsPolicy !== undefined && !DNS_POLICIES.includes(s.dnsPolicy))
    errs.push(fieldNotSupported(`${field}.dnsPolicy`, s.dnsPolicy, DNS_POLICIES));
  if (
    s.terminationGracePeriodSeconds !== undefined &&
    (!Number.isInteger(s.terminationGracePeriodSeconds) || s.terminationGracePeriodSeconds < 0)
  )
    errs.push(
      fieldInvalid(
        `${field}.terminationGracePeriodSeconds`,
        s.terminationGracePeriodSeconds,
        NON_NEGATIVE_MSG,
      ),
    );
  return errs;
}
