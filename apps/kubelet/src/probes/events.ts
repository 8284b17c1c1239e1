import { randomBytes } from "node:crypto";
import type { Clock, KubeClient } from "@kubenode/kube";
import type { Pod } from "../api.js";

/** One event about a pod or one of its containers (upstream recordContainerEvent). */
export interface PodEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** `spec.containers{name}` / `spec.initContainers{name}` for container events. */
  fieldPath?: string;
}

/** Where the prober and the lifecycle hooks report events. */
export interface PodEventRecorder {
  record(pod: Pod, event: PodEvent): void;
}

/** The fieldPath upstream puts on a container's events. */
export function containerFieldPath(pod: Pod, name: string): string {
  const init = (pod.spec.initContainers ?? []).some((c) => c.name === name);
  return `${init ? "spec.initContainers" : "spec.containers"}{${name}}`;
}

/**
 * Posts pod events as core/v1 Events from component "kubelet" in the pod's namespace. Best effort:
 * a lost event never holds up a probe or a hook.
 */
export function createApiPodEventRecorder(
  client: KubeClient,
  nodeName: string,
  clock: Pick<Clock, "now">,
): PodEventRecorder {
  return {
    record(pod, event) {
      const namespace = pod.metadata.namespace ?? "default";
      const ts = new Date(clock.now()).toISOString().replace(/\.\d+Z$/, "Z");
      void client
        .request({
          method: "POST",
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
          body: {
            apiVersion: "v1",
            kind: "Event",
            metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString("hex")}`, namespace },
            involvedObject: {
              apiVersion: "v1",
              kind: "Pod",
              name: pod.metadata.name,
              namespace,
              uid: pod.metadata.uid,
              ...(event.fieldPath ? { fieldPath: event.fieldPath } : {}),
            },
            reason: event.reason,
            message: event.message,
            type: event.type,
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
