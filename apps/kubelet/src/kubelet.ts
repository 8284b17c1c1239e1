/*
 * createKubelet(): the composition root of the kubelet.
 *
 * Contract for callers (main.ts, the node module, library users):
 *
 *   const kubelet = createKubelet({ nodeName, client, criEndpoint, podManifestPath, ... });
 *   kubelet.addAdmitHandler((pod, others) => ({ admit: false, reason: "OutOfpods", message: "..." }));
 *   await kubelet.start();   // runtime connected, sources watching, PLEG relisting, workers syncing
 *   kubelet.activePods();    // pods admitted and not yet terminal, for eviction ranking / admission
 *   kubelet.plegHealth();    // { healthy, message } for the node's Ready condition
 *   await kubelet.killPod(pod, { gracePeriodSeconds, status });   // eviction's pod killer
 *   kubelet.runtime;         // the PodRuntime in use (version, health, for node status providers)
 *   await kubelet.stop();    // loops stopped; running containers are left running (adopted next start)
 *
 * - `client` absent = standalone mode: static pods from `podManifestPath` only, no API writes.
 * - `runtime` replaces the CRI runtime module (a virtual node passes its own PodRuntime);
 *   otherwise `criEndpoint` is required.
 * - Admission handlers run for every new pod before anything of it starts, in the order added;
 *   the first rejection wins: the pod is never started and its status becomes phase Failed with
 *   the handler's reason and message (upstream's rejectPod).
 * - `killPod` resolves once the pod's containers are stopped and its status (e.g. Evicted) is
 *   recorded; the pod worker then finishes termination (API pods stay until deleted by their owner).
 */
import type { Clock, KubeClient, Logger } from "@kubenode/kube";
import type { Pod, PodStatus } from "./api.js";
import type { PodRuntime } from "./runtime/types.js";

/** What an admission handler decides for a new pod. */
export type AdmitResult = { admit: true } | { admit: false; reason: string; message: string };

/**
 * Decides whether a new pod may run on this node, given the pods already admitted (upstream's
 * PodAdmitHandler). Runs before the pod's sandbox is created.
 */
export type AdmitHandler = (pod: Pod, activePods: readonly Pod[]) => AdmitResult | Promise<AdmitResult>;

/** PLEG health for the node's Ready condition. */
export interface PlegHealth {
  healthy: boolean;
  /** Why unhealthy, in upstream's words ("PLEG is not healthy: pleg was last seen active 3m10s ago; threshold is 3m0s"). */
  message?: string;
}

/** Options of {@link createKubelet}. */
export interface KubeletOptions {
  /** This node's name: API pods with `spec.nodeName` equal to it are run here. */
  nodeName: string;
  /** API client with the node's identity. Absent: standalone, static pods only. */
  client?: KubeClient;
  /** The runtime module. Default: the CRI runtime on `criEndpoint`. */
  runtime?: PodRuntime;
  /** CRI socket, `unix:///run/containerd/containerd.sock`; required unless `runtime` is given. */
  criEndpoint?: string;
  /** Directory (or single file) of static pod manifests. */
  podManifestPath?: string;
  /** How often the manifest directory is re-read (upstream fileCheckFrequency 20 s). */
  fileCheckFrequencyMs?: number;
  /** Kubelet state directory (upstream `--root-dir`, default /var/lib/kubelet). */
  rootDir?: string;
  /** Where container logs go (upstream podLogsDir, default /var/log/pods). */
  podLogsDir?: string;
  /** Cluster DNS server IPs for ClusterFirst pods (upstream clusterDNS). */
  clusterDNS?: string[];
  /** Cluster domain (upstream clusterDomain, e.g. `cluster.local`). */
  clusterDomain?: string;
  /** Host resolver config for dnsPolicy Default (upstream resolvConf, default /etc/resolv.conf). */
  resolvConf?: string;
  /** Per-call CRI deadline (upstream `--runtime-request-timeout`, default 2 min). */
  runtimeRequestTimeoutMs?: number;
  /** The node's IPs, written as pods' hostIP(s). Default: the first non-loopback address. */
  nodeIPs?: string[];
  logger?: Logger;
  clock?: Clock;
}

/** A running kubelet. */
export interface Kubelet {
  /** Starts the runtime, pod sources, PLEG, workers and the status manager. */
  start(): Promise<void>;
  /** Stops every loop and closes connections; running containers keep running. */
  stop(): Promise<void>;
  /** The runtime module in use. */
  readonly runtime: PodRuntime;
  /** Pods admitted on this node that are not terminal and not being terminated. */
  activePods(): Pod[];
  /**
   * Stops a pod with the given grace period and records `status` (merged over the computed one,
   * e.g. phase Failed, reason Evicted). Resolves when the pod's containers are stopped.
   */
  killPod(pod: Pod, options: { gracePeriodSeconds: number; status?: PodStatus }): Promise<void>;
  /** PLEG health (relist seen within 3 min). */
  plegHealth(): PlegHealth;
  /** Adds an admission check for new pods. */
  addAdmitHandler(handler: AdmitHandler): void;
}

/** Creates a kubelet from its modules. */
export function createKubelet(options: KubeletOptions): Kubelet {
  void options;
  throw new Error("createKubelet: composition not wired yet");
}
