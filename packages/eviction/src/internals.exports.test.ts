// The public surface of @kubenode/eviction/internals: changes only on purpose (update the list and add a changeset).
import { publicSurface } from "@kubenode/vitest-config/exports";
import { expect, it } from "vitest";
import * as entry from "./internals.js";

it("exports exactly the reviewed names", () => {
  expect(publicSurface(new URL("./internals.ts", import.meta.url), entry)).toEqual(EXPECTED);
});

const EXPECTED: string[] = [
  "buildSignalToRankFunc",
  "type CgroupMemory",
  "DEFAULT_MONITORING_INTERVAL_MS",
  "DEFAULT_PRESSURE_TRANSITION_PERIOD_MS",
  "evictionMessage",
  "formatThreshold",
  "type FsStatsType",
  "IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS",
  "isBestEffort",
  "isHardThreshold",
  "isMirrorPod",
  "isStaticPod",
  "makeSignalObservations",
  "nodeConditionMessage",
  "OFFENDING_CONTAINERS_KEY",
  "OFFENDING_CONTAINERS_USAGE_KEY",
  "parseThresholdValue",
  "POD_CLEANUP_TIMEOUT_MS",
  "podPriority",
  "podQos",
  "podRequest",
  "podStatsLookup",
  "type PressureNodeCondition",
  "pressureNodeConditions",
  "rankDiskPressureFunc",
  "type RankFunc",
  "rankMemoryPressure",
  "rankPIDPressure",
  "readCgroupMemory",
  "SIGNAL_TO_CONDITION",
  "SIGNAL_TO_RESOURCE",
  "SIGNALS",
  "STARVED_RESOURCE_KEY",
  "type StatsLookup",
  "thresholdQuantity",
  "type ThresholdSetting",
  "thresholdsMet",
  "withContainerFsThresholds",
];
