import type { Json, KubeObject } from "../types.js";

function matchExpr(value: string | undefined, e: Json): boolean {
  switch (e.operator) {
    case "In":
      return value !== undefined && (e.values ?? []).includes(value);
    case "NotIn":
      return value === undefined || !(e.values ?? []).includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
      return value !== undefined && Number(value) > Number(e.values?.[0]);
    case "Lt":
      return value !== undefined && Number(value) < Number(e.values?.[0]);
  }
  return false;
}

/**
 * Required node affinity (v1.NodeSelector): the terms are ORed, a term's matchExpressions (node
 * labels) and matchFields (only `metadata.name`, as upstream) are ANDed; no terms match every
 * node, an empty term matches none.
 */
export function nodeSelectorTermsMatch(terms: Json[], node: KubeObject): boolean {
  if (!terms.length) return true;
  const labels = node.metadata.labels ?? {};
  return terms.some((t) => {
    const exprs: Json[] = t?.matchExpressions ?? [];
    const fields: Json[] = t?.matchFields ?? [];
    if (!exprs.length && !fields.length) return false;
    return (
      exprs.every((e) => matchExpr(labels[e.key], e)) &&
      fields.every((f) => f.key === "metadata.name" && matchExpr(node.metadata.name, f))
    );
  });
}
