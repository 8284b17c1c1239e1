/**
 * Eviction signals, as named in the kubelet's evictionHard / evictionSoft settings.
 * containerfs.* follow nodefs or imagefs depending on the filesystem layout (mirrors kubelet).
 */
export type Signal =
  | "memory.available"
  | "allocatableMemory.available"
  | "nodefs.available"
  | "nodefs.inodesFree"
  | "imagefs.available"
  | "imagefs.inodesFree"
  | "containerfs.available"
  | "containerfs.inodesFree"
  | "pid.available";

/** Every signal this package understands, in a stable order. */
export const SIGNALS: readonly Signal[] = [
  "memory.available",
  "allocatableMemory.available",
  "nodefs.available",
  "nodefs.inodesFree",
  "imagefs.available",
  "imagefs.inodesFree",
  "containerfs.available",
  "containerfs.inodesFree",
  "pid.available",
];

/** Resource reclaimed for a signal (upstream's signalToResource). */
export type EvictionResource = "memory" | "ephemeral-storage" | "inodes" | "pids";

/** Node condition driven by a signal. */
export type PressureCondition = "MemoryPressure" | "DiskPressure" | "PIDPressure";

/** An absolute quantity (bytes, inodes or PIDs) or a fraction of capacity (0..1). */
export type ThresholdValue =
  | { readonly quantity: number; readonly format?: "BinarySI" | "DecimalSI"; readonly percentage?: undefined }
  | { readonly percentage: number; readonly quantity?: undefined };

/**
 * One eviction threshold. `gracePeriodMs` 0 means hard (evict at once, 1 s pod grace period);
 * a soft threshold must be met for `gracePeriodMs` before eviction and uses evictionMaxPodGracePeriod.
 */
export interface Threshold {
  readonly signal: Signal;
  readonly operator: "LessThan";
  readonly value: ThresholdValue;
  readonly gracePeriodMs: number;
  /** Once met, the threshold stays active until available >= value + minReclaim. */
  readonly minReclaim?: ThresholdValue;
}

/** Filesystem usage as statfs reports it. */
export interface FsStats {
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
  /** When the stats were collected, epoch ms. */
  timeMs?: number;
}

/** Memory usage of the node or of a cgroup. */
export interface MemoryStats {
  /** capacity - workingSet. */
  availableBytes?: number;
  /** usage - inactive_file. */
  workingSetBytes?: number;
  /** Raw usage (memory.usage_in_bytes / memory.current). */
  usageBytes?: number;
  timeMs?: number;
}

/** Node-level statistics: the part of the kubelet stats summary that eviction reads. */
export interface NodeStats {
  memory?: MemoryStats;
  /** The pods cgroup (allocatableMemory.available). */
  allocatableMemory?: MemoryStats;
  nodeFs?: FsStats;
  imageFs?: FsStats;
  /** Only when the runtime keeps writable layers apart from images. */
  containerFs?: FsStats;
  rlimit?: { maxPid?: number; runningProcesses?: number; timeMs?: number };
}

/** Per-container statistics inside a pod. */
export interface ContainerStats {
  name: string;
  memoryWorkingSetBytes?: number;
  rootfs?: FsStats;
  logs?: FsStats;
}

/** Per-pod statistics, keyed by pod UID. */
export interface PodStats {
  uid: string;
  memoryWorkingSetBytes?: number;
  processCount?: number;
  containers?: ContainerStats[];
  /** Local volumes (emptyDir, hostPath) by volume name. */
  volumes?: { name: string; usedBytes?: number; inodesUsed?: number }[];
  /** Total local ephemeral storage of the pod (containers + emptyDir + logs). */
  ephemeralStorageUsedBytes?: number;
}

/** What the manager reads every cycle. */
export interface StatsSummary {
  node: NodeStats;
  pods: PodStats[];
}

/** Supplies node and pod statistics (the kubelet wires CRI stats or cgroups in). */
export interface StatsProvider {
  getSummary(signal?: AbortSignal): Promise<StatsSummary>;
}

/** A resource list as in a pod spec: quantities as strings ("100Mi") or numbers (bytes). */
export type ResourceList = Readonly<Record<string, string | number | undefined>>;

/**
 * The subset of a v1.Pod that eviction reads. A @kubernetes/client-node V1Pod fits as is.
 */
export interface EvictionPod {
  metadata?: {
    uid?: string;
    name?: string;
    namespace?: string;
    annotations?: Readonly<Record<string, string>>;
  };
  spec?: {
    priority?: number;
    terminationGracePeriodSeconds?: number;
    containers?: readonly PodContainer[];
    initContainers?: readonly PodContainer[];
    overhead?: ResourceList;
    volumes?: readonly {
      name: string;
      emptyDir?: { sizeLimit?: string | number; medium?: string };
      hostPath?: unknown;
    }[];
    tolerations?: readonly { key?: string; operator?: string; value?: string; effect?: string }[];
  };
}

/** A container of an EvictionPod. */
export interface PodContainer {
  name: string;
  resources?: { requests?: ResourceList; limits?: ResourceList };
  restartPolicy?: string;
}

/** Supplies the pods eligible for eviction (active pods on this node). */
export interface PodProvider {
  activePods(): readonly EvictionPod[] | Promise<readonly EvictionPod[]>;
}

/** A pod condition as written into status. */
export interface PodCondition {
  type: "DisruptionTarget";
  status: "True";
  reason: "TerminationByKubelet";
  message: string;
}

/** The status an evicted pod ends with (mirrors kubelet: phase Failed, reason Evicted). */
export interface EvictionStatus {
  phase: "Failed";
  reason: "Evicted";
  message: string;
  conditions: PodCondition[];
}

/** What the killer is asked to do. */
export interface KillRequest {
  pod: EvictionPod;
  /** 1 for hard thresholds and local-storage limits, evictionMaxPodGracePeriod for soft ones. */
  gracePeriodSeconds: number;
  /** Status to record for the pod. */
  status: EvictionStatus;
  /** Signal that caused the eviction, or a local-storage limit marker. */
  signal: Signal | "emptydirfs.limit" | "ephemeralpodfs.limit" | "ephemeralcontainerfs.limit";
  /** Event annotations (offending containers, starved resource). */
  annotations: Record<string, string>;
}

/** Stops a pod's containers and records its status. Should resolve once the pod is killed. */
export interface PodKiller {
  killPod(request: KillRequest): Promise<void>;
}

/** Node-level reclaim hooks tried before evicting pods for disk pressure. */
export interface ReclaimHooks {
  /** Remove dead containers (container GC). */
  deleteAllUnusedContainers?(): Promise<void>;
  /** Remove images no container uses (image GC). */
  deleteUnusedImages?(): Promise<void>;
}

/** Object an event is about. */
export interface EventObjectRef {
  kind: "Pod" | "Node";
  name: string;
  namespace?: string;
  uid?: string;
}

/** A Kubernetes event the manager wants recorded. */
export interface EvictionEvent {
  involvedObject: EventObjectRef;
  type: "Warning" | "Normal";
  reason: "Evicted" | "EvictionThresholdMet";
  message: string;
  annotations?: Record<string, string>;
}

/** Receives events (the kubelet forwards them to the API). */
export interface EventRecorder {
  record(event: EvictionEvent): void;
}
