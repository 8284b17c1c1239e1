import type { ContainerImage, NodeAddress } from "./types.js";

/** What the machine has and is, as cadvisor's MachineInfo tells the kubelet. */
export interface MachineInfo {
  /** Logical CPUs. */
  cpuCores: number;
  /** Total memory, hugepages included. */
  memoryBytes: number;
  /** Preallocated hugepages by page size in bytes -> total bytes (e.g. 2097152 -> 1073741824). */
  hugePagesBytes: Record<number, number>;
  /** Capacity of the filesystem holding the kubelet root dir; undefined when unknown. */
  ephemeralStorageBytes: number | undefined;
  machineID: string;
  systemUUID: string;
  bootID: string;
  /** `uname -r`. */
  kernelVersion: string;
  /** PRETTY_NAME of /etc/os-release. */
  osImage: string;
  /** GOOS spelling: "linux". */
  operatingSystem: string;
  /** GOARCH spelling: "amd64", "arm64", ... */
  architecture: string;
}

/** Supplies machine facts; the default reads /proc, /sys and statfs. */
export interface MachineInfoProvider {
  machineInfo(): Promise<MachineInfo>;
}

/** Supplies the node's addresses; the default follows the kubelet's --node-ip / hostname / DNS order. */
export interface AddressProvider {
  addresses(): Promise<NodeAddress[]>;
}

/** One condition of the container runtime, as CRI `Status` reports it. */
export interface RuntimeCondition {
  /** "RuntimeReady" or "NetworkReady" (others are passed through). */
  type: string;
  status: boolean;
  reason?: string;
  message?: string;
}

/**
 * The container runtime as node-status needs it: version for nodeInfo and status for Ready.
 * A CRI client implements this in a few lines; a virtual node returns constants.
 */
export interface RuntimeInfoProvider {
  /** E.g. `{ name: "containerd", version: "1.6.20" }` -> containerRuntimeVersion "containerd://1.6.20". */
  version(): Promise<{ name: string; version: string }>;
  /** CRI status conditions (RuntimeReady, NetworkReady). */
  status(): Promise<{ conditions: RuntimeCondition[] }>;
}

/** Node pressure as the eviction manager sees it. */
export interface NodePressure {
  memory: boolean;
  disk: boolean;
  pid: boolean;
}

/** Feeds MemoryPressure / DiskPressure / PIDPressure (e.g. the eviction package). */
export interface PressureProvider {
  pressure(): Promise<NodePressure>;
}

/** Lists the images present on the node. */
export interface ImageProvider {
  listImages(): Promise<ContainerImage[]>;
}

/**
 * An extra readiness check (e.g. PLEG health): returns an error message while unhealthy, which
 * turns Ready False with that message, or undefined when healthy.
 */
export type ReadinessCheck = () => string | undefined | Promise<string | undefined>;

/**
 * Everything node-status reads. Every entry is replaceable, so a virtual node can report GPUs it
 * does not have or a simulator any capacity; omitted entries use the host defaults (machine,
 * addresses) or are simply left out (runtime, pressure, images).
 */
export interface NodeStatusProviders {
  machine?: MachineInfoProvider;
  addresses?: AddressProvider;
  runtime?: RuntimeInfoProvider;
  pressure?: PressureProvider;
  images?: ImageProvider;
  readinessChecks?: ReadinessCheck[];
  /** Extra capacity such as `{ "nvidia.com/gpu": "4" }`; allocatable equals capacity for these. */
  extendedResources?: () => Record<string, string> | Promise<Record<string, string>>;
}
