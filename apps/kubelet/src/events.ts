// Kubernetes Events the kubelet posts about pods and its node (upstream's EventRecorder with
// component "kubelet"): admission rejections, FailedMount, InvalidEnvironmentVariableNames, image
// GC failures... Best effort: a lost event never stops the work it reports. The same event for
// the same object is posted at most once per `repeatIntervalMs` (upstream's event correlator
// aggregates repeats into a count instead).
import { randomBytes } from "node:crypto";
import type { Clock, KubeClient, Logger } from "@kubenode/kube";
import type { Pod } from "./api.js";

/** Records Events; `pod` events go in the pod's namespace, node events in `default`. */
export interface KubeletEventRecorder {
  /** `fieldPath` names a container (`spec.containers{name}`) for container events. */
  pod(pod: Pod, type: "Normal" | "Warning", reason: string, message: string, fieldPath?: string): void;
  node(type: "Normal" | "Warning", reason: string, message: string): void;
}

/** Drops every event (standalone mode: no API server). */
export const noEvents: KubeletEventRecorder = { pod() {}, node() {} };

/** The object an Event is about. */
export interface EventSubject {
  kind: "Pod" | "Node";
  name: string;
  namespace?: string;
  uid?: string;
  /** A container of a pod: `spec.containers{name}`. */
  fieldPath?: string;
}

/** One Event to post. `annotations` go on the Event's metadata (upstream AnnotatedEventf). */
export interface KubeletEvent {
  subject: EventSubject;
  type: string;
  reason: string;
  message: string;
  annotations?: Record<string, string>;
}

/**
 * Posts one core/v1 Event from component "kubelet" through `client`: pod events in the pod's
 * namespace, node events in `default` (the node is cluster-scoped). Best effort: a failure goes to
 * `onError` and nothing else.
 */
export function postKubeletEvent(
  client: KubeClient,
  nodeName: string,
  clock: Pick<Clock, "now">,
  event: KubeletEvent,
  onError: (err: unknown) => void = () => {},
): void {
  const { subject } = event;
  const namespace = subject.kind === "Node" ? "default" : (subject.namespace ?? "default");
  const ts = new Date(clock.now()).toISOString().replace(/\.\d+Z$/, "Z");
  void client
    .request({
      method: "POST",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
      body: {
        apiVersion: "v1",
        kind: "Event",
        metadata: {
          name: `${subject.name}.${randomBytes(8).toString("hex")}`,
          namespace,
          annotations: event.annotations,
        },
        involvedObject: {
          apiVersion: "v1",
          kind: subject.kind,
          name: subject.name,
          ...(subject.kind === "Pod" ? { namespace } : {}),
          ...(subject.uid ? { uid: subject.uid } : {}),
          ...(subject.fieldPath ? { fieldPath: subject.fieldPath } : {}),
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
    .catch(onError);
}

/** An Event recorder that posts core/v1 Events through `client`. */
export function createKubeletEventRecorder(
  client: KubeClient,
  nodeName: string,
  clock: Pick<Clock, "now">,
  logger: Logger,
  repeatIntervalMs = 10 * 60_000,
): KubeletEventRecorder {
  const last = new Map<string, number>();
  const post = (subject: EventSubject, type: string, reason: string, message: string) => {
    const now = clock.now();
    const key = `${subject.kind}\u0000${subject.uid ?? subject.name}\u0000${subject.fieldPath ?? ""}\u0000${reason}\u0000${message}`;
    const prev = last.get(key);
    if (prev !== undefined && now - prev < repeatIntervalMs) return;
    last.set(key, now);
    if (last.size > 5000) last.delete(last.keys().next().value!);
    postKubeletEvent(client, nodeName, clock, { subject, type, reason, message }, (err) =>
      logger.v(2, "event not recorded", { reason, err: String(err) }),
    );
  };
  return {
    pod(pod, type, reason, message, fieldPath) {
      post(
        {
          kind: "Pod",
          name: pod.metadata.name ?? "",
          ...(pod.metadata.namespace ? { namespace: pod.metadata.namespace } : {}),
          ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
          ...(fieldPath ? { fieldPath } : {}),
        },
        type,
        reason,
        message,
      );
    },
    node(type, reason, message) {
      post({ kind: "Node", name: nodeName, uid: nodeName }, type, reason, message);
    },
  };
}
