import type { EventRecorder, EvictionEvent } from "@kubenode/eviction";
import type { Clock, KubeClient } from "@kubenode/kube";
import { postKubeletEvent } from "../events.js";

/**
 * Posts eviction events as core/v1 Events from component "kubelet", with their annotations
 * (offending containers, starved resource) on the Event's metadata, as upstream's AnnotatedEventf.
 * Every one is posted (no repeat suppression: each eviction is news). Best effort: a lost event
 * never stops an eviction.
 */
export function createApiEventRecorder(
  client: KubeClient,
  nodeName: string,
  clock: Pick<Clock, "now">,
): EventRecorder {
  return {
    record(event: EvictionEvent) {
      const ref = event.involvedObject;
      const uid = ref.uid ?? (ref.kind === "Node" ? nodeName : undefined);
      postKubeletEvent(client, nodeName, clock, {
        subject: {
          kind: ref.kind,
          name: ref.name,
          ...(ref.namespace ? { namespace: ref.namespace } : {}),
          ...(uid ? { uid } : {}),
        },
        type: event.type,
        reason: event.reason,
        message: event.message,
        ...(event.annotations ? { annotations: event.annotations } : {}),
      });
    },
  };
}
