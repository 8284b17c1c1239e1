import type { KubeRequest } from "@kubenode/kube";
import { createFakeKubeClient, statusError as fail } from "@kubenode/kube-fakes";
import type { Node } from "../types.js";

type Json = Record<string, unknown>;

// Just enough strategic merge for node status: conditions merge by type, `$patch: replace`
// lists, null deletes a key.
function merge(base: unknown, patch: unknown, key = ""): unknown {
  if (Array.isArray(patch)) {
    if (patch.some((p) => (p as Json)?.$patch === "replace"))
      return patch.filter((p) => (p as Json)?.$patch !== "replace");
    if (key === "conditions" && Array.isArray(base)) {
      const out = [...(base as Json[])];
      for (const p of patch as Json[]) {
        const i = out.findIndex((b) => b.type === p.type);
        if (i >= 0) out[i] = { ...out[i], ...p };
        else out.push(p);
      }
      return out;
    }
    return patch;
  }
  if (patch && typeof patch === "object") {
    const out: Json = { ...((base as Json) ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = merge(out[k], v, k);
    }
    return out;
  }
  return patch;
}

/** In-memory nodes + events endpoints for unit tests of the reporter with a fake clock. */
export function createFakeNodeApi() {
  let rv = 1;
  let uid = 1;
  const nodes = new Map<string, Node>();
  const events: Json[] = [];

  function handle(req: KubeRequest): unknown {
    if (req.path === "/api/v1/namespaces/default/events" && req.method === "POST") {
      events.push(req.body as Json);
      return req.body;
    }
    if (req.path === "/api/v1/nodes" && req.method === "POST") {
      const n = structuredClone(req.body) as Node;
      if (nodes.has(n.metadata.name))
        throw fail(409, "AlreadyExists", `nodes "${n.metadata.name}" already exists`);
      n.metadata.uid = `uid-${uid++}`;
      n.metadata.resourceVersion = String(++rv);
      nodes.set(n.metadata.name, n);
      return structuredClone(n);
    }
    const m = /^\/api\/v1\/nodes\/([^/]+)(\/status)?$/.exec(req.path);
    if (!m) throw fail(404, "NotFound", `no route ${req.path}`);
    const cur = nodes.get(m[1]!);
    if (!cur) throw fail(404, "NotFound", `nodes "${m[1]}" not found`);
    if (req.method === "GET") return structuredClone(cur);
    if (req.method === "PATCH") {
      const patch = req.body as Json;
      const next = (m[2] ? { ...cur, status: merge(cur.status, patch.status) } : merge(cur, patch)) as Node;
      next.metadata.resourceVersion = String(++rv);
      nodes.set(m[1]!, next);
      return structuredClone(next);
    }
    throw fail(405, "MethodNotAllowed", `${req.method} ${req.path}`);
  }

  const { client, calls, inject } = createFakeKubeClient({ handle });
  return { client, nodes, events, calls, inject, fail };
}
