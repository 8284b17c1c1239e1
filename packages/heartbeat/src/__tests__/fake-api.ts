import type { KubeRequest } from "@kubenode/kube";
import { createFakeKubeClient, statusError as status } from "@kubenode/kube-fakes";
import type { Lease } from "../lease.js";

/**
 * An in-memory stand-in for the leases and nodes endpoints, for unit tests of renewal logic
 * with a fake clock. Integration tests use the testkit API server instead.
 */
export function createFakeLeaseApi(now: () => number = Date.now) {
  let rv = 1;
  const leases = new Map<string, Lease>();
  const nodes = new Map<string, { metadata: { name: string; uid: string } }>();

  function handle(req: KubeRequest): unknown {
    const nodeMatch = /^\/api\/v1\/nodes\/([^/]+)$/.exec(req.path);
    if (nodeMatch && req.method === "GET") {
      const n = nodes.get(decodeURIComponent(nodeMatch[1]!));
      if (!n) throw status(404, "NotFound", `nodes "${nodeMatch[1]}" not found`);
      return structuredClone(n);
    }
    const m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(req.path);
    if (!m) throw status(404, "NotFound", `no route ${req.path}`);
    const name = m[2] ? decodeURIComponent(m[2]) : undefined;
    if (req.method === "GET" && name) {
      const l = leases.get(name);
      if (!l) throw status(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`);
      return structuredClone(l);
    }
    if (req.method === "POST") {
      const body = structuredClone(req.body) as Lease;
      if (leases.has(body.metadata.name)) throw status(409, "AlreadyExists", "already exists");
      body.metadata.resourceVersion = String(++rv);
      body.metadata.uid = `uid-${body.metadata.name}`;
      leases.set(body.metadata.name, body);
      return structuredClone(body);
    }
    if (req.method === "PUT" && name) {
      const body = structuredClone(req.body) as Lease;
      const cur = leases.get(name);
      if (!cur) throw status(404, "NotFound", "not found");
      if (body.metadata.resourceVersion !== cur.metadata.resourceVersion) {
        throw status(
          409,
          "Conflict",
          `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified`,
        );
      }
      body.metadata.resourceVersion = String(++rv);
      leases.set(name, body);
      return structuredClone(body);
    }
    throw status(405, "MethodNotAllowed", `${req.method} ${req.path}`);
  }

  const fake = createFakeKubeClient({ handle, now });
  return {
    ...fake,
    leases,
    nodes,
    /** Someone else writes the lease (bumps its resourceVersion). */
    touch(name: string) {
      const l = leases.get(name)!;
      l.metadata.resourceVersion = String(++rv);
    },
    conflict: () => status(409, "Conflict", "the object has been modified"),
  };
}
