import {
  formatQuantity,
  parseGoDurationMs,
  parseQuantity,
  type Quantity,
  quantityValue,
} from "@kubenode/kube";
import { EvictionError } from "./errors.js";
import { SIGNALS, type Signal, type Threshold, type ThresholdValue } from "./types.js";

/**
 * Upstream's Linux default hard thresholds (KubeletConfiguration v1beta1 defaults).
 */
export const DEFAULT_EVICTION_HARD: Readonly<Record<string, string>> = Object.freeze({
  "memory.available": "100Mi",
  "nodefs.available": "10%",
  "nodefs.inodesFree": "5%",
  "imagefs.available": "15%",
  "imagefs.inodesFree": "5%",
});

/** Upstream default evictionPressureTransitionPeriod: 5 minutes. */
export const DEFAULT_PRESSURE_TRANSITION_PERIOD_MS = 5 * 60_000;

/** Upstream default eviction monitoring interval (housekeeping): 10 seconds. */
export const DEFAULT_MONITORING_INTERVAL_MS = 10_000;

/** A setting given either in kubelet flag syntax or as a KubeletConfiguration map. */
export type ThresholdSetting = string | Readonly<Record<string, string>>;

/**
 * Eviction settings as the kubelet takes them (flags or KubeletConfiguration fields).
 */
export interface EvictionThresholdConfig {
  /** `memory.available<100Mi,nodefs.available<10%` or `{ "memory.available": "100Mi" }`. Undefined: defaults. */
  evictionHard?: ThresholdSetting;
  /** Soft thresholds; each needs a grace period in evictionSoftGracePeriod. */
  evictionSoft?: ThresholdSetting;
  /** `memory.available=1m30s` or `{ "memory.available": "1m30s" }`. */
  evictionSoftGracePeriod?: ThresholdSetting;
  /** `memory.available=500Mi` or `{ "nodefs.available": "5%" }`. */
  evictionMinimumReclaim?: ThresholdSetting;
  /**
   * When evictionHard names only some signals, keep the defaults for the others.
   * Our default is `true`. Upstream's field of the same name defaults to `false`, which silently
   * drops every other default hard threshold when one is set (kubernetes/kubernetes#119985).
   * Set `false` for the exact upstream behaviour. A default can still be switched off
   * explicitly with `0%` (0% and 100% are ignored, as upstream does).
   */
  mergeDefaultEvictionSettings?: boolean;
  /**
   * enforceNodeAllocatable; when it contains "pods", every hard memory.available threshold is
   * copied to allocatableMemory.available (mirrors kubelet's addAllocatableThresholds).
   */
  enforceNodeAllocatable?: readonly string[];
}

const SIGNAL_SET: ReadonlySet<string> = new Set(SIGNALS);

function assertSignal(signal: string, context: string): asserts signal is Signal {
  if (!SIGNAL_SET.has(signal)) {
    throw new EvictionError(
      "InvalidThreshold",
      `unsupported eviction signal ${JSON.stringify(signal)} in ${context}; supported: ${SIGNALS.join(", ")}`,
    );
  }
}

/**
 * Splits flag syntax into a map. `separator` is "<" for thresholds and "=" for grace periods and
 * minimum reclaims. Rejects any other comparison operator with a message that says so.
 */
export function parseSettingString(text: string, separator: "<" | "=", what: string): Record<string, string> {
  const out: Record<string, string> = {};
  const trimmed = text.trim();
  if (trimmed === "") return out;
  for (const raw of trimmed.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const idx = item.indexOf(separator);
    if (idx <= 0 || idx === item.length - 1) {
      const hint =
        separator === "<"
          ? /[>=]/.test(item)
            ? `only the "<" operator is supported, e.g. memory.available<100Mi`
            : `expected signal<quantity or signal<percent%, e.g. nodefs.available<10%`
          : `expected signal=value, e.g. memory.available=${what.includes("grace") ? "1m30s" : "500Mi"}`;
      throw new EvictionError(
        "InvalidThreshold",
        `invalid ${what} statement ${JSON.stringify(item)}: ${hint}`,
      );
    }
    const key = item.slice(0, idx).trim();
    const value = item.slice(idx + 1).trim();
    if (separator === "<" && /[<>=]/.test(value)) {
      throw new EvictionError(
        "InvalidThreshold",
        `invalid ${what} statement ${JSON.stringify(item)}: only the "<" operator is supported, e.g. memory.available<100Mi`,
      );
    }
    out[key] = value;
  }
  return out;
}

function toMap(
  setting: ThresholdSetting | undefined,
  separator: "<" | "=",
  what: string,
): Record<string, string> | undefined {
  if (setting === undefined) return undefined;
  if (typeof setting === "string") return parseSettingString(setting, separator, what);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(setting)) {
    if (typeof v !== "string") {
      throw new EvictionError(
        "InvalidThreshold",
        `invalid ${what} for ${JSON.stringify(k)}: expected a string, got ${typeof v}`,
      );
    }
    out[k] = v;
  }
  return out;
}

function parsePercentage(signal: string, value: string, what: string): number {
  const body = value.slice(0, -1);
  const n = Number(body);
  if (body.trim() === "" || !Number.isFinite(n)) {
    throw new EvictionError(
      "InvalidThreshold",
      `invalid ${what} for ${signal}: ${JSON.stringify(value)} is not a percentage`,
    );
  }
  // Upstream parses into a float32 and divides in float32; mirror that so percentages of large
  // capacities round the same way.
  return Math.fround(Math.fround(n) / 100);
}

/**
 * Parses one threshold value for a signal. Returns undefined for 0% and 100%, which upstream ignores.
 * @throws EvictionError InvalidThreshold for unknown signals, percentages outside 0..100%, non-positive
 *   quantities and anything that is not a quantity.
 */
export function parseThresholdValue(signal: string, value: string): ThresholdValue | undefined {
  assertSignal(signal, "eviction threshold");
  const v = value.trim();
  if (v.endsWith("%")) {
    if (v === "0%" || v === "100%") return undefined;
    const p = parsePercentage(signal, v, "eviction threshold");
    if (p < 0)
      throw new EvictionError(
        "InvalidThreshold",
        `eviction percentage threshold ${signal} must be >= 0%: ${v}`,
      );
    if (p > 1)
      throw new EvictionError(
        "InvalidThreshold",
        `eviction percentage threshold ${signal} must be <= 100%: ${v}`,
      );
    return { percentage: p };
  }
  let q: Quantity;
  try {
    q = parseQuantity(v);
  } catch (err) {
    throw new EvictionError(
      "InvalidThreshold",
      `invalid eviction threshold ${signal}<${v}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (quantityValue(q) <= 0)
    throw new EvictionError("InvalidThreshold", `eviction threshold ${signal} must be positive: ${v}`);
  return { quantity: quantityValue(q), format: q.format };
}

function parseMinimumReclaimValue(signal: string, value: string): ThresholdValue {
  assertSignal(signal, "evictionMinimumReclaim");
  const v = value.trim();
  if (v.endsWith("%")) {
    const p = parsePercentage(signal, v, "evictionMinimumReclaim");
    if (p <= 0)
      throw new EvictionError(
        "InvalidThreshold",
        `eviction percentage minimum reclaim ${signal} must be positive: ${v}`,
      );
    if (p > 1)
      throw new EvictionError(
        "InvalidThreshold",
        `eviction percentage minimum reclaim ${signal} must be <= 100%: ${v}`,
      );
    return { percentage: p };
  }
  let q: Quantity;
  try {
    q = parseQuantity(v);
  } catch (err) {
    throw new EvictionError(
      "InvalidThreshold",
      `invalid evictionMinimumReclaim for ${signal}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (q.amount < 0)
    throw new EvictionError("InvalidThreshold", `negative eviction minimum reclaim specified for ${signal}`);
  return { quantity: quantityValue(q), format: q.format };
}

/**
 * Turns kubelet eviction settings into thresholds, with upstream validation and messages.
 * Order: hard thresholds, then soft, then allocatable copies; within each, the order given.
 * @throws EvictionError InvalidThreshold / InvalidConfig (soft threshold without a grace period).
 */
export function parseThresholdConfig(config: EvictionThresholdConfig = {}): Threshold[] {
  const merge = config.mergeDefaultEvictionSettings ?? true;
  const userHard = toMap(config.evictionHard, "<", "eviction threshold");
  let hard: Record<string, string>;
  if (userHard === undefined) hard = { ...DEFAULT_EVICTION_HARD };
  else if (merge) hard = { ...DEFAULT_EVICTION_HARD, ...userHard };
  else hard = userHard;
  const soft = toMap(config.evictionSoft, "<", "eviction threshold") ?? {};
  const grace = toMap(config.evictionSoftGracePeriod, "=", "eviction grace period") ?? {};
  const reclaim = toMap(config.evictionMinimumReclaim, "=", "evictionMinimumReclaim") ?? {};

  const gracePeriods = new Map<Signal, number>();
  for (const [signal, value] of Object.entries(grace)) {
    assertSignal(signal, "evictionSoftGracePeriod");
    let ms: number;
    try {
      ms = parseGoDurationMs(value);
    } catch (err) {
      throw new EvictionError(
        "InvalidThreshold",
        `invalid eviction grace period for ${signal}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (ms < 0) {
      throw new EvictionError(
        "InvalidThreshold",
        `invalid eviction grace period specified: ${value}, must be a positive value`,
      );
    }
    gracePeriods.set(signal, ms);
  }
  const minReclaims = new Map<Signal, ThresholdValue>();
  for (const [signal, value] of Object.entries(reclaim)) {
    minReclaims.set(signal as Signal, parseMinimumReclaimValue(signal, value));
  }

  const results: Threshold[] = [];
  const add = (signal: Signal, value: ThresholdValue, gracePeriodMs: number) => {
    const minReclaim = minReclaims.get(signal);
    results.push({
      signal,
      operator: "LessThan",
      value,
      gracePeriodMs,
      ...(minReclaim === undefined ? {} : { minReclaim }),
    });
  };
  for (const [signal, value] of Object.entries(hard)) {
    const parsed = parseThresholdValue(signal, value);
    if (parsed) add(signal as Signal, parsed, 0);
  }
  for (const [signal, value] of Object.entries(soft)) {
    const parsed = parseThresholdValue(signal, value);
    const period = gracePeriods.get(signal as Signal);
    if (period === undefined) {
      throw new EvictionError(
        "InvalidConfig",
        `grace period must be specified for the soft eviction threshold ${signal} (set evictionSoftGracePeriod, e.g. ${signal}=1m30s)`,
      );
    }
    if (parsed) add(signal as Signal, parsed, period);
  }
  if (config.enforceNodeAllocatable?.includes("pods")) {
    for (const t of [...results]) {
      if (t.signal === "memory.available" && t.gracePeriodMs === 0) {
        results.push({
          signal: "allocatableMemory.available",
          operator: "LessThan",
          value: t.value,
          gracePeriodMs: 0,
          ...(t.minReclaim === undefined ? {} : { minReclaim: t.minReclaim }),
        });
      }
    }
  }
  return results;
}

/**
 * Adds containerfs.* thresholds copied from nodefs (one filesystem, or a split writable layer) or
 * from imagefs (a dedicated image filesystem holding writable layers); user containerfs settings are
 * replaced, as upstream's UpdateContainerFsThresholds does.
 */
export function withContainerFsThresholds(
  thresholds: readonly Threshold[],
  dedicatedImageFs: boolean,
  splitContainerImageFs = false,
): Threshold[] {
  const kept = thresholds.filter(
    (t) => t.signal !== "containerfs.available" && t.signal !== "containerfs.inodesFree",
  );
  const source = dedicatedImageFs && !splitContainerImageFs ? "imagefs" : "nodefs";
  const copies: Threshold[] = [];
  for (const t of kept) {
    if (t.signal === `${source}.available`) copies.push({ ...t, signal: "containerfs.available" });
    if (t.signal === `${source}.inodesFree`) copies.push({ ...t, signal: "containerfs.inodesFree" });
  }
  return [...kept, ...copies];
}

/** Threshold quantity for a capacity: the quantity, or capacity x percentage (truncated). */
export function thresholdQuantity(value: ThresholdValue, capacity: number): number {
  if (value.quantity !== undefined) return value.quantity;
  return Math.trunc(capacity * value.percentage);
}

/** Hard thresholds have no grace period. */
export function isHardThreshold(t: Threshold): boolean {
  return t.gracePeriodMs === 0;
}

/** Human-readable form, e.g. `memory.available<100Mi` or `nodefs.available<10% (soft, 1m30s)`. */
export function formatThreshold(t: Threshold): string {
  const v =
    t.value.quantity !== undefined
      ? formatQuantity(t.value.quantity, t.value.format ?? "BinarySI")
      : `${Math.round(t.value.percentage * 10000) / 100}%`;
  return `${t.signal}<${v}${t.gracePeriodMs > 0 ? ` (soft, ${t.gracePeriodMs / 1000}s)` : ""}`;
}
