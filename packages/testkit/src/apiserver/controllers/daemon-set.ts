import { cloneJson } from "../patch.js";
import type { Json, KubeObject } from "../types.js";
import { TEMPLATE_GENERATION } from "../workloads.js";
import {
  type Controller,
  type ControllerContext,
  ignoreMissing,
  isTerminal,
  R,
  tolerates,
} from "./context.js";
import { podTemplateHash } from "./deployment.js";
import { syncControllerRevisions } from "./history.js";
import { nodeSelectorTermsMatch } from "./node-affinity.js";
import { claimPods, createPod, deletePod, isAvailable, isReady } from "./pod-control.js";

const COMPONENT = "daemonset-controller";

/** Tolerations every DaemonSet pod gets (daemonset util AddOrUpdateDaemonPodTolerations). */
function daemonTolerations(hostNetwork: boolean): Json[] {
  const t = (key: string, effect: string): Json => ({ key, operator: "Exists", effect });
  return [
    t("node.kubernetes.io/not-ready", "NoExecute"),
    t("node.kubernetes.io/unreachable", "NoExecute"),
    t("node.kubernetes.io/disk-pressure", "NoSchedule"),
    t("node.kubernetes.io/memory-pressure", "NoSchedule"),
    t("node.kubernetes.io/pid-pressure", "NoSchedule"),
    t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ...(hostNetwork ? [t("node.kubernetes.io/network-unavailable", "NoSchedule")] : []),
  ];
}

/**
 * The DaemonSet controller (pkg/controller/daemon): one pod per eligible node (template
 * nodeName, nodeSelector, required node affinity, taints tolerated with the daemon tolerations),
 * pinned with a `metadata.name` matchFields affinity and left to the scheduler to bind;
 * `controller-revision-hash` and `pod-template-generation` labels; RollingUpdate replaces pods
 * of an old template at most maxUnavailable at a time (OnDelete waits for manual deletes);
 * pods on nodes that stop being eligible go (only an untolerated NoExecute taint evicts a running
 * pod); the status counts `kubectl rollout status` reads.
 */
export function createDaemonSetController(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger } = ctx;
  const dsDef = R("apps", "daemonsets");
  const pods = R("", "pods");
  const nodes = R("", "nodes");

  const syncOne = (ds: KubeObject): void => {
    const ns = ds.metadata.namespace ?? "";
    const t = ds.spec?.template ?? {};
    const hash = podTemplateHash(t);
    const generation = ds.metadata.annotations?.[TEMPLATE_GENERATION] ?? "1";
    const tolerations = [...(t.spec?.tolerations ?? []), ...daemonTolerations(t.spec?.hostNetwork === true)];
    const userTerms: Json[] =
      t.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    /** [should run a new pod, may keep a running one] on a node. */
    const fit = (n: KubeObject): [boolean, boolean] => {
      if (t.spec?.nodeName && t.spec.nodeName !== n.metadata.name) return [false, false];
      const labels = n.metadata.labels ?? {};
      const selectorOk =
        Object.entries(t.spec?.nodeSelector ?? {}).every(([k, v]) => labels[k] === v) &&
        nodeSelectorTermsMatch(userTerms, n);
      if (!selectorOk) return [false, false];
      const untolerated = (n.spec?.taints ?? []).filter(
        (taint: Json) =>
          (taint.effect === "NoSchedule" || taint.effect === "NoExecute") && !tolerates(tolerations, taint),
      );
      return [untolerated.length === 0, !untolerated.some((taint: Json) => taint.effect === "NoExecute")];
    };
    const owned = claimPods(ctx, dsDef, ds).filter((p) => !isTerminal(p));
    // ControllerRevisions: the current template's `<name>-<hash>`, old ones kept for rollout undo
    const inUse = new Set(
      owned.map((p) => `${ds.metadata.name}-${p.metadata.labels?.["controller-revision-hash"]}`),
    );
    syncControllerRevisions(ctx, dsDef, ds, hash, inUse, true);
    const nodeOf = (p: KubeObject): string | undefined =>
      p.spec?.nodeName ??
      p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]
        ?.matchFields?.[0]?.values?.[0];
    const byNode = new Map<string, KubeObject[]>();
    for (const p of owned) {
      if (p.metadata.deletionTimestamp) continue;
      const n = nodeOf(p);
      if (n) byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    const nowMs = core.clock.now();
    const minReady = ds.spec?.minReadySeconds ?? 0;
    const nodeList = storage.list(nodes.key);
    const eligible = nodeList.filter((n) => fit(n)[0]);
    const status: Json = {
      currentNumberScheduled: 0,
      numberMisscheduled: 0,
      desiredNumberScheduled: eligible.length,
      numberReady: 0,
      numberAvailable: 0,
      updatedNumberScheduled: 0,
      observedGeneration: ds.metadata.generation,
    };
    const oldPods: KubeObject[] = [];
    let unavailable = 0;
    for (const n of nodeList) {
      const name = n.metadata.name;
      const [run, keep] = fit(n);
      const here = byNode.get(name) ?? [];
      if (!run && !keep) {
        for (const p of here) deletePod(ctx, dsDef, ds, p, COMPONENT);
        continue;
      }
      if (!run && here.length) status.numberMisscheduled++;
      if (run && here.length === 0 && !ds.metadata.deletionTimestamp) {
        const spec = cloneJson(t.spec ?? {});
        const affinity = spec.affinity ?? {};
        const nodeAffinity = affinity.nodeAffinity ?? {};
        // upstream replaces the required terms by one pinning the node; the scheduler binds it
        nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = {
          nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [name] }] }],
        };
        spec.affinity = { ...affinity, nodeAffinity };
        spec.tolerations = [
          ...(spec.tolerations ?? []),
          ...daemonTolerations(spec.hostNetwork === true).filter(
            (d) => !(spec.tolerations ?? []).some((x: Json) => x.key === d.key && x.effect === d.effect),
          ),
        ];
        createPod(ctx, dsDef, ds, COMPONENT, {
          spec,
          labels: { "controller-revision-hash": hash, "pod-template-generation": generation },
        });
        unavailable++;
        continue;
      }
      // one pod per node: extras go, the oldest stays
      const sorted = [...here].sort((a, b) =>
        a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp),
      );
      for (const p of sorted.slice(1)) deletePod(ctx, dsDef, ds, p, COMPONENT);
      const p = sorted[0];
      if (!p || !run) continue;
      status.currentNumberScheduled++;
      if (isReady(p)) status.numberReady++;
      const available = isAvailable(p, minReady, nowMs);
      if (available) status.numberAvailable++;
      else unavailable++;
      if (p.metadata.labels?.["controller-revision-hash"] === hash) status.updatedNumberScheduled++;
      else oldPods.push(p);
    }
    // RollingUpdate: old pods that are not available go first, then available ones within maxUnavailable
    if (ds.spec?.updateStrategy?.type === "RollingUpdate" && !ds.metadata.deletionTimestamp) {
      const mu = ds.spec.updateStrategy.rollingUpdate?.maxUnavailable ?? 1;
      const maxUnavailable =
        typeof mu === "string" && mu.endsWith("%")
          ? Math.ceil((Number.parseInt(mu, 10) * eligible.length) / 100)
          : Number(mu) || 1;
      for (const p of oldPods) {
        if (!isAvailable(p, minReady, nowMs)) deletePod(ctx, dsDef, ds, p, COMPONENT);
        else if (unavailable < maxUnavailable) {
          deletePod(ctx, dsDef, ds, p, COMPONENT);
          unavailable++;
        }
      }
    }
    const numberUnavailable = status.desiredNumberScheduled - status.numberAvailable;
    if (numberUnavailable > 0) status.numberUnavailable = numberUnavailable;
    for (const k of ["numberAvailable", "updatedNumberScheduled"]) if (!status[k]) delete status[k];
    ignoreMissing(() => core.mutate(dsDef, ns, ds.metadata.name, (x) => ({ ...x, status }), "status"));
  };

  const sync = (): void => {
    for (const ds of storage.list(dsDef.key)) syncOne(ds);
  };
  watch(dsDef, () => trigger("daemonsets"));
  watch(nodes, () => trigger("daemonsets"));
  watch(pods, (e) => {
    if (e.object.metadata.ownerReferences?.some((r) => r.kind === "DaemonSet") || e.type === "ADDED")
      trigger("daemonsets");
  });
  return { name: "daemonsets", sync };
}
