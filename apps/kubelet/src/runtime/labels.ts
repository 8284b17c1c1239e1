// Labels and annotations the kubelet writes on CRI sandboxes and containers, as upstream's
// kuberuntime/labels.go and k8s.io/kubelet/pkg/types/labels.go do, so crictl shows our pods and a
// restarted kubelet (ours or upstream's) can read back restart counts and container identity.
import type { Container, Pod } from "../api.js";

export const POD_NAME_LABEL = "io.kubernetes.pod.name";
export const POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";
export const POD_UID_LABEL = "io.kubernetes.pod.uid";
export const CONTAINER_NAME_LABEL = "io.kubernetes.container.name";

export const CONTAINER_HASH_ANNOTATION = "io.kubernetes.container.hash";
export const CONTAINER_RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount";
export const TERMINATION_MESSAGE_PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath";
export const TERMINATION_MESSAGE_POLICY_ANNOTATION = "io.kubernetes.container.terminationMessagePolicy";
export const POD_DELETION_GRACE_ANNOTATION = "io.kubernetes.pod.deletionGracePeriod";
export const POD_TERMINATION_GRACE_ANNOTATION = "io.kubernetes.pod.terminationGracePeriod";
export const CONTAINER_PORTS_ANNOTATION = "io.kubernetes.container.ports";

/** Sandbox labels: every pod label, then the three identity labels on top (newPodLabels). */
export function sandboxLabels(pod: Pod): Record<string, string> {
  return {
    ...pod.metadata.labels,
    [POD_NAME_LABEL]: pod.metadata.name ?? "",
    [POD_NAMESPACE_LABEL]: pod.metadata.namespace ?? "",
    [POD_UID_LABEL]: pod.metadata.uid ?? "",
  };
}

/** Sandbox annotations: the pod's annotations verbatim (newPodAnnotations). */
export function sandboxAnnotations(pod: Pod): Record<string, string> {
  return { ...pod.metadata.annotations };
}

/** Container labels: exactly the identity labels, no pod labels (newContainerLabels). */
export function containerLabels(pod: Pod, container: Container): Record<string, string> {
  return {
    [POD_NAME_LABEL]: pod.metadata.name ?? "",
    [POD_NAMESPACE_LABEL]: pod.metadata.namespace ?? "",
    [POD_UID_LABEL]: pod.metadata.uid ?? "",
    [CONTAINER_NAME_LABEL]: container.name,
  };
}

/** Container annotations (newContainerAnnotations). */
export function containerAnnotations(
  pod: Pod,
  container: Container,
  restartCount: number,
): Record<string, string> {
  const a: Record<string, string> = {
    [CONTAINER_HASH_ANNOTATION]: containerHash(container),
    [CONTAINER_RESTART_COUNT_ANNOTATION]: String(restartCount),
    [TERMINATION_MESSAGE_PATH_ANNOTATION]: container.terminationMessagePath ?? "/dev/termination-log",
    [TERMINATION_MESSAGE_POLICY_ANNOTATION]: container.terminationMessagePolicy ?? "File",
  };
  if (pod.metadata.deletionGracePeriodSeconds !== undefined) {
    a[POD_DELETION_GRACE_ANNOTATION] = String(pod.metadata.deletionGracePeriodSeconds);
  }
  if (pod.spec.terminationGracePeriodSeconds !== undefined) {
    a[POD_TERMINATION_GRACE_ANNOTATION] = String(pod.spec.terminationGracePeriodSeconds);
  }
  if (container.ports && container.ports.length > 0) {
    a[CONTAINER_PORTS_ANNOTATION] = JSON.stringify(container.ports);
  }
  return a;
}

/**
 * The container hash upstream's kubelet (1.31+) writes: FNV-32a over the text the Go hash dumper
 * prints for the JSON bytes of `{"image":…,"name":…}`, i.e. `([]uint8)[123 34 …]`, as lowercase hex
 * without padding (pkg/kubelet/container/helpers.go HashContainer). A changed image makes the
 * kubelet restart the container.
 */
export function containerHash(container: Pick<Container, "image" | "name">): string {
  // Go's json.Marshal of a map sorts keys: image, name.
  const json = Buffer.from(JSON.stringify({ image: container.image ?? "", name: container.name }), "utf8");
  const text = `([]uint8)[${Array.from(json).join(" ")}]`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16);
}

/** Reads a decimal annotation; missing or unparsable gives 0 (upstream logs and uses 0). */
export function intAnnotation(annotations: Record<string, string> | undefined, key: string): number {
  const raw = annotations?.[key];
  if (raw === undefined || !/^\d+$/.test(raw)) return 0;
  return Number(raw);
}
