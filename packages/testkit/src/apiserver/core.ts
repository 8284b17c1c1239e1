import { randomUUID } from "node:crypto";
import { serverSideApply } from "./apply.js";
import { csrUpdate, prepareCsrForCreate } from "./certificates.js";
import { applyDefaults, pruneEmpty, validateObject } from "./defaults.js";
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, cloneJson, deepEqual } from "./patch.js";
import { findResource, RESOURCES, type ResourceDef } from "./resources.js";
import {
  alreadyExists,
  badRequest,
  conflict,
  fieldForbidden,
  fieldInvalid,
  invalid,
  notFound,
  STALE,
  StatusFailure,
} from "./status.js";
import type { ApiStorage } from "./storage.js";
import type { Json, KubeObject, UserInfo } from "./types.js";
import {
  daemonSetTemplateGeneration,
  generationChanged,
  prepareJobForCreate,
  scaleReplicas,
  toScale,
} from "./workloads.js";

/** A source of wall-clock time in milliseconds since the epoch (injectable for tests). */
export interface ApiClock {
  now(): number;
}

/** Options of a delete call (meta/v1 DeleteOptions). */
export interface DeleteOptions {
  gracePeriodSeconds?: number | undefined;
  propagationPolicy?: "Orphan" | "Background" | "Foreground" | undefined;
  preconditions?: { uid?: string; resourceVersion?: string } | undefined;
  dryRun?: boolean | undefined;
}

export type PatchType = "json" | "merge" | "strategic";

/** An admission check of an update: sees the merged object and the stored one, throws to deny. */
export type Admit = (next: KubeObject, cur: KubeObject) => void;

const bareCache = new WeakMap<object, string>();

/** JSON of a stored object without kind/apiVersion (cached: stored objects are immutable). */
export function bareJson(obj: KubeObject): string {
  let s = bareCache.get(obj);
  if (s === undefined) {
    s = JSON.stringify(obj);
    bareCache.set(obj, s);
  }
  return s;
}

/** JSON of a stored object with its kind and apiVersion first, as served on the wire. */
export function wireJson(def: Pick<ResourceDef, "kind" | "apiVersion" | "convert">, obj: KubeObject): string {
  if (def.convert)
    return JSON.stringify({ kind: def.kind, apiVersion: def.apiVersion, ...def.convert.out(obj) });
  return `{"kind":"${def.kind}","apiVersion":"${def.apiVersion}",${bareJson(obj).slice(1)}`;
}

/** The object as served (kind/apiVersion added), for in-process consumers. */
export function withKind(def: ResourceDef, obj: KubeObject): Json {
  return { kind: def.kind, apiVersion: def.apiVersion, ...(def.convert ? def.convert.out(obj) : obj) };
}

/** RFC 3339 timestamp with second precision, the format of metav1.Time. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";

function ipToInt(ip: string): number {
  return ip.split(".").reduce((a, p) => a * 256 + Number(p), 0);
}
function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Options for cluster IP and node port allocation. */
export interface AllocationOptions {
  /** Service cluster IP range (IPv4 CIDR). Default 10.96.0.0/12, like kubeadm. */
  serviceClusterIpRange?: string | undefined;
  /** Node port range "min-max". Default 30000-32767. */
  nodePortRange?: string | undefined;
  /**
   * Mirror the ServiceAccount admission plugin: add the projected `kube-api-access-*` volume
   * (token, kube-root-ca.crt, namespace) and its mount to every container of new pods that do not
   * opt out with automountServiceAccountToken: false. Default false (the kubelet must then
   * support projected volumes).
   */
  serviceAccountTokenVolume?: boolean | undefined;
}

/** The resource semantics of kube-apiserver, independent of HTTP: used by handlers and controllers. */
export class ApiCore {
  private readonly ipBase: number;
  private readonly ipSize: number;
  private readonly portMin: number;
  private readonly portMax: number;
  private readonly usedIps = new Set<string>();
  private readonly usedPorts = new Set<number>();
  private readonly saVolume: boolean;

  readonly storage: ApiStorage;
  readonly clock: ApiClock;

  constructor(storage: ApiStorage, clock: ApiClock, alloc: AllocationOptions = {}) {
    this.storage = storage;
    this.clock = clock;
    this.saVolume = alloc.serviceAccountTokenVolume === true;
    const [net, bitsStr] = (alloc.serviceClusterIpRange ?? "10.96.0.0/12").split("/");
    const bits = Number(bitsStr);
    if (!net || !/^\d+\.\d+\.\d+\.\d+$/.test(net) || !Number.isInteger(bits) || bits < 8 || bits > 30)
      throw new Error(
        `invalid serviceClusterIpRange "${alloc.serviceClusterIpRange}": want an IPv4 CIDR like 10.96.0.0/12`,
      );
    this.ipSize = 2 ** (32 - bits);
    this.ipBase = ipToInt(net) - (ipToInt(net) % this.ipSize);
    const [min, max] = (alloc.nodePortRange ?? "30000-32767").split("-").map(Number);
    if (!Number.isInteger(min) || !Number.isInteger(max) || min! < 1 || max! > 65535 || min! > max!)
      throw new Error(`invalid nodePortRange "${alloc.nodePortRange}": want "min-max" like 30000-32767`);
    this.portMin = min!;
    this.portMax = max!;
  }

  /** The first IP of the service range (the `kubernetes` service's ClusterIP). */
  get firstServiceIp(): string {
    return intToIp(this.ipBase + 1);
  }

  now(): string {
    return rfc3339(this.clock.now());
  }

  get(def: ResourceDef, ns: string, name: string): KubeObject {
    const obj = this.storage.get(def.key, def.namespaced ? ns : "", name);
    if (!obj) throw notFound(def.plural, def.group, name);
    return obj;
  }

  find(def: ResourceDef, ns: string, name: string): KubeObject | undefined {
    return this.storage.get(def.key, def.namespaced ? ns : "", name);
  }

  /** Turns a decoded request body into a fresh stored-shape object (no kind/apiVersion, metadata first). */
  normalizeBody(def: ResourceDef, body: Json, expectKind = def.kind): KubeObject {
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw badRequest(
        `the object provided is unrecognized (must be of type ${expectKind}): couldn't get version/kind; json parse error: expected an object`,
      );
    const { kind, apiVersion, metadata, ...rest } = body;
    if (kind !== undefined && kind !== expectKind)
      throw badRequest(
        `${kind} in version "${apiVersion ?? ""}" cannot be handled as a ${expectKind}: no kind "${kind}" is registered for version "${apiVersion ?? ""}" in scheme`,
      );
    if (
      metadata !== undefined &&
      (metadata === null || typeof metadata !== "object" || Array.isArray(metadata))
    )
      throw badRequest(
        `${expectKind} in version "${def.version}" cannot be handled as a ${expectKind}: json: cannot unmarshal ${Array.isArray(metadata) ? "array" : typeof metadata} into Go struct field ${expectKind}.metadata of type v1.ObjectMeta`,
      );
    const obj = { metadata: { ...(metadata ?? {}) }, ...rest } as KubeObject;
    return def.convert ? def.convert.in(obj) : obj;
  }

  private checkNamespace(def: ResourceDef, ns: string, creating: boolean): void {
    if (!def.namespaced) return;
    const nsObj = this.storage.get("/namespaces", "", ns);
    if (!nsObj) throw notFound("namespaces", "", ns);
    if (creating && nsObj.metadata.deletionTimestamp)
      throw new StatusFailure(
        403,
        "Forbidden",
        `${def.plural}${def.group ? `.${def.group}` : ""} "${"{name}"}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        {
          kind: def.plural,
          causes: [
            {
              reason: "NamespaceTerminating",
              message: `namespace ${ns} is being terminated`,
              field: "metadata.namespace",
            },
          ],
        },
      );
  }

  /** Creates an object (POST). `body` must be owned by the caller. */
  create(
    def: ResourceDef,
    ns: string,
    body: Json,
    opts: { dryRun?: boolean; user?: UserInfo; managedFields?: Json[] } = {},
  ): KubeObject {
    const obj = this.normalizeBody(def, body);
    const m = obj.metadata;
    if (def.namespaced) {
      if (m.namespace !== undefined && m.namespace !== "" && m.namespace !== ns)
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      m.namespace = ns;
    } else delete m.namespace;
    if (!m.name && m.generateName) {
      let suffix = "";
      for (let i = 0; i < 5; i++) suffix += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
      m.name = `${String(m.generateName).slice(0, 58)}${suffix}`;
    }
    try {
      this.checkNamespace(def, ns, true);
    } catch (e) {
      if (e instanceof StatusFailure && e.reason === "Forbidden") {
        throw new StatusFailure(403, "Forbidden", e.message.replace("{name}", m.name ?? ""), e.details);
      }
      throw e;
    }
    // the storage layer refuses it (etcd3 store Create): a 500 without a reason, as upstream
    if (m.resourceVersion !== undefined && m.resourceVersion !== null && m.resourceVersion !== "")
      throw new StatusFailure(500, "", "resourceVersion should not be set on objects to be created");
    m.uid = randomUUID();
    m.creationTimestamp = this.now();
    Reflect.deleteProperty(m, "resourceVersion");
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    delete m.managedFields;
    if (opts.managedFields?.length) m.managedFields = opts.managedFields;
    if (hasGeneration(def)) m.generation = 1;
    else delete m.generation;
    if (def.kind === "Job") prepareJobForCreate(obj);
    if (def.kind === "CertificateSigningRequest") prepareCsrForCreate(obj, opts.user);
    applyDefaults(def, obj);
    // status starts empty (PrepareForCreate of the apps and batch strategies)
    if (["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job"].includes(def.kind)) obj.status = {};
    if (def.kind === "DaemonSet") daemonSetTemplateGeneration(undefined, obj, deepEqual);
    // status resets on create (PrepareForCreate of the pod and service strategies)
    if (def.kind === "Pod") {
      if (this.saVolume) addServiceAccountVolume(obj);
      obj.status = { phase: "Pending", qosClass: qosClass(obj) };
    }
    if (def.kind === "Service") obj.status = { loadBalancer: {} };
    if (def.kind === "Namespace") {
      obj.status = { phase: "Active" };
      m.labels = { ...(m.labels ?? {}), "kubernetes.io/metadata.name": m.name };
    }
    if (def.kind === "Secret" && obj.stringData && typeof obj.stringData === "object") {
      obj.data = { ...(obj.data ?? {}) };
      for (const [k, v] of Object.entries(obj.stringData))
        obj.data[k] = Buffer.from(String(v)).toString("base64");
      delete obj.stringData;
    }
    pruneEmpty(def, obj);
    const errs = validateObject(def, obj);
    if (errs.length) throw invalid(def.kind, def.group, m.name ?? "", errs);
    if (this.find(def, ns, m.name)) throw alreadyExists(def.plural, def.group, m.name);
    if (def.kind === "Service") this.allocateService(obj, undefined, opts.dryRun === true);
    if (opts.dryRun) return obj;
    return this.storage.write(def.key, "ADDED", obj);
  }

  private allocateService(obj: KubeObject, old: KubeObject | undefined, dryRun: boolean): void {
    const s = obj.spec;
    if (old) {
      // PUT without allocated values keeps them (patchAllocatedValues upstream)
      if (!s.clusterIP && old.spec.clusterIP) s.clusterIP = old.spec.clusterIP;
      if (!s.clusterIPs && old.spec.clusterIPs) s.clusterIPs = old.spec.clusterIPs;
      if (s.clusterIP !== old.spec.clusterIP && old.spec.clusterIP)
        throw invalid("Service", "", obj.metadata.name, [
          fieldInvalid("spec.clusterIPs[0]", s.clusterIP, "may not change once set"),
        ]);
      if (Array.isArray(s.ports) && Array.isArray(old.spec.ports))
        for (const p of s.ports) {
          const o = old.spec.ports.find((x: Json) => x.port === p.port && x.protocol === p.protocol);
          if (o?.nodePort && !p.nodePort && (s.type === "NodePort" || s.type === "LoadBalancer"))
            p.nodePort = o.nodePort;
        }
    }
    if (s.type !== "ExternalName") {
      if (!s.clusterIP) {
        let ip: string | undefined;
        for (let i = 0; i < this.ipSize - 2 && !ip; i++) {
          const candidate = intToIp(
            this.ipBase + 10 + ((Math.floor(Math.random() * (this.ipSize - 12)) + i) % (this.ipSize - 12)),
          );
          if (!this.usedIps.has(candidate)) ip = candidate;
        }
        if (!ip)
          throw new StatusFailure(
            500,
            "InternalError",
            "Internal error occurred: failed to allocate a serviceIP: range is full",
          );
        s.clusterIP = ip;
      } else if (s.clusterIP !== "None" && !old) {
        const n = ipToInt(s.clusterIP);
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(s.clusterIP) || n < this.ipBase || n >= this.ipBase + this.ipSize)
          throw invalid("Service", "", obj.metadata.name, [
            fieldInvalid(
              "spec.clusterIPs",
              [s.clusterIP],
              `failed to allocate IP ${s.clusterIP}: provided IP is not in the valid range. The range of valid IPs is ${intToIp(this.ipBase)}/${32 - Math.log2(this.ipSize)}`,
            ),
          ]);
        if (this.usedIps.has(s.clusterIP))
          throw invalid("Service", "", obj.metadata.name, [
            fieldInvalid(
              "spec.clusterIPs",
              [s.clusterIP],
              `failed to allocate IP ${s.clusterIP}: provided IP is already allocated`,
            ),
          ]);
      }
      s.clusterIPs ??= [s.clusterIP];
      if (s.clusterIP !== "None" || s.ipFamilies === undefined) {
        s.ipFamilies ??= ["IPv4"];
        s.ipFamilyPolicy ??= "SingleStack";
      }
      if (!dryRun && s.clusterIP !== "None") this.usedIps.add(s.clusterIP);
    }
    if ((s.type === "NodePort" || s.type === "LoadBalancer") && Array.isArray(s.ports)) {
      for (const p of s.ports) {
        p.nodePort = this.takeNodePort(obj, "spec.ports[0].nodePort", p.nodePort, Boolean(old), dryRun);
      }
    }
    // Mirrors kube-apiserver: a LoadBalancer Service with externalTrafficPolicy Local gets a
    // healthCheckNodePort from the NodePort range (kept across updates, released when not needed).
    const needsHealthCheck = s.type === "LoadBalancer" && s.externalTrafficPolicy === "Local";
    const oldHealthCheck: number | undefined = old?.spec?.healthCheckNodePort;
    if (needsHealthCheck) {
      s.healthCheckNodePort ??= oldHealthCheck;
      const keep = s.healthCheckNodePort !== undefined && s.healthCheckNodePort === oldHealthCheck;
      s.healthCheckNodePort = this.takeNodePort(
        obj,
        "spec.healthCheckNodePort",
        s.healthCheckNodePort,
        keep,
        dryRun,
      );
    } else {
      delete s.healthCheckNodePort;
    }
    if (oldHealthCheck !== undefined && oldHealthCheck !== s.healthCheckNodePort && !dryRun) {
      this.usedPorts.delete(oldHealthCheck);
    }
  }

  /**
   * A port from the NodePort range for `field`: the requested one (checked against the range and,
   * unless the object already held it, against allocated ports) or a free one at random.
   */
  private takeNodePort(
    obj: KubeObject,
    field: string,
    requested: number | undefined,
    alreadyHeld: boolean,
    dryRun: boolean,
  ): number {
    let port = requested;
    if (port) {
      if (port < this.portMin || port > this.portMax)
        throw invalid("Service", "", obj.metadata.name, [
          fieldInvalid(
            field,
            port,
            `provided port is not in the valid range. The range of valid ports is ${this.portMin}-${this.portMax}`,
          ),
        ]);
      if (!alreadyHeld && this.usedPorts.has(port))
        throw invalid("Service", "", obj.metadata.name, [
          fieldInvalid(field, port, "provided port is already allocated"),
        ]);
    } else {
      const span = this.portMax - this.portMin + 1;
      const start = Math.floor(Math.random() * span);
      for (let i = 0; i < span && !port; i++) {
        const candidate = this.portMin + ((start + i) % span);
        if (!this.usedPorts.has(candidate)) port = candidate;
      }
      if (!port)
        throw new StatusFailure(
          500,
          "InternalError",
          "Internal error occurred: failed to allocate a nodePort: range is full",
        );
    }
    if (!dryRun) this.usedPorts.add(port);
    return port;
  }

  private releaseService(obj: KubeObject): void {
    const s = obj.spec ?? {};
    if (s.clusterIP) this.usedIps.delete(s.clusterIP);
    if (Array.isArray(s.ports)) for (const p of s.ports) if (p?.nodePort) this.usedPorts.delete(p.nodePort);
    if (s.healthCheckNodePort) this.usedPorts.delete(s.healthCheckNodePort);
  }

  /** Reserves the cluster IP of a service object created at bootstrap. */
  reserveServiceIp(ip: string): void {
    this.usedIps.add(ip);
  }

  /**
   * Replaces an object (PUT) or its status (subresource "status"). Returns the stored object
   * (the current one unchanged when the update is a no-op, which writes nothing, like upstream).
   */
  update(
    def: ResourceDef,
    ns: string,
    name: string,
    body: Json,
    opts: { subresource?: string; dryRun?: boolean; expectKind?: string; admit?: Admit } = {},
  ): { object: KubeObject; created: boolean } {
    const obj = this.normalizeBody(def, body, opts.expectKind);
    if (obj.metadata.name !== undefined && obj.metadata.name !== name)
      throw badRequest(
        `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`,
      );
    if (def.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns)
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    const cur = this.find(def, ns, name);
    if (!cur) {
      if (def.createOnUpdate && !opts.subresource) {
        // an update that would create may not name a resourceVersion (Store.Update: NotFound)
        const rv = obj.metadata.resourceVersion;
        if (rv !== undefined && rv !== null && rv !== "") throw notFound(def.plural, def.group, name);
        obj.metadata.name = name;
        return { object: this.create(def, ns, obj, opts.dryRun ? { dryRun: true } : {}), created: true };
      }
      throw notFound(def.plural, def.group, name);
    }
    return {
      object: this.replace(def, cur, obj, opts.subresource, opts.dryRun === true, opts.admit),
      created: false,
    };
  }

  /** Core of update and patch: `next` is a fresh object owned by the caller. */
  replace(
    def: ResourceDef,
    cur: KubeObject,
    next: KubeObject,
    subresource?: string,
    dryRun = false,
    admit?: Admit,
  ): KubeObject {
    const name = cur.metadata.name;
    const m = next.metadata;
    const rv = m.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== cur.metadata.resourceVersion) {
      throw conflict(def.plural, def.group, name, STALE);
    }
    if (m.uid !== undefined && m.uid !== "" && m.uid !== cur.metadata.uid)
      throw conflict(
        def.plural,
        def.group,
        name,
        `Precondition failed: UID in precondition: ${m.uid}, UID in object meta: ${cur.metadata.uid}`,
      );
    let out: KubeObject;
    const cm = cur.metadata;
    if (subresource === "status" || subresource === "approval") {
      out = { ...next, metadata: { ...m } };
      if ("spec" in cur) out.spec = cur.spec;
      else delete out.spec;
      // pods/status may not touch ownerReferences (podStatusStrategy.PrepareForUpdate)
      if (def.kind === "Pod") {
        if (cm.ownerReferences) out.metadata.ownerReferences = cm.ownerReferences;
        else delete out.metadata.ownerReferences;
      }
    } else {
      out = next;
      if (Object.keys(def.subresources).includes("status")) {
        if ("status" in cur) out.status = cur.status;
        else delete out.status;
      }
    }
    const om = out.metadata;
    om.name = cm.name;
    if (cm.namespace !== undefined) om.namespace = cm.namespace;
    else delete om.namespace;
    om.uid = cm.uid;
    om.creationTimestamp = cm.creationTimestamp;
    om.resourceVersion = cm.resourceVersion;
    if (cm.generation !== undefined) om.generation = cm.generation;
    else delete om.generation;
    if (cm.deletionTimestamp) {
      om.deletionTimestamp = cm.deletionTimestamp;
      if (cm.deletionGracePeriodSeconds !== undefined)
        om.deletionGracePeriodSeconds = cm.deletionGracePeriodSeconds;
    } else {
      delete om.deletionTimestamp;
      delete om.deletionGracePeriodSeconds;
    }
    delete om.selfLink;
    // managedFields a writer sends replace the set (server-side apply computes them); else they stay
    if (!Array.isArray(m.managedFields)) {
      if (cm.managedFields) om.managedFields = cm.managedFields;
      else delete om.managedFields;
    }
    if (def.kind === "Namespace" && subresource !== "finalize") out.spec = cur.spec;
    if (def.kind === "Namespace" && subresource === "finalize") {
      out = {
        ...cur,
        spec: { ...(cur.spec ?? {}), finalizers: next.spec?.finalizers ?? [] },
        metadata: { ...cm },
      };
    }
    if (subresource !== "status" && subresource !== "finalize" && subresource !== "approval")
      applyDefaults(def, out);
    if (def.kind === "Namespace")
      out.metadata.labels = { ...(out.metadata.labels ?? {}), "kubernetes.io/metadata.name": name };
    if (def.kind === "Secret" && out.stringData && typeof out.stringData === "object") {
      out.data = { ...(out.data ?? {}) };
      for (const [k, v] of Object.entries(out.stringData))
        out.data[k] = Buffer.from(String(v)).toString("base64");
      delete out.stringData;
    }
    if (def.kind === "DaemonSet" && subresource !== "status")
      daemonSetTemplateGeneration(cur, out, deepEqual);
    if (def.kind === "CertificateSigningRequest") out = csrUpdate(cur, out, subresource, this.now());
    pruneEmpty(def, out);
    admit?.(out, cur);
    const errs = validateObject(def, out);
    if (def.kind === "Pod" && subresource !== "status") errs.push(...podUpdateErrors(cur, out));
    if (def.kind === "Pod" && cm.deletionTimestamp) {
      // finalizers of a pod being deleted may only be removed (mirrors ValidateObjectMetaUpdate)
      const added = (om.finalizers ?? []).filter((f) => !(cm.finalizers ?? []).includes(f));
      if (added.length)
        errs.push(
          fieldForbidden(
            "metadata.finalizers",
            "no new finalizers can be added if the object is being deleted",
          ),
        );
    }
    if (errs.length) throw invalid(def.kind, def.group, name, errs);
    if (def.kind === "Service" && subresource !== "status") this.allocateService(out, cur, dryRun);
    if (subresource !== "status" && hasGeneration(def) && generationChanged(def, cur, out, deepEqual))
      om.generation = (cm.generation ?? 1) + 1;
    if (bareJson(cur) === JSON.stringify(out)) return cur;
    if (dryRun) return out;
    if (
      om.deletionTimestamp &&
      (om.finalizers ?? []).length === 0 &&
      (om.deletionGracePeriodSeconds ?? 0) === 0
    ) {
      return this.storage.write(def.key, "DELETED", out, cur);
    }
    return this.storage.write(def.key, "MODIFIED", out, cur);
  }

  /** Applies a patch of the given type to the current object (or its status) and stores the result. */
  patch(
    def: ResourceDef,
    ns: string,
    name: string,
    type: PatchType,
    patch: Json,
    opts: { subresource?: string; dryRun?: boolean; admit?: Admit } = {},
  ): KubeObject {
    const cur = this.get(def, ns, name);
    const doc = withKind(def, cur);
    let result: Json;
    if (type === "json") result = applyJsonPatch(doc, patch);
    else if (type === "merge") {
      if (patch === null || typeof patch !== "object" || Array.isArray(patch))
        throw badRequest("json: cannot unmarshal array into Go value of type map[string]interface {}");
      result = applyMergePatch(doc, patch);
    } else {
      if (patch === null || typeof patch !== "object" || Array.isArray(patch))
        throw badRequest("json: cannot unmarshal array into Go value of type map[string]interface {}");
      result = applyStrategicMergePatch(doc, patch, def.kind);
    }
    if (result === null || typeof result !== "object" || Array.isArray(result))
      throw badRequest("the patch produced something that is not an object");
    if (result.kind !== def.kind || result.apiVersion !== def.apiVersion)
      throw badRequest(`the patch may not change kind or apiVersion of the object`);
    const next = this.normalizeBody(def, result);
    // A patch only carries a resourceVersion precondition if it sets one explicitly
    const patchedRv = next.metadata.resourceVersion;
    if (patchedRv === cur.metadata.resourceVersion && !patchSetsRv(patch))
      Reflect.deleteProperty(next.metadata, "resourceVersion");
    if (next.metadata.name !== name)
      throw badRequest(
        `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`,
      );
    return this.replace(def, cur, next, opts.subresource, opts.dryRun === true, opts.admit);
  }

  /**
   * Server-side apply (PATCH `application/apply-patch+yaml`) by `manager`: creates the object when
   * absent, else merges the applied configuration with field ownership and conflicts (see apply.ts).
   */
  apply(
    def: ResourceDef,
    ns: string,
    name: string,
    body: Json,
    opts: { manager: string; force: boolean; subresource?: string; dryRun?: boolean; admit?: Admit },
  ): { object: KubeObject; created: boolean } {
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw badRequest("the object provided is unrecognized: expected an object");
    if (body.kind !== def.kind || body.apiVersion !== def.apiVersion)
      throw badRequest(
        `an apply patch must carry apiVersion "${def.apiVersion}" and kind "${def.kind}" (got "${body.apiVersion ?? ""}", "${body.kind ?? ""}")`,
      );
    if (body.metadata?.managedFields !== undefined) throw badRequest("metadata.managedFields must be nil");
    if (body.metadata?.name !== undefined && body.metadata.name !== name)
      throw badRequest(
        `the name of the object (${String(body.metadata.name)}) does not match the name on the URL (${name})`,
      );
    const cur = this.find(def, ns, name);
    if (!cur && opts.subresource) throw notFound(def.plural, def.group, name);
    const { object } = serverSideApply({
      kind: def.kind,
      apiVersion: def.apiVersion,
      live: cur ? withKind(def, cur) : undefined,
      applied: { ...body, metadata: { ...(body.metadata ?? {}), name } },
      manager: opts.manager,
      force: opts.force,
      nowIso: this.now(),
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    });
    if (!cur) {
      const { managedFields, ...metadata } = object.metadata;
      const created = this.create(
        def,
        ns,
        { ...object, metadata },
        { dryRun: opts.dryRun === true, managedFields },
      );
      return { object: created, created: true };
    }
    const next = this.normalizeBody(def, object);
    Reflect.deleteProperty(next.metadata, "resourceVersion");
    return {
      object: this.replace(def, cur, next, opts.subresource, opts.dryRun === true, opts.admit),
      created: false,
    };
  }

  /**
   * Deletes an object: graceful for bound pods, deferred while finalizers remain, with the
   * ownerReference propagation policy recorded as the orphan / foregroundDeletion finalizer.
   */
  delete(
    def: ResourceDef,
    ns: string,
    name: string,
    options: DeleteOptions = {},
  ): { object: KubeObject; deleted: boolean } {
    const cur = this.get(def, ns, name);
    const cm = cur.metadata;
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== cm.uid)
      throw conflict(
        def.plural,
        def.group,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cm.uid}`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== cm.resourceVersion)
      throw conflict(
        def.plural,
        def.group,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cm.resourceVersion}`,
      );
    if (
      options.gracePeriodSeconds !== undefined &&
      (!Number.isInteger(options.gracePeriodSeconds) || options.gracePeriodSeconds < 0)
    )
      throw invalid("DeleteOptions", "", "", [
        fieldInvalid("gracePeriodSeconds", options.gracePeriodSeconds, "must be greater than or equal to 0"),
      ]);
    const nowMs = this.clock.now();
    if (def.kind === "Namespace") {
      if (cm.deletionTimestamp) return { object: cur, deleted: false };
      const next: KubeObject = {
        ...cur,
        metadata: { ...cm, deletionTimestamp: rfc3339(nowMs), deletionGracePeriodSeconds: 0 },
        status: { ...(cur.status ?? {}), phase: "Terminating" },
      };
      if (options.dryRun) return { object: next, deleted: false };
      return { object: this.storage.write(def.key, "MODIFIED", next, cur), deleted: false };
    }
    let finalizers = [...(cm.finalizers ?? [])];
    const policy = options.propagationPolicy ?? def.defaultPropagationPolicy;
    if (policy !== undefined && !["Orphan", "Background", "Foreground"].includes(policy))
      throw invalid("DeleteOptions", "", "", [
        fieldInvalid("propagationPolicy", policy, 'must be one of "Orphan", "Background" or "Foreground"'),
      ]);
    if (policy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan");
    if (policy === "Foreground" && !finalizers.includes("foregroundDeletion"))
      finalizers.push("foregroundDeletion");
    if (policy === "Background")
      finalizers = finalizers.filter((f) => f !== "orphan" && f !== "foregroundDeletion");
    // graceful deletion of pods that a kubelet may be running (pod strategy CheckGracefulDelete)
    let grace = 0;
    if (def.kind === "Pod") {
      const terminal = cur.status?.phase === "Succeeded" || cur.status?.phase === "Failed";
      if (cur.spec?.nodeName && !terminal) {
        grace = options.gracePeriodSeconds ?? cur.spec?.terminationGracePeriodSeconds ?? 30;
        if (cm.deletionGracePeriodSeconds !== undefined && cm.deletionTimestamp)
          grace = Math.min(grace, cm.deletionGracePeriodSeconds);
      }
    }
    if (grace > 0 || finalizers.length > 0) {
      const started = cm.deletionTimestamp !== undefined;
      if (
        started &&
        grace >= (cm.deletionGracePeriodSeconds ?? 0) &&
        sameSet(finalizers, cm.finalizers ?? [])
      )
        return { object: cur, deleted: false };
      const metadata = { ...cm };
      if (!started || grace < (cm.deletionGracePeriodSeconds ?? 0)) {
        metadata.deletionTimestamp = rfc3339(nowMs + grace * 1000);
        metadata.deletionGracePeriodSeconds = grace;
      }
      if (finalizers.length) metadata.finalizers = finalizers;
      const next: KubeObject = { ...cur, metadata };
      if (grace === 0 && finalizers.length === 0) {
        if (options.dryRun) return { object: next, deleted: true };
        return { object: this.storage.write(def.key, "DELETED", next, cur), deleted: true };
      }
      if (options.dryRun) return { object: next, deleted: false };
      return { object: this.storage.write(def.key, "MODIFIED", next, cur), deleted: false };
    }
    if (options.dryRun) return { object: cur, deleted: true };
    const gone = { ...cur, metadata: { ...cm } };
    if (def.kind === "Service") this.releaseService(cur);
    return { object: this.storage.write(def.key, "DELETED", gone, cur), deleted: true };
  }

  /** GET .../scale: the autoscaling/v1 Scale of a Deployment or ReplicaSet. */
  getScale(def: ResourceDef, ns: string, name: string): Json {
    return toScale(this.get(def, ns, name));
  }

  /** PUT .../scale: sets spec.replicas of the parent (with the Scale's resourceVersion as precondition). */
  updateScale(def: ResourceDef, ns: string, name: string, body: Json, dryRun = false): Json {
    const cur = this.get(def, ns, name);
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw badRequest("the object provided is unrecognized (must be of type Scale)");
    if (body.kind !== undefined && body.kind !== "Scale")
      throw badRequest(
        `${body.kind} in version "${body.apiVersion ?? ""}" cannot be handled as a Scale: no kind "${body.kind}" is registered for version "${body.apiVersion ?? ""}" in scheme`,
      );
    if (body.metadata?.name !== undefined && body.metadata.name !== name)
      throw badRequest(
        `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
      );
    const rv = body.metadata?.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== cur.metadata.resourceVersion)
      throw conflict(def.plural, def.group, name, STALE);
    const replicas = scaleReplicas(body, name);
    const next = cloneJson(cur);
    next.spec = { ...(next.spec ?? {}), replicas };
    return toScale(this.replace(def, cur, next, undefined, dryRun));
  }

  /** PATCH .../scale: the patch applies to the Scale view, then as {@link updateScale}. */
  patchScale(def: ResourceDef, ns: string, name: string, type: PatchType, patch: Json, dryRun = false): Json {
    const doc = toScale(this.get(def, ns, name));
    let result: Json;
    if (type === "json") result = applyJsonPatch(doc, patch);
    else if (patch === null || typeof patch !== "object" || Array.isArray(patch))
      throw badRequest("json: cannot unmarshal array into Go value of type map[string]interface {}");
    else if (type === "merge") result = applyMergePatch(doc, patch);
    else result = applyStrategicMergePatch(doc, patch, "Scale");
    if (!patchSetsRv(patch) && result?.metadata) delete result.metadata.resourceVersion;
    return this.updateScale(def, ns, name, result, dryRun);
  }

  /** Writes a prepared successor of `cur` without update validation (bindings, controllers' system writes). */
  forceWrite(def: ResourceDef, cur: KubeObject, next: KubeObject): KubeObject {
    next.metadata = { ...next.metadata, resourceVersion: cur.metadata.resourceVersion };
    if (bareJson(cur) === JSON.stringify(next)) return cur;
    return this.storage.write(def.key, "MODIFIED", next, cur);
  }

  /** Controller helper: read-modify-write with the current object until it sticks. */
  mutate(
    def: ResourceDef,
    ns: string,
    name: string,
    fn: (obj: Json) => Json | undefined,
    subresource?: string,
  ): KubeObject | undefined {
    const cur = this.find(def, ns, name);
    if (!cur) return undefined;
    const next = fn(cloneJson(cur));
    if (!next) return cur;
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.replace(def, cur, next as KubeObject, subresource);
  }

  /** All stored resource definitions. */
  storedResources(): ResourceDef[] {
    return RESOURCES.filter((r) => r.stored && !r.convert);
  }
}

const SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The ServiceAccount admission plugin's projected API-access volume (mirrors plugin/pkg/admission/serviceaccount). */
function addServiceAccountVolume(pod: KubeObject): void {
  const s = pod.spec;
  if (!s || s.automountServiceAccountToken === false) return;
  if (pod.metadata.annotations?.["kubernetes.io/config.mirror"]) return;
  const containers: Json[] = [...(s.containers ?? []), ...(s.initContainers ?? [])];
  if (containers.some((c) => (c?.volumeMounts ?? []).some((m: Json) => m?.mountPath === SA_MOUNT))) return;
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
  const name = `kube-api-access-${suffix}`;
  s.volumes = [
    ...(s.volumes ?? []),
    {
      name,
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          {
            downwardAPI: {
              items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }],
            },
          },
        ],
      },
    },
  ];
  for (const c of containers)
    if (c && typeof c === "object")
      c.volumeMounts = [...(c.volumeMounts ?? []), { name, readOnly: true, mountPath: SA_MOUNT }];
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function patchSetsRv(patch: Json): boolean {
  if (Array.isArray(patch))
    return patch.some(
      (op) => typeof op?.path === "string" && op.path === "/metadata/resourceVersion" && op.op !== "test",
    );
  return patch?.metadata?.resourceVersion !== undefined && patch.metadata.resourceVersion !== null;
}

function hasGeneration(def: ResourceDef): boolean {
  return ["Pod", "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job"].includes(def.kind);
}

/** Computes the pod QoS class from container resources (mirrors qos.GetPodQOS, simplified). */
function qosClass(pod: KubeObject): string {
  const cs: Json[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  let any = false;
  let guaranteed = cs.length > 0;
  for (const c of cs) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ["cpu", "memory"]) {
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && String(req[r]) !== String(lim[r])) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** Pod spec immutability (ValidatePodUpdate): only images, activeDeadlineSeconds and added tolerations may change. */
function podUpdateErrors(cur: KubeObject, next: KubeObject): ReturnType<typeof fieldForbidden>[] {
  const a = cloneJson(cur.spec ?? {});
  const b = cloneJson(next.spec ?? {});
  for (const s of [a, b]) {
    for (const list of ["containers", "initContainers"])
      if (Array.isArray(s[list])) for (const c of s[list]) if (c) delete c.image;
    delete s.activeDeadlineSeconds;
    delete s.tolerations;
  }
  if (cur.spec?.nodeName && b.nodeName === undefined) b.nodeName = cur.spec.nodeName;
  if (!deepEqual(a, b)) {
    return [
      fieldForbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
      ),
    ];
  }
  return [];
}

/** Finds a served resource by group/version/plural or throws NotFound like the apiserver mux. */
export function resolveResource(group: string, version: string, plural: string): ResourceDef {
  const def = findResource(group, version, plural);
  if (!def) throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
  return def;
}
