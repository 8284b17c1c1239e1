/**
 * `@kubenode/eviction/internals`: the pieces the manager is built from, for tests, simulators and
 * advanced users who assemble their own loop. Upstream keeps these private to the eviction
 * manager; they may change in a minor release. What a node agent composes is the main entry.
 */
export { type CgroupMemory, readCgroupMemory } from "./host/cgroup.js";
export { IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS, POD_CLEANUP_TIMEOUT_MS } from "./manager.js";
export {
  evictionMessage,
  nodeConditionMessage,
  OFFENDING_CONTAINERS_KEY,
  OFFENDING_CONTAINERS_USAGE_KEY,
  type PressureNodeCondition,
  pressureNodeConditions,
  STARVED_RESOURCE_KEY,
} from "./messages.js";
export {
  isBestEffort,
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
  type StatsLookup,
  thresholdsMet,
} from "./signals.js";
export {
  DEFAULT_MONITORING_INTERVAL_MS,
  DEFAULT_PRESSURE_TRANSITION_PERIOD_MS,
  formatThreshold,
  isHardThreshold,
  parseThresholdValue,
  type ThresholdSetting,
  thresholdQuantity,
  withContainerFsThresholds,
} from "./thresholds.js";
export { SIGNALS } from "./types.js";
