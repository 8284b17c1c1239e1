import { deepEqual } from "../patch.js";
import type { Json } from "../types.js";
import { type Controller, type ControllerContext, ignoreMissing, R, tolerates } from "./context.js";

/**
 * The node lifecycle controller: a node whose Lease and Ready heartbeat stop changing for
 * `nodeMonitorGracePeriodSeconds` gets Ready/pressure conditions Unknown, a NodeNotReady event
 * and the unreachable taints (not-ready taints for Ready=False); its pods stop being Ready;
 * NoExecute taints evict pods after their tolerationSeconds; pods of deleted nodes are
 * force-deleted (the pod GC controller).
 */
export function createNodeLifecycleController(
  ctx: ControllerContext,
  nodeMonitorGracePeriodSeconds: number,
): Controller {
  const { core, storage, watch, trigger, enqueue, recordEvent } = ctx;
  const pods = R("", "pods");
  const nodes = R("", "nodes");
  const leases = R("coordination.k8s.io", "leases");
  const observed = new Map<string, { probe: string; atMs: number }>();
  const graceMs = nodeMonitorGracePeriodSeconds * 1000;
  const sync = (): void => {
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
          ignoreMissing(() => core.forceWrite(pods, p, { ...p, status: { ...p.status, conditions: next } }));
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
  };
  watch(nodes, (e) => {
    if (e.type === "DELETED") {
      observed.delete(e.object.metadata.name);
      // mirrors the pod GC controller: pods bound to a deleted node are force-deleted
      const name = e.object.metadata.name;
      enqueue(() => {
        for (const p of storage.list(pods.key))
          if (p.spec?.nodeName === name)
            ignoreMissing(() =>
              core.delete(pods, p.metadata.namespace ?? "", p.metadata.name, { gracePeriodSeconds: 0 }),
            );
      });
    } else if (e.type === "ADDED") trigger("nodeLifecycle");
  });
  return {
    name: "nodeLifecycle",
    sync,
    resume() {
      // the controller lost sight of the nodes while the server was down: restart their grace period
      const nowMs = core.clock.now();
      for (const v of observed.values()) v.atMs = nowMs;
    },
  };
}
