import { randomBytes } from "node:crypto";
import { type Clock, createRealClock, type KubeClient, type Logger, silentLogger } from "@kubenode/kube";
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
  options: {
    /** Timestamps of the events. Default: the wall clock. */
    clock?: Pick<Clock, "now">;
    /** Where a failed post is logged at verbosity 2. Default: dropped. */
    logger?: Logger;
    /** source.component / reportingComponent. Default `kubelet`. */
    component?: string;
  } = {},
): NodeEventSink {
  const clock = options.clock ?? createRealClock();
  const logger = options.logger ?? silentLogger;
  const component = options.component ?? "kubelet";
  return {
    async record(nodeName, event) {
      const ts = rfc3339(clock.now());
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
      } catch (err) {
        // Events are informational; losing one must not break the status loop.
        logger.v(2, "Unable to record node event", { node: nodeName, reason: event.reason, err });
      }
    },
  };
}
