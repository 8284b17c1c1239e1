import type { Clock, KubeClient } from "@kubenode/kube";
import type { Logger } from "./logger.js";

/**
 * Posts Warning Events about this Node (core/v1, namespace "default", like node-scoped events of
 * the kubelet and kube-proxy). Repeats of one reason within `minIntervalMs` are dropped so a
 * failing sync retried with backoff does not flood the API server. Best effort: a failed post is
 * logged, never retried.
 */
export function createEventRecorder(options: {
  client: KubeClient;
  nodeName: string;
  clock: Clock;
  log: Logger;
  minIntervalMs?: number;
}): (reason: string, message: string) => void {
  const { client, nodeName, clock, log } = options;
  const minIntervalMs = options.minIntervalMs ?? 60_000;
  const lastSent = new Map<string, number>();
  return (reason, message) => {
    const now = clock.now();
    const last = lastSent.get(reason);
    if (last !== undefined && now - last < minIntervalMs) return;
    lastSent.set(reason, now);
    const ts = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
    client
      .request({
        method: "POST",
        path: "/api/v1/namespaces/default/events",
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { generateName: `${nodeName}.`, namespace: "default" },
          involvedObject: { apiVersion: "v1", kind: "Node", name: nodeName, uid: nodeName },
          reason,
          message: message.slice(0, 1024),
          type: "Warning",
          source: { component: "kube-proxy", host: nodeName },
          reportingComponent: "kube-proxy",
          reportingInstance: nodeName,
          firstTimestamp: ts,
          lastTimestamp: ts,
          count: 1,
        },
        timeoutMs: 10_000,
      })
      .catch((err: unknown) => log.v(2, "Could not post event", { reason, err: (err as Error).message }));
  };
}
