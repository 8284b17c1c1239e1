// The kubelet's predicate admission (pkg/kubelet/lifecycle/predicate.go, which runs the scheduler's
// AdmissionCheck: noderesources.Fits, node affinity, node name, node ports; then NoExecute taints).
// A pure function of the pod, the Node and the pods already admitted, so it is table-tested.
import { parseQuantity } from "@kubenode/kube";
import type { Node } from "@kubenode/node-status";
import type { Container, Pod, ResourceList, Toleration } from "../api.js";
import type { AdmitResult } from "../kubelet.js";

/** Rejection reasons, as upstream's lifecycle package names them. */
export const OUT_OF_CPU = "OutOfcpu";
export const OUT_OF_MEMORY = "OutOfmemory";
export const OUT_OF_EPHEMERAL_STORAGE = "OutOfephemeral-storage";
export const OUT_OF_PODS = "OutOfpods";
export const POD_OS_SELECTOR_MISMATCH = "PodOSSelectorNodeLabelDoesNotMatch";
export const POD_OS_NOT_SUPPORTED = "PodOSNotSupported";

const NODE_OS = "linux";

interface Failure {
  kind: "resource" | "predicate";
  name: string;
  message: string;
}

// ---- resources ----

const NATIVE = new Set(["cpu", "memory", "ephemeral-storage", "pods"]);

/** Extended resources are domain-qualified names outside kubernetes.io (e.g. nvidia.com/gpu). */
function isExtendedResource(name: string): boolean {
  if (NATIVE.has(name) || name.startsWith("hugepages-")) return false;
  const slash = name.indexOf("/");
  if (slash < 0) return false;
  const domain = name.slice(0, slash);
  return !(domain === "kubernetes.io" || domain.endsWith(".kubernetes.io")) && !name.startsWith("requests.");
}

/** Integer units the scheduler compares in: milli-CPU for cpu, whole units (bytes, count) for the rest. */
function units(name: string, value: string | number): number {
  const amount = typeof value === "number" ? value : parseQuantity(value).amount;
  const scaled = name === "cpu" ? amount * 1000 : amount;
  const nearest = Math.round(scaled);
  return Math.abs(scaled - nearest) < 1e-6 ? nearest : Math.ceil(scaled);
}

type Amounts = Map<string, number>;

function add(into: Amounts, from: Amounts): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

function maxInto(into: Amounts, from: Amounts): void {
  for (const [k, v] of from) into.set(k, Math.max(into.get(k) ?? 0, v));
}

/** A container's requests; a limit stands in for a missing request, as API defaulting does. */
function containerRequests(c: Container): Amounts {
  const out: Amounts = new Map();
  const requests: ResourceList = { ...c.resources?.limits, ...c.resources?.requests };
  for (const [name, value] of Object.entries(requests)) out.set(name, units(name, value));
  return out;
}

/**
 * A pod's effective requests (component-helpers resource.PodRequests): regular containers summed,
 * sidecars (init containers with restartPolicy Always) added on top, the largest init-phase
 * footprint if bigger, plus overhead.
 */
export function podRequests(pod: Pod): Amounts {
  const total: Amounts = new Map();
  for (const c of pod.spec.containers) add(total, containerRequests(c));
  const sidecars: Amounts = new Map();
  const initPeak: Amounts = new Map();
  for (const c of pod.spec.initContainers ?? []) {
    const reqs = containerRequests(c);
    if (c.restartPolicy === "Always") {
      add(sidecars, reqs);
      maxInto(initPeak, sidecars);
    } else {
      const withSidecars = new Map(sidecars);
      add(withSidecars, reqs);
      maxInto(initPeak, withSidecars);
    }
  }
  add(total, sidecars);
  maxInto(total, initPeak);
  if (pod.spec.overhead) {
    const overhead: Amounts = new Map();
    for (const [name, value] of Object.entries(pod.spec.overhead)) overhead.set(name, units(name, value));
    add(total, overhead);
  }
  return total;
}

function fitsResources(pod: Pod, node: Node, others: readonly Pod[]): Failure[] {
  const allocatable = (node.status?.allocatable ?? {}) as Record<string, string>;
  const alloc = (name: string) => (allocatable[name] === undefined ? 0 : units(name, allocatable[name]));
  const failures: Failure[] = [];
  const insufficient = (name: string, requested: number, used: number, capacity: number) =>
    failures.push({
      kind: "resource",
      name,
      message: `Node didn't have enough resource: ${name}, requested: ${requested}, used: ${used}, capacity: ${capacity}`,
    });
  const allowedPods = alloc("pods");
  if (others.length + 1 > allowedPods) insufficient("pods", 1, others.length, allowedPods);

  const request = podRequests(pod);
  // Extended resources the node does not know are cluster-level; upstream drops them before checking.
  for (const name of [...request.keys()])
    if (isExtendedResource(name) && allocatable[name] === undefined) request.delete(name);
  if ([...request.values()].every((v) => v === 0)) return failures;

  const used: Amounts = new Map();
  for (const p of others) add(used, podRequests(p));
  for (const name of ["cpu", "memory", "ephemeral-storage"]) {
    const want = request.get(name) ?? 0;
    const have = alloc(name) - (used.get(name) ?? 0);
    if (want > 0 && want > have) insufficient(name, want, used.get(name) ?? 0, alloc(name));
  }
  for (const [name, want] of request) {
    if (NATIVE.has(name) || want === 0) continue;
    const have = alloc(name) - (used.get(name) ?? 0);
    if (want > have) insufficient(name, want, used.get(name) ?? 0, alloc(name));
  }
  return failures;
}

// ---- node affinity (component-helpers/scheduling/corev1/nodeaffinity) ----

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

interface SelectorTerm {
  matchExpressions?: Requirement[];
  matchFields?: Requirement[];
}

function matchExpression(r: Requirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      // A malformed requirement matches nothing, as upstream's lazy-error selector.
      if (value === undefined || values.length !== 1 || !/^-?\d+$/.test(values[0]!) || !/^-?\d+$/.test(value))
        return false;
      const have = BigInt(value);
      const bound = BigInt(values[0]!);
      return r.operator === "Gt" ? have > bound : have < bound;
    }
    default:
      return false;
  }
}

function matchTerm(term: SelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  // An empty term matches no objects.
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const r of exprs) if (!matchExpression(r, labels[r.key])) return false;
  for (const r of fields) {
    if (r.key !== "metadata.name" || (r.operator !== "In" && r.operator !== "NotIn")) return false;
    if (!matchExpression(r, node.metadata.name)) return false;
  }
  return true;
}

/** nodeSelector and requiredDuringSchedulingIgnoredDuringExecution (terms ORed). */
export function matchesNodeSelectorAndAffinity(pod: Pod, node: Node): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const affinity = pod.spec.affinity as
    | {
        nodeAffinity?: {
          requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: SelectorTerm[] };
        };
      }
    | undefined;
  const required = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => matchTerm(t, node));
}

// ---- host ports (scheduler nodeports plugin) ----

interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

function hostPorts(pod: Pod): HostPort[] {
  const out: HostPort[] = [];
  const containers = [
    ...pod.spec.containers,
    ...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
  ];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || p.hostPort <= 0) continue;
      out.push({ ip: p.hostIP || "0.0.0.0", protocol: p.protocol ?? "TCP", port: p.hostPort });
    }
  }
  return out;
}

function portsConflict(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.protocol !== b.protocol) return false;
  return a.ip === b.ip || a.ip === "0.0.0.0" || b.ip === "0.0.0.0";
}

// ---- taints ----

/** core/v1 Toleration.ToleratesTaint. */
function tolerates(t: Toleration, taint: { key: string; value?: string; effect: string }): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  // An empty key (with operator Exists) matches every key.
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === "Exists") return true;
  if (t.operator === undefined || t.operator === "" || t.operator === "Equal")
    return (t.value ?? "") === (taint.value ?? "");
  return false;
}

function isStaticPod(pod: Pod): boolean {
  const source = pod.metadata.annotations?.["kubernetes.io/config.source"];
  return source !== undefined && source !== "api";
}

// ---- the admit handler ----

/**
 * Decides whether `pod` may run on `node` next to `activePods` (the pods already admitted and not
 * terminal), as upstream's predicate admit handler: the pod's `kubernetes.io/os` label and
 * `spec.os` against the node OS, then resources (pods count, then cpu, memory, ephemeral-storage,
 * extended resources against allocatable), node affinity/selector, node name, host ports, and,
 * for pods not from a static file, untolerated NoExecute taints (the kubelet ignores NoSchedule:
 * that is the scheduler's business). Only the first failure is reported, as upstream does.
 */
export function admitPod(pod: Pod, node: Node, activePods: readonly Pod[]): AdmitResult {
  if ((pod.metadata.labels?.["kubernetes.io/os"] ?? NODE_OS) !== NODE_OS) {
    return {
      admit: false,
      reason: POD_OS_SELECTOR_MISMATCH,
      message: "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label",
    };
  }
  const specOs = (pod.spec.os as { name?: string } | undefined)?.name;
  if (specOs !== undefined && specOs !== NODE_OS) {
    return {
      admit: false,
      reason: POD_OS_NOT_SUPPORTED,
      message: "Failed to admit pod as the OS field doesn't match node OS",
    };
  }
  const uid = pod.metadata.uid;
  const others = activePods.filter((p) => uid === undefined || p.metadata.uid !== uid);

  const failures: Failure[] = fitsResources(pod, node, others);
  const predicate = (name: string, desc: string) =>
    failures.push({ kind: "predicate", name, message: `Predicate ${name} failed: ${desc}` });
  if (!matchesNodeSelectorAndAffinity(pod, node))
    predicate("NodeAffinity", "node(s) didn't match Pod's node affinity/selector");
  if (pod.spec.nodeName && pod.spec.nodeName !== node.metadata.name)
    predicate("NodeName", "node(s) didn't match the requested node name");
  const wanted = hostPorts(pod);
  if (wanted.length > 0) {
    const inUse = others.flatMap(hostPorts);
    if (wanted.some((w) => inUse.some((u) => portsConflict(w, u))))
      predicate("NodePorts", "node(s) didn't have free ports for the requested pod ports");
  }
  if (!isStaticPod(pod)) {
    const tolerations = pod.spec.tolerations ?? [];
    const untolerated = (node.spec?.taints ?? []).some(
      (taint) => taint.effect === "NoExecute" && !tolerations.some((t) => tolerates(t, taint)),
    );
    if (untolerated) predicate("TaintToleration", "node(s) had untolerated taint");
  }
  const first = failures[0];
  if (!first) return { admit: true };
  if (first.kind === "predicate") return { admit: false, reason: first.name, message: first.message };
  const reason =
    {
      cpu: OUT_OF_CPU,
      memory: OUT_OF_MEMORY,
      "ephemeral-storage": OUT_OF_EPHEMERAL_STORAGE,
      pods: OUT_OF_PODS,
    }[first.name] ?? `OutOf${first.name}`;
  return { admit: false, reason, message: first.message };
}
