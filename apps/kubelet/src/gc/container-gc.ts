// Container garbage collection (kuberuntime_gc.go): dead containers beyond maxPerPodContainer per
// (pod, container name), every dead container of pods whose content may go, and dead sandboxes
// without containers (all of a removable pod's, all but the newest of any other pod's).
import type { RuntimeContainer, RuntimePod, RuntimeSandbox } from "../runtime/types.js";

/** Container GC policy (upstream's ContainerGCPolicy). */
export interface ContainerGcPolicy {
  /** Dead instances kept per (pod, container name); upstream maxPerPodContainer, default 1. Negative: no limit. */
  maxPerPodContainer: number;
  /** Minimum age of a dead container before it may go; upstream minimumGCAge, default 0. */
  minAgeMs: number;
}

export const DEFAULT_CONTAINER_GC_POLICY: ContainerGcPolicy = { maxPerPodContainer: 1, minAgeMs: 0 };

/** What one pass removes. */
export interface ContainerGcPlan {
  containers: RuntimeContainer[];
  sandboxes: RuntimeSandbox[];
}

/**
 * Plans one container GC pass over what the runtime holds. `removable(uid)` says whether a pod's
 * content may go (the pod was deleted, or is unknown once every source has synced: upstream's
 * ShouldPodContentBeRemoved). Only exited containers (and ones the runtime lost track of) are dead;
 * a created container that is about to be started is never touched.
 */
export function planContainerGc(
  pods: readonly RuntimePod[],
  removable: (uid: string) => boolean,
  policy: ContainerGcPolicy,
  nowMs: number,
): ContainerGcPlan {
  const containers: RuntimeContainer[] = [];
  const sandboxes: RuntimeSandbox[] = [];
  for (const pod of pods) {
    const gone = removable(pod.uid);
    const units = new Map<string, RuntimeContainer[]>();
    for (const c of pod.containers) {
      if (c.state !== "exited" && c.state !== "unknown") continue;
      if (nowMs - c.createdAtMs < policy.minAgeMs) continue;
      const unit = units.get(c.name) ?? [];
      unit.push(c);
      units.set(c.name, unit);
    }
    const removed = new Set<string>();
    for (const unit of units.values()) {
      // Newest first; the newest maxPerPodContainer stay (they give lastState).
      unit.sort((a, b) => b.createdAtMs - a.createdAtMs);
      const keep = gone ? 0 : policy.maxPerPodContainer < 0 ? unit.length : policy.maxPerPodContainer;
      for (const c of unit.slice(keep)) {
        containers.push(c);
        removed.add(c.id);
      }
    }
    // Sandboxes: a sandbox still holding a container stays; a removable pod loses every dead
    // one, any other pod keeps its newest sandbox whatever its state (evictSandboxes).
    const inUse = new Set(pod.containers.filter((c) => !removed.has(c.id)).map((c) => c.sandboxId));
    const byAge = [...pod.sandboxes].sort((a, b) => b.createdAtMs - a.createdAtMs);
    byAge.forEach((sb, i) => {
      if (sb.state === "ready" || inUse.has(sb.id)) return;
      if (gone || i > 0) sandboxes.push(sb);
    });
  }
  return { containers, sandboxes };
}
