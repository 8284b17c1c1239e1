import type { RequestAttributes } from "./auth.js";
import type { ApiCore } from "./core.js";
import { findResource } from "./resources.js";
import { qualified, StatusFailure } from "./status.js";
import type { Json, KubeObject } from "./types.js";

/**
 * The NodeRestriction admission plugin (plugin/pkg/admission/noderestriction): after the node
 * authorizer said yes, a node's writes are limited to its own Node (no taint changes, no
 * node-role / node-restriction / unknown kubernetes.io labels), its own pods, mirror pods and its
 * own Lease. Denials are admission Forbidden errors (`nodes "n1" is forbidden: <reason>`), not
 * authorization ones, so `kubectl auth can-i` (authorization only) still says yes, as upstream.
 */

/** Node name of a node identity (user `system:node:<name>` in group `system:nodes`), else undefined. */
export function nodeNameOf(user: RequestAttributes["user"]): string | undefined {
  if (!user.groups.includes("system:nodes") || !user.username.startsWith("system:node:")) return undefined;
  return user.username.slice("system:node:".length);
}

/** admission.NewForbidden: `<resource> "<name>" is forbidden: <reason>`. */
function admissionForbidden(a: RequestAttributes, name: string, reason: string): StatusFailure {
  const resource = qualified(a.resource, a.group);
  return new StatusFailure(
    403,
    "Forbidden",
    name ? `${resource} "${name}" is forbidden: ${reason}` : `${resource} is forbidden: ${reason}`,
    { ...(name ? { name } : {}), ...(a.group ? { group: a.group } : {}), kind: a.resource },
  );
}

const labelNamespace = (key: string): string => (key.includes("/") ? key.slice(0, key.indexOf("/")) : "");

/** The labels a kubelet may set on its Node (kubeletapis.IsKubeletLabel). */
const KUBELET_LABELS = new Set([
  "kubernetes.io/hostname",
  "kubernetes.io/arch",
  "kubernetes.io/os",
  "beta.kubernetes.io/arch",
  "beta.kubernetes.io/os",
  "beta.kubernetes.io/instance-type",
  "node.kubernetes.io/instance-type",
  "failure-domain.beta.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
]);
const KUBELET_LABEL_NAMESPACES = ["kubelet.kubernetes.io", "node.kubernetes.io"];

function isKubeletLabel(key: string): boolean {
  if (KUBELET_LABELS.has(key)) return true;
  const ns = labelNamespace(key);
  return KUBELET_LABEL_NAMESPACES.some((n) => ns === n || ns.endsWith(`.${n}`));
}

function isKubernetesLabel(key: string): boolean {
  const ns = labelNamespace(key);
  return ["kubernetes.io", "k8s.io"].some((n) => ns === n || ns.endsWith(`.${n}`));
}

/** Labels a node may not add, remove or change on itself (getForbiddenLabels), sorted. */
export function forbiddenNodeLabels(
  next: Record<string, string> = {},
  old: Record<string, string> = {},
): string[] {
  const modified = new Set<string>();
  for (const [k, v] of Object.entries(next)) if (old[k] !== v) modified.add(k);
  for (const [k, v] of Object.entries(old)) if (next[k] !== v) modified.add(k);
  return [...modified]
    .filter((k) => {
      const ns = labelNamespace(k);
      if (ns === "node-restriction.kubernetes.io" || ns.endsWith(".node-restriction.kubernetes.io"))
        return true;
      return isKubernetesLabel(k) && !isKubeletLabel(k);
    })
    .sort();
}

/**
 * Admission of a node identity's request, checked before the write with what the request names
 * and the stored objects. Node updates are checked again on the merged object by
 * {@link admitNodeUpdate}. Throws an admission Forbidden; returns for other users and reads.
 */
export function admitNodeRequest(a: RequestAttributes, core: ApiCore): void {
  const node = nodeNameOf(a.user);
  if (node === undefined) return;
  const mutating = ["create", "update", "patch", "delete", "deletecollection"].includes(a.verb);
  if (!mutating) return;
  const body: Json = a.body ?? {};
  switch (a.resource) {
    case "nodes": {
      const target = a.verb === "create" ? String(body?.metadata?.name ?? "") : a.name;
      if (target !== node)
        throw admissionForbidden(a, target, `node "${node}" is not allowed to modify node "${target}"`);
      if (a.verb === "create") {
        const bad = forbiddenNodeLabels(body?.metadata?.labels ?? {}, {});
        if (bad.length)
          throw admissionForbidden(
            a,
            target,
            `node "${node}" is not allowed to set the following labels: ${bad.join(", ")}`,
          );
      }
      return;
    }
    case "pods": {
      const podsDef = findResource("", "v1", "pods")!;
      if (a.subresource === "status" && (a.verb === "update" || a.verb === "patch")) {
        if (core.find(podsDef, a.namespace, a.name)?.spec?.nodeName !== node)
          throw admissionForbidden(
            a,
            a.name,
            `node "${node}" can only update pod status for pods with spec.nodeName set to itself`,
          );
        return;
      }
      if (a.subresource === "eviction") {
        if (core.find(podsDef, a.namespace, a.name)?.spec?.nodeName !== node)
          throw admissionForbidden(
            a,
            a.name,
            `node ${node} can only evict pods with spec.nodeName set to itself`,
          );
        return;
      }
      if (a.subresource) return;
      if (a.verb === "create") {
        const name = String(body?.metadata?.name ?? "");
        if (!body?.metadata?.annotations?.["kubernetes.io/config.mirror"])
          throw admissionForbidden(
            a,
            name,
            `pod does not have "kubernetes.io/config.mirror" annotation, node "${node}" can only create mirror pods`,
          );
        if (body?.spec?.nodeName !== node)
          throw admissionForbidden(
            a,
            name,
            `node "${node}" can only create pods with spec.nodeName set to itself`,
          );
        return;
      }
      if (a.verb === "delete" && core.find(podsDef, a.namespace, a.name)?.spec?.nodeName !== node)
        throw admissionForbidden(
          a,
          a.name,
          `node "${node}" can only delete pods with spec.nodeName set to itself`,
        );
      return;
    }
    case "leases": {
      if (a.group !== "coordination.k8s.io") return;
      const name = a.verb === "create" ? String(body?.metadata?.name ?? "") : a.name;
      if (a.namespace !== "kube-node-lease")
        throw admissionForbidden(a, name, `can only access leases in the "kube-node-lease" system namespace`);
      if (name !== node)
        throw admissionForbidden(
          a,
          name,
          "can only access node lease with the same name as the requesting node",
        );
      return;
    }
  }
}

/** admitNode on update: the merged Node may not change its taints or restricted labels. */
export function admitNodeUpdate(a: RequestAttributes, next: KubeObject, old: KubeObject): void {
  const node = nodeNameOf(a.user);
  if (node === undefined || a.resource !== "nodes") return;
  if (JSON.stringify(next.spec?.taints ?? null) !== JSON.stringify(old.spec?.taints ?? null))
    throw admissionForbidden(a, a.name, `node "${node}" is not allowed to modify taints`);
  const bad = forbiddenNodeLabels(next.metadata.labels ?? {}, old.metadata.labels ?? {});
  // upstream's message has no node name here
  if (bad.length) throw admissionForbidden(a, a.name, `is not allowed to modify labels: ${bad.join(", ")}`);
}
