// What a node agent composes: the manager, its threshold configuration, the host providers and
// the interfaces it calls back. Ranking, signal and message helpers live in
// `@kubenode/eviction/internals`.
export { EvictionError, type EvictionErrorCode } from "./errors.js";
export { type CgroupMode, detectCgroupMode } from "./host/cgroup.js";
export {
  createHostStatsProvider,
  type HostStatsOptions,
  hasDedicatedImageFs,
  type PodStatsSource,
  readFsStats,
  readNodeMemory,
} from "./host/host-stats.js";
export {
  type CgroupPodStatsOptions,
  createCgroupPodStatsSource,
  kubeletPodCgroupPath,
  type PodCgroup,
} from "./host/pod-cgroups.js";
export {
  type AdmitResult,
  createEvictionManager,
  type EvictionManager,
  type EvictionManagerOptions,
  type SynchronizeResult,
  type ThresholdNotifier,
} from "./manager.js";
export { EVICTED_REASON } from "./messages.js";
export {
  createMemoryThresholdNotifier,
  createMemoryThresholdNotifiers,
  type MemoryThresholdNotifierOptions,
} from "./notifier.js";
export { isCriticalPod } from "./pod.js";
export type { SignalObservation, SignalObservations } from "./signals.js";
export { DEFAULT_EVICTION_HARD, type EvictionThresholdConfig, parseThresholdConfig } from "./thresholds.js";
export type {
  ContainerStats,
  EventObjectRef,
  EventRecorder,
  EvictionEvent,
  EvictionPod,
  EvictionResource,
  EvictionStatus,
  FsStats,
  KillRequest,
  MemoryStats,
  NodeStats,
  PodCondition,
  PodContainer,
  PodKiller,
  PodProvider,
  PodStats,
  PressureCondition,
  ReclaimHooks,
  ResourceList,
  Signal,
  StatsProvider,
  StatsSummary,
  Threshold,
  ThresholdValue,
} from "./types.js";
