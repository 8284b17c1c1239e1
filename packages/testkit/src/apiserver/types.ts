/**
 * Kubernetes objects are handled as dynamic JSON: the simulator serves many kinds and must accept
 * any field a client sends (unknown fields are kept, like kube-apiserver without strict decoding).
 */
// biome-ignore lint/suspicious/noExplicitAny: wire objects are dynamic JSON by nature
export type Json = any;

/** The metadata fields the simulator reads and maintains. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generateName?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A stored object: never mutated after it was written (readers share it structurally). */
export interface KubeObject {
  metadata: ObjectMeta;
  [field: string]: Json;
}

/** Who sent a request, after authentication. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}
