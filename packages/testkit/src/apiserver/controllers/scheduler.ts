import { parseQuantity } from "../quantity.js";
import { bindPod } from "../subresources.js";
import type { Json, KubeObject } from "../types.js";
import { type Controller, type ControllerContext, isTerminal, R, tolerates } from "./context.js";
import { nodeSelectorTermsMatch } from "./node-affinity.js";

function nodeReady(n: KubeObject): boolean {
  return (n.status?.conditions ?? []).some((c: Json) => c.type === "Ready" && c.status === "True");
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

/**
 * A dev scheduler: binds pending pods of the default scheduler to a Ready, schedulable node whose
 * taints they tolerate, matching nodeSelector and required node affinity, with room for their
 * cpu/memory requests and pod count (fewest pods wins); otherwise PodScheduled=False
 * Unschedulable with the upstream-style message and a FailedScheduling event.
 */
export function createScheduler(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger, recordEvent } = ctx;
  const pods = R("", "pods");
  const nodes = R("", "nodes");
  const sync = (): void => {
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
        if (!Object.entries(sel).every(([k, v]) => labels[k] === v) || !nodeSelectorTermsMatch(terms, n)) {
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
  };
  watch(pods, (e) => {
    if (e.type === "ADDED" || (e.type === "DELETED" && e.object.spec?.nodeName)) trigger("scheduler");
  });
  watch(nodes, () => trigger("scheduler"));
  return { name: "scheduler", sync };
}
