import type { Pod } from "../api.js";

/** Annotations the kubelet's config merge sets (pkg/kubelet/types/pod_update.go). */
export const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";
export const CONFIG_SEEN_ANNOTATION = "kubernetes.io/config.seen";
export const CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash";
export const CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

/** Where pods come from. */
export type PodSourceName = "api" | "file";

/** Receives the pods of one source. */
export interface PodSourceHandler {
  /** A pod appeared or changed. */
  upsert(pod: Pod): void;
  /** A pod left the source. */
  remove(uid: string): void;
}

/** A pod source: start delivering, stop cleanly. */
export interface PodSource {
  readonly name: PodSourceName;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True once the source delivered its first complete set. */
  synced(): boolean;
}

/** `config.seen` layout: Go's `2006-01-02T15:04:05.000000000Z07:00`. */
export function configSeenTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

export function isMirrorPod(pod: Pod): boolean {
  return pod.metadata.annotations?.[CONFIG_MIRROR_ANNOTATION] !== undefined;
}

export function isStaticPod(pod: Pod): boolean {
  const src = pod.metadata.annotations?.[CONFIG_SOURCE_ANNOTATION];
  return src !== undefined && src !== "api";
}
