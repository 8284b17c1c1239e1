import { deepEqual } from "../patch.js";
import type { Json, KubeObject } from "../types.js";
import { type Controller, type ControllerContext, ignoreMissing, isTerminal, R } from "./context.js";

/**
 * The EndpointSlice controller: one or more slices (at most 100 endpoints each) per Service with
 * a selector; endpoint conditions ready/serving/terminating follow pod readiness and deletion;
 * named target ports resolve per pod.
 */
export function createEndpointSliceController(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger } = ctx;
  const pods = R("", "pods");
  const nodes = R("", "nodes");
  const services = R("", "services");
  const slices = R("discovery.k8s.io", "endpointslices");
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
      const ready = (p.status?.conditions ?? []).some((c: Json) => c.type === "Ready" && c.status === "True");
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
        const zone = core.find(nodes, "", p.spec.nodeName)?.metadata.labels?.["topology.kubernetes.io/zone"];
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
  const sync = (): void => {
    const byNs = new Map<string, KubeObject[]>();
    for (const s of storage.list(slices.key)) {
      if (s.metadata.labels?.["endpointslice.kubernetes.io/managed-by"] !== "endpointslice-controller.k8s.io")
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
  };
  watch(pods, () => trigger("endpointSlices"));
  watch(services, () => trigger("endpointSlices"));
  watch(slices, (e) => {
    if (e.type === "DELETED") trigger("endpointSlices");
  });
  return { name: "endpointSlices", sync };
}
