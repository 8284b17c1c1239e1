import { randomBytes } from "node:crypto";
import type { EventRecorder, EvictionEvent } from "@kubenode/eviction";
import type { Clock, KubeClient } from "@kubenode/kube";

/**
 * Posts eviction events as core/v1 Events from component "kubelet": pod events in the pod's
 * namespace, node events in `default` (the node is cluster-scoped). Annotations (offending
 * containers, starved resource) go on the Event's metadata, as upstream's AnnotatedEventf. Best
 * effort: a lost event never stops an eviction.
 */
export function createApiEventRecorder(
  client: KubeClient,
  nodeName: string,
  clock: Pick<Clock, "now">,
): EventRecorder {
  return {
    record(event: EvictionEvent) {
      const ref = event.involvedObject;
      const namespace = ref.kind === "Node" ? "default" : (ref.namespace ?? "default");
      const ts = new Date(clock.now()).toISOString().replace(/\.\d+Z$/, "Z");
      void client
        .request({
          method: "POST",
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
          body: {
            apiVersion: "v1",
            kind: "Event",
            metadata: {
              name: `${ref.name}.${randomBytes(8).toString("hex")}`,
              namespace,
              ...(event.annotations ? { annotations: event.annotations } : {}),
            },
            involvedObject: {
              apiVersion: "v1",
              kind: ref.kind,
              name: ref.name,
              ...(ref.kind === "Pod" ? { namespace } : {}),
              uid: ref.uid ?? (ref.kind === "Node" ? nodeName : undefined),
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
