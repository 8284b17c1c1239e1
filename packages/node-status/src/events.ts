import { randomBytes } from "node:crypto";
import type { KubeClient } from "@kubenode/kube";
import type { NodeEvent } from "./conditions.js";
import { rfc3339 } from "./conditions.js";

/** Where node events go; the default posts core/v1 Events, apps may plug their own recorder. */
export interface NodeEventSink {
  record(nodeName: string, event: NodeEvent): void | Promise<void>;
}

/**
 * Posts core/v1 Events about the Node in the `default` namespace, as the kubelet does
 * (involvedObject.uid is the node name, source component "kubelet"). Best effort: a failure to
 * record an event never fails a status update.
 */
export function createApiEventSink(
  client: KubeClient,
  now: () => number = Date.now,
  component = "kubelet",
): NodeEventSink {
  return {
    async record(nodeName, event) {
      const ts = rfc3339(now());
      try {
        await client.request({
          method: "POST",
          path: "/api/v1/namespaces/default/events",
          body: {
            apiVersion: "v1",
            kind: "Event",
            metadata: { name: `${nodeName}.${randomBytes(8).toString("hex")}`, namespace: "default" },
            involvedObject: { kind: "Node", name: nodeName, uid: nodeName },
            reason: event.reason,
            message: event.message,
            type: event.type,
            source: { component, host: nodeName },
            firstTimestamp: ts,
            lastTimestamp: ts,
            count: 1,
            reportingComponent: component,
            reportingInstance: nodeName,
          },
        });
      } catch {
        // Events are informational; losing one must not break the status loop.
      }
    },
  };
}
