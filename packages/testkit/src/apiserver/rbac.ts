import type { RequestAttributes } from "./auth.js";
import type { ApiCore } from "./core.js";
import { findResource } from "./resources.js";
import type { Json, KubeObject, UserInfo } from "./types.js";

/**
 * RBAC evaluation (plugin/pkg/auth/authorizer/rbac, pkg/apis/rbac/v1/evaluation_helpers.go) over
 * the stored rbac.authorization.k8s.io/v1 objects: every ClusterRoleBinding, then the
 * RoleBindings of the request's namespace; the first rule that allows wins; no deny rules.
 * Consulted after the simulator's built-in rules (system:masters, nodes, kube-proxy...) said no,
 * as kube-apiserver's union authorizer consults RBAC after the Node authorizer.
 */

const RBAC = "rbac.authorization.k8s.io";

function subjectMatches(s: Json, user: UserInfo, bindingNamespace: string): boolean {
  switch (s?.kind) {
    case "User":
      return s.name === user.username;
    case "Group":
      return user.groups.includes(s.name);
    case "ServiceAccount":
      return user.username === `system:serviceaccount:${s.namespace || bindingNamespace}:${s.name}`;
  }
  return false;
}

function describeSubject(s: Json, bindingNamespace: string): string {
  if (s.kind === "ServiceAccount") return `ServiceAccount "${s.name}/${s.namespace || bindingNamespace}"`;
  return `${s.kind} "${s.name}"`;
}

const has = (list: Json, v: string): boolean =>
  Array.isArray(list) && (list.includes(v) || list.includes("*"));

// rbacv1helpers.ResourceMatches: "*", an exact "resource/subresource", or "*" + "/subresource"
function resourceMatches(rule: Json, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return (rule.resources ?? []).some(
    (r: string) => r === "*" || r === combined || (subresource && r === `*/${subresource}`),
  );
}

function ruleAllows(rule: Json, a: RequestAttributes, nonResourcePath?: string): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (nonResourcePath !== undefined)
    return (rule.nonResourceURLs ?? []).some(
      (u: string) =>
        u === "*" || u === nonResourcePath || (u.endsWith("*") && nonResourcePath.startsWith(u.slice(0, -1))),
    );
  if (!has(rule.apiGroups, a.group) || !resourceMatches(rule, a.resource, a.subresource)) return false;
  const names: string[] = rule.resourceNames ?? [];
  return names.length === 0 || (a.name !== "" && names.includes(a.name));
}

/**
 * The RBAC decision for a request: the allow reason upstream reports
 * (`RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to User "alice"`), or undefined.
 * `nonResourcePath` makes it a non-resource request (only ClusterRoleBindings can grant those).
 */
export function rbacAllows(
  a: RequestAttributes,
  core: ApiCore,
  nonResourcePath?: string,
): string | undefined {
  const def = (plural: string) => findResource(RBAC, "v1", plural)!;
  const roleRules = (ref: Json, bindingNamespace: string): Json[] => {
    if (ref?.apiGroup !== RBAC) return [];
    const role: KubeObject | undefined =
      ref.kind === "ClusterRole"
        ? core.find(def("clusterroles"), "", ref.name)
        : ref.kind === "Role" && bindingNamespace
          ? core.find(def("roles"), bindingNamespace, ref.name)
          : undefined;
    return role?.rules ?? [];
  };
  const visit = (binding: KubeObject, kind: "ClusterRoleBinding" | "RoleBinding"): string | undefined => {
    const ns = binding.metadata.namespace ?? "";
    const subject = (binding.subjects ?? []).find((s: Json) => subjectMatches(s, a.user, ns));
    if (!subject) return undefined;
    const rules = roleRules(binding.roleRef, ns).filter(
      (r) => (nonResourcePath !== undefined) === Boolean(r.nonResourceURLs),
    );
    if (!rules.some((r) => ruleAllows(r, a, nonResourcePath))) return undefined;
    const bindingName = kind === "RoleBinding" ? `${binding.metadata.name}/${ns}` : binding.metadata.name;
    return `RBAC: allowed by ${kind} "${bindingName}" of ${binding.roleRef.kind} "${binding.roleRef.name}" to ${describeSubject(subject, ns)}`;
  };
  for (const b of core.storage.list(def("clusterrolebindings").key)) {
    const r = visit(b, "ClusterRoleBinding");
    if (r) return r;
  }
  if (nonResourcePath !== undefined || !a.namespace) return undefined;
  for (const b of core.storage.list(def("rolebindings").key, a.namespace)) {
    const r = visit(b, "RoleBinding");
    if (r) return r;
  }
  return undefined;
}
