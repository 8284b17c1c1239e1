import {
  type Clock,
  createRealClock,
  formatQuantity,
  type Logger,
  silentLogger,
  type TimerHandle,
} from "@kubenode/kube";
import { EvictionError } from "./errors.js";
import {
  EVICTED_REASON,
  evictionMessage,
  nodeConditionMessage,
  type PressureNodeCondition,
  pressureNodeConditions,
} from "./messages.js";
import {
  formatResource,
  isBestEffort,
  isCriticalPod,
  podKey,
  podLimit,
  resourceValue,
  toleratesTaint,
} from "./pod.js";
import { quoteGo } from "./quote.js";
import { buildSignalToRankFunc, type RankFunc } from "./ranking.js";
import {
  makeSignalObservations,
  podStatsLookup,
  SIGNAL_TO_CONDITION,
  SIGNAL_TO_RESOURCE,
  type SignalObservations,
  type StatsLookup,
  thresholdsMet,
} from "./signals.js";
import {
  DEFAULT_MONITORING_INTERVAL_MS,
  DEFAULT_PRESSURE_TRANSITION_PERIOD_MS,
  isHardThreshold,
  withContainerFsThresholds,
} from "./thresholds.js";
import type {
  EventRecorder,
  EvictionPod,
  EvictionResource,
  KillRequest,
  PodKiller,
  PodProvider,
  PodStats,
  PressureCondition,
  ReclaimHooks,
  Signal,
  StatsProvider,
  StatsSummary,
  Threshold,
} from "./types.js";

/** Grace period for hard evictions and local-storage limit evictions (kubelet: 1 s). */
export const IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS = 1;
/** How long the loop waits for an evicted pod to be cleaned up (kubelet: 30 s, polled every 1 s). */
export const POD_CLEANUP_TIMEOUT_MS = 30_000;
const POD_CLEANUP_POLL_MS = 1_000;
/** Notifier thresholds are refreshed at most this often (kubelet's notifierRefreshInterval). */
export const NOTIFIER_REFRESH_INTERVAL_MS = 10_000;
/** Default pod termination grace period when a pod sets none. */
const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;

/** Sub-second trigger for memory thresholds (see createMemoryThresholdNotifier). */
export interface ThresholdNotifier {
  readonly description: string;
  /** Re-arms the notifier from fresh stats. Called at most every 10 s from synchronize(). */
  updateThreshold(summary: StatsSummary): void | Promise<void>;
  /** Starts watching; `onCrossed` is called (possibly many times) when the threshold is crossed. */
  start(onCrossed: (reason: string) => void): void;
  stop(): void;
}

/** Options of createEvictionManager. */
export interface EvictionManagerOptions {
  /** From parseThresholdConfig(); may be empty (then only local-storage limits are enforced). */
  thresholds: readonly Threshold[];
  stats: StatsProvider;
  pods: PodProvider;
  killer: PodKiller;
  clock?: Clock | undefined;
  /** Node-level reclaim (container GC, image GC), tried before evicting for disk pressure. */
  reclaim?: ReclaimHooks | undefined;
  recorder?: EventRecorder | undefined;
  /** Node name for node events ("EvictionThresholdMet"). */
  nodeName?: string | undefined;
  /** evictionMaxPodGracePeriod for soft evictions. Default 0. Negative: use the pod's own grace period. */
  maxPodGracePeriodSeconds?: number | undefined;
  /** evictionPressureTransitionPeriod. Default 5 min. */
  pressureTransitionPeriodMs?: number | undefined;
  /** Loop period. Default 10 s. */
  monitoringIntervalMs?: number | undefined;
  /** Whether images live on their own filesystem; a function is asked once, on the first cycle. */
  dedicatedImageFs?: boolean | (() => boolean | Promise<boolean>) | undefined;
  /** Whether writable layers live apart from images (KubeletSeparateDiskGC layout). */
  splitContainerImageFs?: boolean | undefined;
  /** Enforce emptyDir sizeLimit and ephemeral-storage limits. Default true (as upstream). */
  localStorageCapacityIsolation?: boolean | undefined;
  /** Whether an evicted pod is fully cleaned up; the loop waits for it up to 30 s. */
  podCleanedUp?: ((pod: EvictionPod) => boolean | Promise<boolean>) | undefined;
  /** Memory threshold notifiers for sub-second reaction; started with start(). */
  notifiers?: readonly ThresholdNotifier[] | undefined;
  /** Where the manager's records go (kubenode's one Logger). Default: dropped. */
  logger?: Logger | undefined;
}

/** What one synchronize() did. */
export interface SynchronizeResult {
  /** Pods handed to the killer this cycle (at most one, unless local-storage limits were violated). */
  evicted: EvictionPod[];
  /** Thresholds met with their grace periods satisfied. */
  thresholds: Threshold[];
  /** Pressure conditions now reported. */
  conditions: PressureCondition[];
  observations: SignalObservations;
  /** Resource the cycle tried to reclaim, if any threshold drove eviction. */
  resourceToReclaim?: EvictionResource;
  /** Node-level reclaim freed enough, so no pod was evicted. */
  reclaimedByNode?: boolean;
}

/** Outcome of admit(). */
export type AdmitResult = { admit: true } | { admit: false; reason: "Evicted"; message: string };

/** The eviction manager: the 10 s loop plus the outputs other components read. */
export interface EvictionManager {
  /** Runs one cycle (mirrors kubelet's synchronize). Cycles never overlap. */
  synchronize(): Promise<SynchronizeResult>;
  /** Starts the loop and the notifiers. */
  start(): void;
  /** Stops the loop and notifiers; resolves once any in-flight cycle has finished. */
  stop(): Promise<void>;
  /** Admission check for a new pod (mirrors kubelet's eviction admit handler). */
  admit(pod: EvictionPod): AdmitResult;
  /** Pressure conditions currently reported. */
  conditions(): PressureCondition[];
  /** MemoryPressure / DiskPressure / PIDPressure with kubelet reasons and messages, for node-status. */
  nodeConditions(): PressureNodeCondition[];
  isUnderMemoryPressure(): boolean;
  isUnderDiskPressure(): boolean;
  isUnderPIDPressure(): boolean;
  /** Observations of the last cycle. */
  lastObservations(): SignalObservations;
  /** The thresholds in force (containerfs copies added once the filesystem layout is known). */
  thresholds(): readonly Threshold[];
}

const CONDITION_ORDER: readonly PressureCondition[] = ["MemoryPressure", "DiskPressure", "PIDPressure"];

function isMemorySignal(s: Signal): boolean {
  return s === "memory.available" || s === "allocatableMemory.available";
}

/**
 * Creates an eviction manager with kubelet semantics: thresholds with grace periods and minimum
 * reclaim, pressure conditions with a transition period, node-level reclaim before pod eviction,
 * ranked eviction of at most one pod per cycle, critical pods never evicted.
 */
export function createEvictionManager(options: EvictionManagerOptions): EvictionManager {
  const clock = options.clock ?? createRealClock();
  const maxPodGrace = options.maxPodGracePeriodSeconds ?? 0;
  const transitionMs = options.pressureTransitionPeriodMs ?? DEFAULT_PRESSURE_TRANSITION_PERIOD_MS;
  const intervalMs = options.monitoringIntervalMs ?? DEFAULT_MONITORING_INTERVAL_MS;
  const localStorage = options.localStorageCapacityIsolation ?? true;
  const logger = options.logger ?? silentLogger;
  const notifiers = options.notifiers ?? [];
  if (!(intervalMs > 0))
    throw new EvictionError("InvalidConfig", `monitoringIntervalMs must be > 0, got ${intervalMs}`);
  if (!(transitionMs >= 0)) {
    throw new EvictionError("InvalidConfig", `pressureTransitionPeriodMs must be >= 0, got ${transitionMs}`);
  }

  let thresholds: readonly Threshold[] = [...options.thresholds];
  let dedicatedImageFs: boolean | undefined;
  let rankFuncs = new Map<Signal, RankFunc>();
  let nodeConditions: PressureCondition[] = [];
  let thresholdsFirstObservedAt = new Map<Threshold, number>();
  let conditionsLastObservedAt = new Map<PressureCondition, number>();
  let metThresholds: Threshold[] = [];
  let lastObservations: SignalObservations = new Map();
  let thresholdsLastUpdatedMs = Number.NEGATIVE_INFINITY;
  // Aborted by stop(), so a stats provider honouring the signal does not hold up shutdown.
  let abort: AbortController | undefined;

  const nodeRef = { kind: "Node" as const, name: options.nodeName ?? "" };

  async function ensureLayout(): Promise<void> {
    if (dedicatedImageFs !== undefined) return;
    const d = options.dedicatedImageFs;
    const value = typeof d === "function" ? await d() : (d ?? false);
    dedicatedImageFs = value;
    const split = options.splitContainerImageFs ?? false;
    thresholds = withContainerFsThresholds(thresholds, value, split);
    rankFuncs = buildSignalToRankFunc(value, split);
  }

  function gracePeriodFor(pod: EvictionPod, t: Threshold): number {
    if (isHardThreshold(t)) return IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS;
    const own = pod.spec?.terminationGracePeriodSeconds;
    // Mirrors kubelet: soft evictions use evictionMaxPodGracePeriod, capped by the pod's own period.
    // A negative maximum defers to the pod (the documented meaning of the flag).
    if (maxPodGrace < 0) return own ?? DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
    return own === undefined ? maxPodGrace : Math.min(maxPodGrace, own);
  }

  async function evictPod(
    pod: EvictionPod,
    gracePeriodSeconds: number,
    message: string,
    signal: KillRequest["signal"],
    annotations: Record<string, string>,
    withCondition: boolean,
  ): Promise<boolean> {
    if (isCriticalPod(pod)) {
      logger.error("eviction manager: cannot evict a critical pod", undefined, { pod: podKey(pod) });
      return false;
    }
    options.recorder?.record({
      involvedObject: {
        kind: "Pod",
        name: pod.metadata?.name ?? "",
        ...(pod.metadata?.namespace === undefined ? {} : { namespace: pod.metadata.namespace }),
        ...(pod.metadata?.uid === undefined ? {} : { uid: pod.metadata.uid }),
      },
      type: "Warning",
      reason: EVICTED_REASON,
      message,
      annotations,
    });
    try {
      await options.killer.killPod({
        pod,
        gracePeriodSeconds,
        signal,
        annotations,
        status: {
          phase: "Failed",
          reason: EVICTED_REASON,
          message,
          conditions: withCondition
            ? [{ type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet", message }]
            : [],
        },
      });
      logger.info("eviction manager: pod is evicted successfully", { pod: podKey(pod) });
    } catch (err) {
      // Mirrors kubelet: a failed kill is logged and still counts as this cycle's eviction.
      logger.error(
        "eviction manager: pod failed to evict",
        new EvictionError("KillFailed", String(err), { cause: err }),
        {
          pod: podKey(pod),
        },
      );
    }
    return true;
  }

  async function localStorageEviction(
    pods: readonly EvictionPod[],
    stats: StatsLookup,
  ): Promise<EvictionPod[]> {
    const evicted: EvictionPod[] = [];
    for (const pod of pods) {
      const s = stats(pod.metadata?.uid);
      if (!s) continue;
      // Checked synchronously: only a violation costs an await.
      const violation =
        emptyDirViolation(s, pod) ?? podEphemeralViolation(s, pod) ?? containerEphemeralViolation(s, pod);
      if (
        violation &&
        (await evictPod(pod, IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS, violation[1], violation[0], {}, false))
      ) {
        evicted.push(pod);
      }
    }
    return evicted;
  }

  type Violation = [KillRequest["signal"], string];

  function emptyDirViolation(s: PodStats, pod: EvictionPod): Violation | undefined {
    const volumes = pod.spec?.volumes;
    if (!volumes || !s.volumes) return undefined;
    for (const vol of volumes) {
      const limitRaw = vol.emptyDir?.sizeLimit;
      if (limitRaw === undefined) continue;
      const limit = resourceValue(limitRaw);
      const u = s.volumes.find((v) => v.name === vol.name)?.usedBytes;
      if (u !== undefined && limit > 0 && u > limit) {
        return [
          "emptydirfs.limit",
          `Usage of EmptyDir volume ${quoteGo(vol.name)} exceeds the limit ${quoteGo(formatResource(limitRaw))}. `,
        ];
      }
    }
    return undefined;
  }

  function podEphemeralViolation(s: PodStats, pod: EvictionPod): Violation | undefined {
    const limit = podLimit(pod, "ephemeral-storage");
    if (limit === undefined) return undefined;
    if ((s.ephemeralStorageUsedBytes ?? 0) > limit) {
      return [
        "ephemeralpodfs.limit",
        `Pod ephemeral local storage usage exceeds the total limit of containers ${formatQuantity(limit, "BinarySI")}. `,
      ];
    }
    return undefined;
  }

  function containerEphemeralViolation(s: PodStats, pod: EvictionPod): Violation | undefined {
    if (!s.containers) return undefined;
    for (const c of pod.spec?.containers ?? []) {
      const raw = c.resources?.limits?.["ephemeral-storage"];
      if (raw === undefined) continue;
      const limit = resourceValue(raw);
      if (limit === 0) continue;
      const cs = s.containers.find((x) => x.name === c.name);
      if (!cs) continue;
      let used = cs.logs?.usedBytes ?? 0;
      if (!dedicatedImageFs) used += cs.rootfs?.usedBytes ?? 0;
      if (limit < used) {
        return [
          "ephemeralcontainerfs.limit",
          `Container ${cs.name} exceeded its local ephemeral storage limit ${quoteGo(formatResource(raw))}. `,
        ];
      }
    }
    return undefined;
  }

  async function reclaimNodeLevelResources(signal: Signal, resource: EvictionResource): Promise<boolean> {
    const hooks = reclaimHooksFor(signal);
    if (hooks.length === 0) return false;
    for (const hook of hooks) {
      try {
        await hook();
      } catch (err) {
        logger.error("eviction manager: unexpected error when attempting to reduce resource pressure", err, {
          resource,
        });
      }
    }
    let summary: StatsSummary;
    try {
      summary = await options.stats.getSummary(abort?.signal);
    } catch (err) {
      logger.error("eviction manager: failed to get summary stats after resource reclaim", err);
      return false;
    }
    const obs = makeSignalObservations(summary);
    return thresholdsMet(thresholds, obs, true).length === 0;
  }

  function reclaimHooksFor(signal: Signal): Array<() => Promise<void>> {
    const r = options.reclaim;
    if (!r) return [];
    const containers = r.deleteAllUnusedContainers?.bind(r);
    const images = r.deleteUnusedImages?.bind(r);
    const split = options.splitContainerImageFs ?? false;
    const disk = (list: Array<(() => Promise<void>) | undefined>) => list.filter((f) => f !== undefined);
    // Mirrors kubelet's buildSignalToNodeReclaimFuncs.
    if (dedicatedImageFs && !split) {
      if (signal.startsWith("nodefs.")) return [];
      if (signal.startsWith("imagefs.") || signal.startsWith("containerfs."))
        return disk([containers, images]);
    } else if (dedicatedImageFs && split) {
      if (signal.startsWith("imagefs.")) return disk([images]);
      if (signal.startsWith("nodefs.") || signal.startsWith("containerfs.")) return disk([containers]);
    } else if (
      signal.startsWith("nodefs.") ||
      signal.startsWith("imagefs.") ||
      signal.startsWith("containerfs.")
    ) {
      return disk([containers, images]);
    }
    return [];
  }

  async function doSynchronize(): Promise<SynchronizeResult> {
    const empty = (): SynchronizeResult => ({
      evicted: [],
      thresholds: [],
      conditions: [...nodeConditions],
      observations: lastObservations,
    });
    if (thresholds.length === 0 && !localStorage) return empty();
    await ensureLayout();
    const activePods = [...(await options.pods.activePods())];
    let summary: StatsSummary;
    try {
      summary = await options.stats.getSummary(abort?.signal);
    } catch (err) {
      logger.error(
        "eviction manager: failed to get summary stats",
        EvictionError.from(err, "StatsUnavailable"),
      );
      return empty();
    }

    if (notifiers.length > 0 && clock.now() - thresholdsLastUpdatedMs > NOTIFIER_REFRESH_INTERVAL_MS) {
      thresholdsLastUpdatedMs = clock.now();
      for (const n of notifiers) {
        try {
          await n.updateThreshold(summary);
        } catch (err) {
          logger.error("eviction manager: failed to update notifier", err, { notifier: n.description });
        }
      }
    }

    const observations = makeSignalObservations(summary);
    const stats = podStatsLookup(summary.pods);

    // Thresholds met now, plus those met before whose minimum reclaim is not yet satisfied.
    const met = thresholdsMet(thresholds, observations, false);
    if (metThresholds.length > 0) {
      for (const t of thresholdsMet(metThresholds, observations, true)) if (!met.includes(t)) met.push(t);
    }
    const now = clock.now();
    const firstObserved = new Map<Threshold, number>();
    for (const t of met) firstObserved.set(t, thresholdsFirstObservedAt.get(t) ?? now);

    const observedConditions = new Set<PressureCondition>();
    for (const t of met) observedConditions.add(SIGNAL_TO_CONDITION[t.signal]);
    const lastObserved = new Map(conditionsLastObservedAt);
    for (const c of observedConditions) lastObserved.set(c, now);
    // A condition stays reported until unseen for the whole transition period.
    const conditions = CONDITION_ORDER.filter((c) => {
      const at = lastObserved.get(c);
      return at !== undefined && now - at < transitionMs;
    });

    const graceMet: Threshold[] = [];
    for (const [t, at] of firstObserved) if (now - at >= t.gracePeriodMs) graceMet.push(t);

    nodeConditions = conditions;
    thresholdsFirstObservedAt = firstObserved;
    conditionsLastObservedAt = lastObserved;
    metThresholds = graceMet;

    // Only act on thresholds whose stats are newer than last cycle's.
    const previous = lastObservations;
    const updated = graceMet.filter((t) => {
      const o = observations.get(t.signal);
      if (!o) return false;
      const last = previous.get(t.signal);
      return !last || o.timeMs === undefined || last.timeMs === undefined || o.timeMs > last.timeMs;
    });
    lastObservations = observations;

    const result: SynchronizeResult = { evicted: [], thresholds: graceMet, conditions, observations };

    if (localStorage) {
      const evicted = await localStorageEviction(activePods, stats);
      if (evicted.length > 0) return { ...result, evicted };
    }
    if (updated.length === 0) return result;

    // Memory first; keep the configured order otherwise.
    const ordered = [...updated].sort(
      (a, b) => Number(isMemorySignal(b.signal)) - Number(isMemorySignal(a.signal)),
    );
    const toReclaim = ordered[0]!;
    const resource = SIGNAL_TO_RESOURCE[toReclaim.signal];
    result.resourceToReclaim = resource;
    logger.info("eviction manager: attempting to reclaim", { resource });
    options.recorder?.record({
      involvedObject: nodeRef,
      type: "Warning",
      reason: "EvictionThresholdMet",
      message: `Attempting to reclaim ${resource}`,
    });

    if (await reclaimNodeLevelResources(toReclaim.signal, resource)) {
      logger.info("eviction manager: able to reduce resource pressure without evicting pods", { resource });
      return { ...result, reclaimedByNode: true };
    }
    const rank = rankFuncs.get(toReclaim.signal);
    if (!rank || activePods.length === 0) {
      if (activePods.length === 0)
        logger.error("eviction manager: thresholds met, but no pods are active to evict");
      return result;
    }
    rank(activePods, stats);
    for (const pod of activePods) {
      const { message, annotations } = evictionMessage(resource, pod, stats, ordered, observations);
      if (await evictPod(pod, gracePeriodFor(pod, toReclaim), message, toReclaim.signal, annotations, true)) {
        return { ...result, evicted: [pod] };
      }
    }
    logger.info("eviction manager: unable to evict any pods from the node");
    return result;
  }

  // Serialise cycles: a notifier firing mid-cycle queues exactly one more cycle.
  let running: Promise<SynchronizeResult> | undefined;
  let rerun = false;
  function synchronize(): Promise<SynchronizeResult> {
    if (running) {
      rerun = true;
      return running;
    }
    running = doSynchronize().finally(() => {
      running = undefined;
    });
    return running;
  }

  // The loop.
  let started = false;
  let timer: TimerHandle | undefined;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      timer = clock.setTimeout(() => {
        timer = undefined;
        wakeUp = undefined;
        resolve();
      }, ms);
      wakeUp = () => {
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = undefined;
        wakeUp = undefined;
        resolve();
      };
    });

  async function waitForCleanup(pods: EvictionPod[]): Promise<void> {
    const check = options.podCleanedUp;
    if (!check) {
      // Without a cleanup check, still pause one poll period (kubelet's ticker fires after 1 s).
      await sleep(POD_CLEANUP_POLL_MS);
      return;
    }
    const deadline = clock.now() + POD_CLEANUP_TIMEOUT_MS;
    while (started && clock.now() < deadline) {
      await sleep(POD_CLEANUP_POLL_MS);
      if (!started) return;
      let all = true;
      for (const p of pods) {
        if (!(await check(p))) {
          all = false;
          break;
        }
      }
      if (all) return;
    }
    logger.info("eviction manager: timed out waiting for pods to be cleaned up");
  }

  async function runLoop(): Promise<void> {
    while (started) {
      let result: SynchronizeResult | undefined;
      try {
        result = await synchronize();
      } catch (err) {
        logger.error("eviction manager: failed to synchronize", err);
      }
      if (!started) break;
      if (rerun) {
        rerun = false;
        continue;
      }
      // Mirrors kubelet: after an eviction, wait for cleanup and go again without sleeping.
      if (result && result.evicted.length > 0) await waitForCleanup(result.evicted);
      else await sleep(intervalMs);
    }
  }

  const onCrossed = (reason: string) => {
    logger.info(reason);
    if (!started) return;
    if (running) rerun = true;
    else wakeUp?.();
  };

  const hasCondition = (c: PressureCondition) => nodeConditions.includes(c);

  return {
    synchronize,
    start() {
      if (started) return;
      started = true;
      abort = new AbortController();
      for (const n of notifiers) n.start(onCrossed);
      loop = runLoop();
    },
    async stop() {
      if (!started) return;
      started = false;
      for (const n of notifiers) n.stop();
      abort?.abort(new EvictionError("StatsUnavailable", "eviction manager stopped"));
      wakeUp?.();
      await loop;
      loop = undefined;
      abort = undefined;
    },
    admit(pod) {
      if (nodeConditions.length === 0) return { admit: true };
      // Critical pods are admitted under any pressure (kubernetes#40573).
      if (isCriticalPod(pod)) return { admit: true };
      if (nodeConditions.length === 1 && nodeConditions[0] === "MemoryPressure") {
        if (!isBestEffort(pod)) return { admit: true };
        if (toleratesTaint(pod, "node.kubernetes.io/memory-pressure")) return { admit: true };
      }
      return { admit: false, reason: "Evicted", message: nodeConditionMessage(nodeConditions) };
    },
    conditions: () => [...nodeConditions],
    nodeConditions: () => pressureNodeConditions(nodeConditions),
    isUnderMemoryPressure: () => hasCondition("MemoryPressure"),
    isUnderDiskPressure: () => hasCondition("DiskPressure"),
    isUnderPIDPressure: () => hasCondition("PIDPressure"),
    lastObservations: () => lastObservations,
    thresholds: () => thresholds,
  };
}
