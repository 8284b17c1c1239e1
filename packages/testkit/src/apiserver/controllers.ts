import type { ApiCore } from "./core.js";
import { deepEqual } from "./patch.js";
import { parseQuantity } from "./quantity.js";
import { findResource, type ResourceDef } from "./resources.js";
import { StatusFailure } from "./status.js";
import type { StorageEvent, StorageSubscription } from "./storage.js";
import { bindPod } from "./subresources.js";
import type { Json, KubeObject } from "./types.js";

/** Handle on the running dev controllers. */
export interface ControllerSet {
  pause(): void;
  resume(): void;
  stop(): void;
  /** Runs every enabled controller once and waits for queued garbage collection. */
  syncAll(): Promise<void>;
}

export interface ControllerConfig {
  scheduler?: boolean;
  endpointSlices?: boolean;
  nodeLifecycle?: boolean;
  namespaces?: boolean;
  syncIntervalMs: number;
  nodeMonitorGracePeriodSeconds: number;
  /** CA bundle published as ConfigMap kube-root-ca.crt in every namespace (root-ca-cert-publisher). */
  caPem?: string;
}

const R = (group: string, plural: string): ResourceDef => {
  const version = group ? "v1" : "v1";
  return findResource(group, version, plural)!;
};

function ignoreMissing(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusFailure && (e.code === 404 || e.code === 409)) return;
    throw e;
  }
}

const isTerminal = (p: KubeObject): boolean =>
  p.status?.phase === "Succeeded" || p.status?.phase === "Failed";

function tolerates(tols: Json[], taint: Json): Json | undefined {
  return tols.find((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === "Exists") return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? "") === (taint.value ?? "");
  });
}

function nodeReady(n: KubeObject): boolean {
  return (n.status?.conditions ?? []).some((c: Json) => c.type === "Ready" && c.status === "True");
}

function matchExpr(labels: Record<string, string>, e: Json): boolean {
  const v = labels[e.key];
  switch (e.operator) {
    case "In":
      return v !== undefined && (e.values ?? []).includes(v);
    case "NotIn":
      return v === undefined || !(e.values ?? []).includes(v);
    case "Exists":
      return v !== undefined;
    case "DoesNotExist":
      return v === undefined;
    case "Gt":
      return v !== undefined && Number(v) > Number(e.values?.[0]);
    case "Lt":
      return v !== undefined && Number(v) < Number(e.values?.[0]);
  }
  return false;
}

function podRequests(p: KubeObject): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of p.spec?.containers ?? []) {
    cpu += parseQuantity(c?.resources?.requests?.cpu);
    memory += parseQuantity(c?.resources?.requests?.memory);
  }
  for (const c of p.spec?.initContainers ?? []) {
    cpu = Math.max(cpu, parseQuantity(c?.resources?.requests?.cpu));
    memory = Math.max(memory, parseQuantity(c?.resources?.requests?.memory));
  }
  return { cpu, memory };
}

/** Starts the dev controllers plus the always-on garbage collector. */
export function startControllers(core: ApiCore, cfg: ControllerConfig): ControllerSet {
  const storage = core.storage;
  const pods = R("", "pods");
  const nodes = R("", "nodes");
  const services = R("", "services");
  const namespaces = R("", "namespaces");
  const serviceaccounts = R("", "serviceaccounts");
  const configmaps = R("", "configmaps");
  const leases = R("coordination.k8s.io", "leases");
  const slices = R("discovery.k8s.io", "endpointslices");
  let paused = false;
  let stopped = false;
  const subs: StorageSubscription[] = [];
  const pending = new Set<string>();
  const syncs = new Map<string, () => void>();
  const runSafe = (name: string): void => {
    try {
      syncs.get(name)?.();
    } catch (e) {
      // controllers retry on the next trigger or resync, like their upstream work queues
      if (process.env.KUBENODE_APISERVER_DEBUG) console.error(`controller ${name}:`, e);
      if (!(e instanceof StatusFailure))
        queueMicrotask(() => {
          throw e;
        });
    }
  };
  const trigger = (name: string): void => {
    if (stopped || !syncs.has(name) || pending.has(name)) return;
    pending.add(name);
    setImmediate(() => {
      pending.delete(name);
      if (!paused && !stopped) runSafe(name);
    });
  };
  const watch = (def: ResourceDef, fn: (e: StorageEvent) => void): void => {
    const s = storage.subscribe(def.key, storage.resourceVersion, fn);
    if (s !== "expired") subs.push(s);
  };

  const eventsDef = R("", "events");
  /** Emits a core/v1 Event about an object, as the upstream controllers' event recorders do. */
  const recordEvent = (
    obj: KubeObject,
    type: string,
    reason: string,
    message: string,
    component: string,
    action: string,
  ): void => {
    const now = core.clock.now();
    const ns = obj.metadata.namespace || "default";
    ignoreMissing(() =>
      core.create(eventsDef, ns, {
        metadata: {
          name: `${obj.metadata.name}.${(now * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`,
          namespace: ns,
        },
        involvedObject: {
          kind: obj.metadata.namespace ? "Pod" : "Node",
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
          uid: obj.metadata.uid,
          apiVersion: "v1",
          resourceVersion: obj.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        action,
        source: { component },
        reportingComponent: component,
        reportingInstance: `${component}-kubenode`,
        eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"),
        firstTimestamp: null,
        lastTimestamp: null,
      }),
    );
  };

  // ---- garbage collector (always on: part of the API semantics tests rely on) ----
  const byUid = new Map<string, { def: ResourceDef; ns: string; name: string }>();
  const dependents = new Map<string, Set<string>>();
  const gcQueue: (() => void)[] = [];
  let gcScheduled = false;
  const gcRun = (): void => {
    gcScheduled = false;
    if (paused || stopped) return;
    while (gcQueue.length) {
      const task = gcQueue.shift()!;
      try {
        task();
      } catch (e) {
        if (!(e instanceof StatusFailure))
          queueMicrotask(() => {
            throw e;
          });
      }
    }
  };
  const gcEnqueue = (task: () => void): void => {
    gcQueue.push(task);
    if (!gcScheduled) {
      gcScheduled = true;
      setImmediate(gcRun);
    }
  };
  const depKey = (def: ResourceDef, o: KubeObject): string =>
    `${def.key}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;
  const parseDepKey = (k: string): { def: ResourceDef; ns: string; name: string } | undefined => {
    const [key, ns, name] = k.split("|");
    const def = core.storedResources().find((r) => r.key === key);
    return def ? { def, ns: ns!, name: name! } : undefined;
  };
  const ownerExists = (ref: Json, ns: string): boolean => {
    const loc = byUid.get(ref.uid);
    if (loc) return true;
    const def = core.storedResources().find((r) => r.apiVersion === ref.apiVersion && r.kind === ref.kind);
    if (!def) return true; // kinds the simulator does not serve are assumed to exist
    const o = core.find(def, def.namespaced ? ns : "", ref.name);
    return o !== undefined && o.metadata.uid === ref.uid;
  };
  const processDependent = (k: string, ownerUid: string, foreground: boolean): void => {
    const loc = parseDepKey(k);
    if (!loc) return;
    const obj = core.find(loc.def, loc.ns, loc.name);
    if (!obj) return;
    const refs = obj.metadata.ownerReferences ?? [];
    if (!refs.some((r) => r.uid === ownerUid)) return;
    const others = refs.filter((r) => r.uid !== ownerUid && ownerExists(r, loc.ns));
    if (others.length > 0) {
      // solid owners remain: drop the dangling reference only
      core.mutate(loc.def, loc.ns, loc.name, (o) => {
        o.metadata.ownerReferences = o.metadata.ownerReferences.filter((r: Json) => r.uid !== ownerUid);
        return o;
      });
      return;
    }
    ignoreMissing(() =>
      core.delete(loc.def, loc.ns, loc.name, { propagationPolicy: foreground ? "Foreground" : "Background" }),
    );
  };
  const removeFinalizer = (def: ResourceDef, o: KubeObject, f: string): void => {
    ignoreMissing(() =>
      core.mutate(def, o.metadata.namespace ?? "", o.metadata.name, (x) => {
        x.metadata.finalizers = (x.metadata.finalizers ?? []).filter((y: string) => y !== f);
        if (!x.metadata.finalizers.length) delete x.metadata.finalizers;
        return x;
      }),
    );
  };
  const checkForeground = (uid: string): void => {
    const loc = byUid.get(uid);
    if (!loc) return;
    const o = core.find(loc.def, loc.ns, loc.name);
    if (!o?.metadata.deletionTimestamp || !(o.metadata.finalizers ?? []).includes("foregroundDeletion"))
      return;
    const blocking = [...(dependents.get(uid) ?? [])].filter((k) => {
      const d = parseDepKey(k);
      const obj = d && core.find(d.def, d.ns, d.name);
      return obj?.metadata.ownerReferences?.some((r) => r.uid === uid && r.blockOwnerDeletion);
    });
    if (blocking.length === 0) removeFinalizer(loc.def, o, "foregroundDeletion");
  };
  const onGcEvent =
    (def: ResourceDef) =>
    (ev: StorageEvent): void => {
      const o = ev.object;
      const key = depKey(def, o);
      for (const r of ev.prev?.metadata.ownerReferences ?? []) dependents.get(r.uid)?.delete(key);
      if (ev.type === "DELETED") {
        byUid.delete(o.metadata.uid);
        const uid = o.metadata.uid;
        const deps = [...(dependents.get(uid) ?? [])];
        const foreground = (ev.prev?.metadata.finalizers ?? []).includes("foregroundDeletion");
        if (deps.length)
          gcEnqueue(() => {
            for (const k of deps) processDependent(k, uid, foreground);
          });
        for (const r of o.metadata.ownerReferences ?? []) {
          const ownerUid = r.uid;
          gcEnqueue(() => checkForeground(ownerUid));
        }
        return;
      }
      byUid.set(o.metadata.uid, { def, ns: o.metadata.namespace ?? "", name: o.metadata.name });
      for (const r of o.metadata.ownerReferences ?? []) {
        let set = dependents.get(r.uid);
        if (!set) {
          set = new Set();
          dependents.set(r.uid, set);
        }
        set.add(key);
      }
      if (ev.type === "ADDED" && o.metadata.ownerReferences?.length) {
        // an object created with only absent owners is garbage (owner deleted before it was created)
        const refs = o.metadata.ownerReferences;
        gcEnqueue(() => {
          const cur = core.find(def, o.metadata.namespace ?? "", o.metadata.name);
          if (!cur || cur.metadata.uid !== o.metadata.uid) return;
          if (refs.every((r) => !ownerExists(r, o.metadata.namespace ?? "")))
            ignoreMissing(() => core.delete(def, o.metadata.namespace ?? "", o.metadata.name, {}));
        });
      }
      const fins = o.metadata.finalizers ?? [];
      if (o.metadata.deletionTimestamp && fins.includes("orphan")) {
        const uid = o.metadata.uid;
        gcEnqueue(() => {
          for (const k of [...(dependents.get(uid) ?? [])]) {
            const d = parseDepKey(k);
            if (!d) continue;
            ignoreMissing(() =>
              core.mutate(d.def, d.ns, d.name, (x) => {
                x.metadata.ownerReferences = (x.metadata.ownerReferences ?? []).filter(
                  (r: Json) => r.uid !== uid,
                );
                if (!x.metadata.ownerReferences.length) delete x.metadata.ownerReferences;
                return x;
              }),
            );
          }
          const cur = core.find(def, o.metadata.namespace ?? "", o.metadata.name);
          if (cur) removeFinalizer(def, cur, "orphan");
        });
      }
      if (
        o.metadata.deletionTimestamp &&
        fins.includes("foregroundDeletion") &&
        !ev.prev?.metadata.deletionTimestamp
      ) {
        const uid = o.metadata.uid;
        gcEnqueue(() => {
          for (const k of [...(dependents.get(uid) ?? [])]) {
            const d = parseDepKey(k);
            if (d) ignoreMissing(() => core.delete(d.def, d.ns, d.name, { propagationPolicy: "Foreground" }));
          }
          checkForeground(uid);
        });
      }
    };
  for (const def of core.storedResources()) {
    for (const o of storage.list(def.key))
      onGcEvent(def)({ type: "ADDED", resource: def.key, rv: 0, object: o });
    watch(def, onGcEvent(def));
  }

  // ---- scheduler ----
  if (cfg.scheduler !== false) {
    syncs.set("scheduler", () => {
      const all = storage.list(pods.key);
      const unscheduled = all.filter(
        (p) =>
          !p.spec?.nodeName &&
          !p.metadata.deletionTimestamp &&
          (p.spec?.schedulerName ?? "default-scheduler") === "default-scheduler" &&
          !isTerminal(p) &&
          !(p.spec?.schedulingGates ?? []).length,
      );
      if (!unscheduled.length) return;
      const nodeList = storage.list(nodes.key);
      const used = new Map<string, { cpu: number; memory: number; pods: number }>();
      for (const p of all) {
        if (!p.spec?.nodeName || isTerminal(p)) continue;
        const u = used.get(p.spec.nodeName) ?? { cpu: 0, memory: 0, pods: 0 };
        const r = podRequests(p);
        u.cpu += r.cpu;
        u.memory += r.memory;
        u.pods += 1;
        used.set(p.spec.nodeName, u);
      }
      for (const pod of unscheduled) {
        const req = podRequests(pod);
        const reasons = new Map<string, number>();
        const note = (r: string): void => {
          reasons.set(r, (reasons.get(r) ?? 0) + 1);
        };
        let best: KubeObject | undefined;
        let bestScore = Number.POSITIVE_INFINITY;
        for (const n of nodeList) {
          const labels = n.metadata.labels ?? {};
          if (!nodeReady(n)) {
            note("node(s) were not ready");
            continue;
          }
          if (
            n.spec?.unschedulable &&
            !tolerates(pod.spec?.tolerations ?? [], {
              key: "node.kubernetes.io/unschedulable",
              effect: "NoSchedule",
            })
          ) {
            note("node(s) were unschedulable");
            continue;
          }
          const badTaint = (n.spec?.taints ?? []).find(
            (t: Json) =>
              (t.effect === "NoSchedule" || t.effect === "NoExecute") &&
              !tolerates(pod.spec?.tolerations ?? [], t),
          );
          if (badTaint) {
            note(`node(s) had untolerated taint {${badTaint.key}: ${badTaint.value ?? ""}}`);
            continue;
          }
          const sel = pod.spec?.nodeSelector ?? {};
          const terms: Json[] =
            pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
              ?.nodeSelectorTerms ?? [];
          if (
            !Object.entries(sel).every(([k, v]) => labels[k] === v) ||
            (terms.length &&
              !terms.some((t) => (t.matchExpressions ?? []).every((e: Json) => matchExpr(labels, e))))
          ) {
            note("node(s) didn't match Pod's node affinity/selector");
            continue;
          }
          const alloc = n.status?.allocatable ?? n.status?.capacity ?? {};
          const u = used.get(n.metadata.name) ?? { cpu: 0, memory: 0, pods: 0 };
          const maxPods = alloc.pods !== undefined ? parseQuantity(alloc.pods) : 110;
          if (u.pods + 1 > maxPods) {
            note("Too many pods");
            continue;
          }
          if (alloc.cpu !== undefined && u.cpu + req.cpu > parseQuantity(alloc.cpu) + 1e-9) {
            note("Insufficient cpu");
            continue;
          }
          if (alloc.memory !== undefined && u.memory + req.memory > parseQuantity(alloc.memory)) {
            note("Insufficient memory");
            continue;
          }
          const score = u.pods;
          if (score < bestScore) {
            bestScore = score;
            best = n;
          }
        }
        if (best) {
          const cur = core.find(pods, pod.metadata.namespace ?? "", pod.metadata.name);
          if (!cur || cur.spec?.nodeName) continue;
          bindPod(core, pods, cur, best.metadata.name);
          recordEvent(
            cur,
            "Normal",
            "Scheduled",
            `Successfully assigned ${cur.metadata.namespace}/${cur.metadata.name} to ${best.metadata.name}`,
            "default-scheduler",
            "Binding",
          );
          const u = used.get(best.metadata.name) ?? { cpu: 0, memory: 0, pods: 0 };
          u.cpu += req.cpu;
          u.memory += req.memory;
          u.pods += 1;
          used.set(best.metadata.name, u);
        } else {
          const msg = `0/${nodeList.length} nodes are available: ${[...reasons]
            .map(([r, c]) => `${c} ${r}`)
            .sort()
            .join(", ")}${nodeList.length ? "." : "no nodes available to schedule pods."}`.replace(
            ": no nodes",
            ": no nodes",
          );
          const cur = core.find(pods, pod.metadata.namespace ?? "", pod.metadata.name);
          if (!cur) continue;
          const existing = (cur.status?.conditions ?? []).find((c: Json) => c.type === "PodScheduled");
          if (existing?.status === "False" && existing.message === msg) continue;
          const conds = (cur.status?.conditions ?? []).filter((c: Json) => c.type !== "PodScheduled");
          conds.push({
            type: "PodScheduled",
            status: "False",
            lastProbeTime: null,
            lastTransitionTime: core.now(),
            reason: "Unschedulable",
            message: msg,
          });
          core.forceWrite(pods, cur, { ...cur, status: { ...cur.status, conditions: conds } });
          recordEvent(cur, "Warning", "FailedScheduling", msg, "default-scheduler", "Scheduling");
        }
      }
    });
    watch(pods, (e) => {
      if (e.type === "ADDED" || (e.type === "DELETED" && e.object.spec?.nodeName)) trigger("scheduler");
    });
    watch(nodes, () => trigger("scheduler"));
  }

  // ---- EndpointSlice controller ----
  if (cfg.endpointSlices !== false) {
    const MAX = 100;
    const syncService = (svc: KubeObject, podsInNs: readonly KubeObject[], existing: KubeObject[]): void => {
      const ns = svc.metadata.namespace ?? "";
      const sel: Record<string, string> = svc.spec?.selector ?? {};
      const groups = new Map<string, { ports: Json[]; endpoints: Json[] }>();
      for (const p of podsInNs) {
        const labels = p.metadata.labels ?? {};
        if (!Object.entries(sel).every(([k, v]) => labels[k] === v)) continue;
        const ip = p.status?.podIP;
        if (!ip || isTerminal(p)) continue;
        const ports: Json[] = [];
        for (const sp of svc.spec?.ports ?? []) {
          let port = sp.targetPort ?? sp.port;
          if (typeof port === "string" && !/^\d+$/.test(port)) {
            const cp = (p.spec?.containers ?? [])
              .flatMap((c: Json) => c.ports ?? [])
              .find((x: Json) => x.name === port && (x.protocol ?? "TCP") === (sp.protocol ?? "TCP"));
            if (!cp) continue;
            port = cp.containerPort;
          }
          const entry: Json = { name: sp.name ?? "", port: Number(port), protocol: sp.protocol ?? "TCP" };
          if (sp.appProtocol) entry.appProtocol = sp.appProtocol;
          ports.push(entry);
        }
        const ready = (p.status?.conditions ?? []).some(
          (c: Json) => c.type === "Ready" && c.status === "True",
        );
        const terminating = p.metadata.deletionTimestamp !== undefined;
        const ep: Json = {
          addresses: [ip],
          conditions: {
            ready: (ready || svc.spec?.publishNotReadyAddresses === true) && !terminating,
            serving: ready,
            terminating,
          },
          targetRef: { kind: "Pod", namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
        };
        if (p.spec?.nodeName) {
          ep.nodeName = p.spec.nodeName;
          const zone = core.find(nodes, "", p.spec.nodeName)?.metadata.labels?.[
            "topology.kubernetes.io/zone"
          ];
          if (zone) ep.zone = zone;
        }
        const gk = JSON.stringify(ports);
        let g = groups.get(gk);
        if (!g) {
          g = { ports, endpoints: [] };
          groups.set(gk, g);
        }
        g.endpoints.push(ep);
      }
      const desired: { ports: Json[]; endpoints: Json[] }[] = [];
      for (const g of groups.values())
        for (let i = 0; i < g.endpoints.length; i += MAX)
          desired.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX) });
      if (!desired.length) desired.push({ ports: [], endpoints: [] });
      const labels = {
        ...(svc.metadata.labels ?? {}),
        "kubernetes.io/service-name": svc.metadata.name,
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
      };
      const owner = {
        apiVersion: "v1",
        kind: "Service",
        name: svc.metadata.name,
        uid: svc.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      };
      const keep = existing.slice();
      for (const d of desired) {
        // reuse a slice whose content already matches, else any remaining one
        let idx = keep.findIndex(
          (s) => deepEqual(s.endpoints ?? [], d.endpoints) && deepEqual(s.ports ?? [], d.ports),
        );
        if (idx >= 0) {
          const s = keep.splice(idx, 1)[0]!;
          if (!deepEqual(s.metadata.labels, labels))
            core.mutate(slices, ns, s.metadata.name, (x) => ({ ...x, metadata: { ...x.metadata, labels } }));
          continue;
        }
        idx = keep.length ? 0 : -1;
        if (idx >= 0) {
          const s = keep.splice(idx, 1)[0]!;
          core.mutate(slices, ns, s.metadata.name, (x) => ({
            ...x,
            metadata: { ...x.metadata, labels },
            endpoints: d.endpoints,
            ports: d.ports,
          }));
        } else {
          core.create(slices, ns, {
            metadata: {
              generateName: `${svc.metadata.name}-`,
              namespace: ns,
              labels,
              ownerReferences: [owner],
            },
            addressType: "IPv4",
            endpoints: d.endpoints,
            ports: d.ports,
          });
        }
      }
      for (const s of keep) ignoreMissing(() => core.delete(slices, ns, s.metadata.name));
    };
    syncs.set("endpointSlices", () => {
      const byNs = new Map<string, KubeObject[]>();
      for (const s of storage.list(slices.key)) {
        if (
          s.metadata.labels?.["endpointslice.kubernetes.io/managed-by"] !== "endpointslice-controller.k8s.io"
        )
          continue;
        const k = `${s.metadata.namespace}/${s.metadata.labels?.["kubernetes.io/service-name"]}`;
        const arr = byNs.get(k) ?? [];
        arr.push(s);
        byNs.set(k, arr);
      }
      for (const svc of storage.list(services.key)) {
        if (!svc.spec?.selector || !Object.keys(svc.spec.selector).length || svc.metadata.deletionTimestamp)
          continue;
        const ns = svc.metadata.namespace ?? "";
        syncService(svc, storage.list(pods.key, ns), byNs.get(`${ns}/${svc.metadata.name}`) ?? []);
      }
    });
    watch(pods, () => trigger("endpointSlices"));
    watch(services, () => trigger("endpointSlices"));
    watch(slices, (e) => {
      if (e.type === "DELETED") trigger("endpointSlices");
    });
  }

  // ---- node lifecycle controller ----
  const observed = new Map<string, { probe: string; atMs: number }>();
  if (cfg.nodeLifecycle !== false) {
    const graceMs = cfg.nodeMonitorGracePeriodSeconds * 1000;
    syncs.set("nodeLifecycle", () => {
      const nowMs = core.clock.now();
      for (const n of storage.list(nodes.key)) {
        const name = n.metadata.name;
        const lease = core.find(leases, "kube-node-lease", name);
        const ready = (n.status?.conditions ?? []).find((c: Json) => c.type === "Ready");
        const probe = `${lease?.spec?.renewTime ?? ""}|${ready?.lastHeartbeatTime ?? ""}|${ready?.status ?? ""}`;
        const seen = observed.get(name);
        if (!seen || seen.probe !== probe) observed.set(name, { probe, atMs: nowMs });
        const atMs = observed.get(name)!.atMs;
        let cur = n;
        if (nowMs - atMs > graceMs && ready?.status !== "Unknown") {
          // mirrors tryUpdateNodeHealth: the kubelet stopped posting status
          const now = core.now();
          const types = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
          const conds: Json[] = (n.status?.conditions ?? []).map((c: Json) =>
            types.includes(c.type)
              ? {
                  ...c,
                  status: "Unknown",
                  reason: "NodeStatusUnknown",
                  message: "Kubelet stopped posting node status.",
                  lastTransitionTime: now,
                }
              : c,
          );
          for (const t of types)
            if (!conds.some((c) => c.type === t))
              conds.push({
                type: t,
                status: "Unknown",
                reason: "NodeStatusNeverUpdated",
                message: "Kubelet never posted node status.",
                lastHeartbeatTime: n.metadata.creationTimestamp,
                lastTransitionTime: now,
              });
          cur = core.forceWrite(nodes, n, { ...n, status: { ...(n.status ?? {}), conditions: conds } });
          recordEvent(
            cur,
            "Normal",
            "NodeNotReady",
            `Node ${name} status is now: NodeNotReady`,
            "node-controller",
            "NodeNotReady",
          );
          // MarkPodsNotReady: pods of an unreachable node stop being Ready (so endpoints drop them)
          for (const p of storage.list(pods.key)) {
            if (p.spec?.nodeName !== name) continue;
            const conds: Json[] = p.status?.conditions ?? [];
            if (!conds.some((c) => c.type === "Ready" && c.status === "True")) continue;
            const next = conds.map((c) =>
              c.type === "Ready" ? { ...c, status: "False", lastTransitionTime: now } : c,
            );
            ignoreMissing(() =>
              core.forceWrite(pods, p, { ...p, status: { ...p.status, conditions: next } }),
            );
          }
        }
        // taints follow the Ready condition (NoSchedule by the lifecycle controller, NoExecute for eviction)
        const rs = (cur.status?.conditions ?? []).find((c: Json) => c.type === "Ready")?.status;
        const want =
          rs === "Unknown"
            ? "node.kubernetes.io/unreachable"
            : rs === "False"
              ? "node.kubernetes.io/not-ready"
              : undefined;
        const ours = ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"];
        const taints: Json[] = cur.spec?.taints ?? [];
        const kept = taints.filter((t) => !ours.includes(t.key) || t.key === want);
        if (want) {
          for (const effect of ["NoSchedule", "NoExecute"])
            if (!kept.some((t) => t.key === want && t.effect === effect))
              kept.push(
                effect === "NoExecute" ? { key: want, effect, timeAdded: core.now() } : { key: want, effect },
              );
        }
        if (!deepEqual(kept, taints)) {
          const spec = { ...(cur.spec ?? {}) };
          if (kept.length) spec.taints = kept;
          else delete spec.taints;
          cur = core.forceWrite(nodes, cur, { ...cur, spec });
        }
        // taint-based eviction (NoExecuteTaintManager)
        const noExec = kept.filter((t) => t.effect === "NoExecute");
        if (!noExec.length) continue;
        for (const p of storage.list(pods.key)) {
          if (p.spec?.nodeName !== name || p.metadata.deletionTimestamp) continue;
          let deadline = nowMs;
          let tolerated = true;
          for (const t of noExec) {
            const tol = tolerates(p.spec?.tolerations ?? [], t);
            if (!tol) {
              tolerated = false;
              break;
            }
            if (tol.tolerationSeconds !== undefined) {
              const added = t.timeAdded ? Date.parse(t.timeAdded) : nowMs;
              deadline = Math.max(deadline, added + Number(tol.tolerationSeconds) * 1000);
            } else deadline = Number.POSITIVE_INFINITY;
          }
          if (!tolerated || deadline <= nowMs)
            ignoreMissing(() => core.delete(pods, p.metadata.namespace ?? "", p.metadata.name));
        }
      }
    });
    watch(nodes, (e) => {
      if (e.type === "DELETED") {
        observed.delete(e.object.metadata.name);
        // mirrors the pod GC controller: pods bound to a deleted node are force-deleted
        const name = e.object.metadata.name;
        gcEnqueue(() => {
          for (const p of storage.list(pods.key))
            if (p.spec?.nodeName === name)
              ignoreMissing(() =>
                core.delete(pods, p.metadata.namespace ?? "", p.metadata.name, { gracePeriodSeconds: 0 }),
              );
        });
      } else if (e.type === "ADDED") trigger("nodeLifecycle");
    });
  }

  // ---- namespace controller + default service account ----
  if (cfg.namespaces !== false) {
    syncs.set("namespaces", () => {
      for (const n of storage.list(namespaces.key)) {
        const ns = n.metadata.name;
        if (!n.metadata.deletionTimestamp) {
          if (!core.find(serviceaccounts, ns, "default"))
            ignoreMissing(() => core.create(serviceaccounts, ns, { metadata: { name: "default" } }));
          if (cfg.caPem && !core.find(configmaps, ns, "kube-root-ca.crt"))
            ignoreMissing(() =>
              core.create(configmaps, ns, {
                metadata: {
                  name: "kube-root-ca.crt",
                  annotations: {
                    "kubernetes.io/description":
                      "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
                  },
                },
                data: { "ca.crt": cfg.caPem },
              }),
            );
          continue;
        }
        let remaining = 0;
        for (const def of core.storedResources()) {
          if (!def.namespaced) continue;
          for (const o of storage.list(def.key, ns)) {
            remaining++;
            if (!o.metadata.deletionTimestamp) ignoreMissing(() => core.delete(def, ns, o.metadata.name));
          }
        }
        if (remaining) continue;
        if ((n.spec?.finalizers ?? []).includes("kubernetes"))
          ignoreMissing(() =>
            core.update(
              namespaces,
              "",
              ns,
              {
                metadata: { name: ns },
                spec: { finalizers: n.spec.finalizers.filter((f: string) => f !== "kubernetes") },
              },
              { subresource: "finalize" },
            ),
          );
        const cur = core.find(namespaces, "", ns);
        if (cur && !(cur.spec?.finalizers ?? []).length && !(cur.metadata.finalizers ?? []).length)
          storage.write(namespaces.key, "DELETED", { ...cur, metadata: { ...cur.metadata } }, cur);
      }
    });
    watch(namespaces, () => trigger("namespaces"));
    watch(serviceaccounts, (e) => {
      if (e.type === "DELETED") trigger("namespaces");
    });
    watch(configmaps, (e) => {
      if (e.type === "DELETED" && e.object.metadata.name === "kube-root-ca.crt") trigger("namespaces");
    });
    const nsWatch = (def: ResourceDef): void =>
      watch(def, (e) => {
        if (e.type === "DELETED") {
          const n = core.find(namespaces, "", e.object.metadata.namespace ?? "");
          if (n?.metadata.deletionTimestamp) trigger("namespaces");
        }
      });
    for (const def of core.storedResources()) if (def.namespaced) nsWatch(def);
  }

  const timer = setInterval(() => {
    if (paused || stopped) return;
    for (const name of syncs.keys()) trigger(name);
  }, cfg.syncIntervalMs);
  timer.unref();
  for (const name of syncs.keys()) trigger(name);

  return {
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      // the controllers lost sight of the nodes while the server was down: restart their grace period
      const nowMs = core.clock.now();
      for (const v of observed.values()) v.atMs = nowMs;
      for (const name of syncs.keys()) trigger(name);
      if (gcQueue.length) setImmediate(gcRun);
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const s of subs) s.close();
    },
    async syncAll() {
      for (const name of syncs.keys()) runSafe(name);
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setImmediate(r));
        gcRun();
        for (const name of syncs.keys()) runSafe(name);
      }
    },
  };
}
