export { EvictionError, type EvictionErrorCode } from "./errors.js";
export {
  type CgroupMemory,
  type CgroupMode,
  detectCgroupMode,
  readCgroupMemory,
} from "./host/cgroup.js";
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
  IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS,
  POD_CLEANUP_TIMEOUT_MS,
  type SynchronizeResult,
  type ThresholdNotifier,
} from "./manager.js";
export {
  EVICTED_REASON,
  evictionMessage,
  nodeConditionMessage,
  OFFENDING_CONTAINERS_KEY,
  OFFENDING_CONTAINERS_USAGE_KEY,
  type PressureNodeCondition,
  pressureNodeConditions,
  STARVED_RESOURCE_KEY,
} from "./messages.js";
export {
  createMemoryThresholdNotifier,
  createMemoryThresholdNotifiers,
  type MemoryThresholdNotifierOptions,
} from "./notifier.js";
export {
  isBestEffort,
  isCriticalPod,
  isMirrorPod,
  isStaticPod,
  podPriority,
  podQos,
  podRequest,
} from "./pod.js";
export {
  buildSignalToRankFunc,
  type FsStatsType,
  type RankFunc,
  rankDiskPressureFunc,
  rankMemoryPressure,
  rankPIDPressure,
} from "./ranking.js";
export {
  makeSignalObservations,
  podStatsLookup,
  SIGNAL_TO_CONDITION,
  SIGNAL_TO_RESOURCE,
  type SignalObservation,
  type SignalObservations,
  type StatsLookup,
  thresholdsMet,
} from "./signals.js";
export {
  DEFAULT_EVICTION_HARD,
  DEFAULT_MONITORING_INTERVAL_MS,
  DEFAULT_PRESSURE_TRANSITION_PERIOD_MS,
  type EvictionThresholdConfig,
  formatThreshold,
  isHardThreshold,
  parseThresholdConfig,
  parseThresholdValue,
  type ThresholdSetting,
  thresholdQuantity,
  withContainerFsThresholds,
} from "./thresholds.js";
export {
  type ContainerStats,
  type EventObjectRef,
  type EventRecorder,
  type EvictionEvent,
  type EvictionPod,
  type EvictionResource,
  type EvictionStatus,
  type FsStats,
  type KillRequest,
  type MemoryStats,
  type NodeStats,
  type PodCondition,
  type PodContainer,
  type PodKiller,
  type PodProvider,
  type PodStats,
  type PressureCondition,
  type ReclaimHooks,
  type ResourceList,
  SIGNALS,
  type Signal,
  type StatsProvider,
  type StatsSummary,
  type Threshold,
  type ThresholdValue,
} from "./types.js";
