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
