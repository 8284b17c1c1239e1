import { type Clock, createRealClock, type Logger, silentLogger } from "@kubenode/kube";
import { type ConntrackCleaner, createConntrackCleaner, staleConntrackFilters } from "./conntrack.js";
import { NetrulesError } from "./errors.js";
import type { IPFamily } from "./ip.js";
import type { ProxyModel } from "./model.js";

/** Options every proxier takes besides its backend's. */
export interface ProxierOptions {
  /** Run the rule tools inside this named network namespace. */
  netns?: string | undefined;
  /**
   * Kill any tool this proxier runs (iptables-restore / nft, the flush probe, conntrack) that runs
   * longer than this, failing that sync with `Timeout`: a hung tool must not stall every later
   * sync. Default 120 000 (a full upstream-layout nft transaction at 10k services takes ~95 s).
   */
  timeoutMs?: number | undefined;
  /**
   * Delete stale UDP/SCTP conntrack entries after each sync. Default true. A failed deletion is
   * logged and does not fail the sync (the rules are programmed by then), as kube-proxy does.
   */
  conntrack?: boolean | undefined;
  /**
   * Where a flushed ruleset (before the resync) and failures that do not fail a sync (conntrack
   * cleanup) are reported. Default: silent.
   */
  logger?: Logger | undefined;
  /**
   * How often to probe for a flushed ruleset before a sync. Default 30 000: once per kube-proxy
   * syncPeriod, as kube-proxy does (at 10k services each probe is an extra tool run). 0 probes
   * before every sync.
   */
  flushCheckIntervalMs?: number | undefined;
  /**
   * Time for `flushCheckIntervalMs`, and the timer that kills a tool after `timeoutMs`. Default: the
   * wall clock. With a fake clock, a tool's timeout fires only when the test steps time.
   */
  clock?: Clock | undefined;
}

/** kube-proxy's default syncPeriod, how often it checks its canary. */
export const DEFAULT_FLUSH_CHECK_INTERVAL_MS = 30_000;

/** Decides when a proxier probes for a flushed ruleset (its canary). */
export interface FlushCheck {
  /** True when a probe is due now (never before the first sync). */
  due(started: boolean): boolean;
  /** A full sync has just rewritten everything: the next probe can wait a whole interval. */
  reset(): void;
}

export function createFlushCheck(
  options: Pick<ProxierOptions, "flushCheckIntervalMs" | "clock">,
): FlushCheck {
  const intervalMs = options.flushCheckIntervalMs ?? DEFAULT_FLUSH_CHECK_INTERVAL_MS;
  const clock = options.clock ?? createRealClock();
  const now = () => clock.now();
  let last = Number.NEGATIVE_INFINITY;
  return {
    due(started) {
      if (!started) return false;
      const t = now();
      if (t - last < intervalMs) return false;
      last = t;
      return true;
    },
    reset() {
      last = now();
    },
  };
}

/** What one proxier `sync` did. */
export interface ProxierSyncReport {
  full: boolean;
  /** True when the canary was missing (ruleset flushed by someone else) and everything was rewritten. */
  recoveredFromFlush: boolean;
  changedServicePorts: number;
  lines: number;
  conntrackFlowsDeleted: number;
  applyMs: number;
}

type Signal = { signal?: AbortSignal };

/** The mode-specific steps of a proxier; the loop around them is {@link createProxierSync}. */
export interface ProxierSteps<R extends { full: boolean; changedServicePorts: number; lines: number }> {
  family: IPFamily;
  /** False when someone flushed the rules this proxier installed (its canary is gone). */
  rulesIntact(opts: Signal): Promise<boolean>;
  /** Generates the payload for `model` (everything when `full`), preparing the kernel side if needed. */
  generate(model: ProxyModel, full: boolean, opts: Signal): Promise<R>;
  apply(result: R, opts: Signal): Promise<void>;
  /** Forget what was applied: the next generate must be full. */
  invalidate(): void;
}

/**
 * One sync step as kube-proxy's proxiers do it, for any mode: full on first use, when asked, or
 * after the rules were flushed; an apply failure invalidates the backend so the next sync is
 * full; stale UDP/SCTP conntrack entries are deleted afterwards.
 */
export function createProxierSync<R extends { full: boolean; changedServicePorts: number; lines: number }>(
  options: ProxierOptions,
  steps: ProxierSteps<R>,
  /** Tests: a stand-in for the `conntrack` tool. */
  cleaner: ConntrackCleaner = createConntrackCleaner({
    netns: options.netns,
    timeoutMs: options.timeoutMs,
    clock: options.clock,
  }),
): (model: ProxyModel, opts?: { full?: boolean; signal?: AbortSignal }) => Promise<ProxierSyncReport> {
  const logger = options.logger ?? silentLogger;
  const flushCheck = createFlushCheck(options);
  let started = false;
  let previous: ProxyModel | undefined;
  return async (model, opts = {}) => {
    const s: Signal = opts.signal ? { signal: opts.signal } : {};
    let full = opts.full === true || !started;
    let recoveredFromFlush = false;
    if (flushCheck.due(started) && !(await steps.rulesIntact(s))) {
      // Mirrors kube-proxy's canary check: someone flushed our rules, so rewrite them all.
      logger.warn("Proxy rules were flushed (canary missing); doing a full resync", {
        ipFamily: steps.family,
      });
      full = true;
      recoveredFromFlush = true;
    }
    const result = await steps.generate(model, full, s);
    const t0 = performance.now();
    try {
      await steps.apply(result, s);
    } catch (err) {
      steps.invalidate();
      throw err;
    }
    const applyMs = performance.now() - t0;
    started = true;
    if (result.full) flushCheck.reset();
    let conntrackFlowsDeleted = 0;
    if (options.conntrack !== false) {
      const filters = staleConntrackFilters(previous, model).filter((f) => f.family === steps.family);
      try {
        conntrackFlowsDeleted = await cleaner.clear(filters, s);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        // Mirrors kube-proxy (pkg/proxy/conntrack/cleanup.go, CleanStaleEntries): the rules are in
        // place, so a failed deletion is logged ("Failed to clear all conntrack entries") and the
        // sync stands; the stale UDP/SCTP flows then last until their conntrack timeout.
        logger.error("Failed to delete stale conntrack entries", NetrulesError.from(err), {
          ipFamily: steps.family,
          filters: filters.length,
        });
      }
    }
    previous = model;
    return {
      full: result.full,
      recoveredFromFlush,
      changedServicePorts: result.changedServicePorts,
      lines: result.lines,
      conntrackFlowsDeleted,
      applyMs,
    };
  };
}
