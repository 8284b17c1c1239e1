// Pod events from the kubelet (FailedMount, InvalidEnvironmentVariableNames, ...), posted as
// core/v1 Events with source component "kubelet". Best effort: a lost event never stops a sync.
// The same event for the same pod is posted at most once per `repeatIntervalMs` (upstream's event
// correlator aggregates repeats into a count instead).
import { randomBytes } from "node:crypto";
import type { Clock, KubeClient } from "@kubenode/kube";
import type { Pod } from "./api.js";

export interface PodEventRecorder {
  event(pod: Pod, type: "Normal" | "Warning", reason: string, message: string): void;
}

export const noPodEvents: PodEventRecorder = { event() {} };

export function createApiPodEventRecorder(options: {
  client: KubeClient;
  nodeName: string;
  clock: Pick<Clock, "now">;
  repeatIntervalMs?: number;
}): PodEventRecorder {
  const { client, nodeName, clock } = options;
  const repeatMs = options.repeatIntervalMs ?? 10 * 60_000;
  const last = new Map<string, number>();
  return {
    event(pod, type, reason, message) {
      const uid = pod.metadata.uid ?? "";
      const key = `${uid}\u0000${reason}\u0000${message}`;
      const now = clock.now();
      const prev = last.get(key);
      if (prev !== undefined && now - prev < repeatMs) return;
      last.set(key, now);
      if (last.size > 5000) last.delete(last.keys().next().value!);
      const namespace = pod.metadata.namespace ?? "default";
      const ts = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
      void client
        .request({
          method: "POST",
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
          body: {
            apiVersion: "v1",
            kind: "Event",
            metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString("hex")}`, namespace },
            involvedObject: { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, namespace, uid },
            reason,
            message,
            type,
            source: { component: "kubelet", host: nodeName },
            firstTimestamp: ts,
            lastTimestamp: ts,
            count: 1,
            reportingComponent: "kubelet",
            reportingInstance: nodeName,
          },
        })
        .catch(() => undefined);
    },
  };
}
