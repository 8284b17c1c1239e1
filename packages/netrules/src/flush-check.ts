/** Options every proxier takes besides its backend's. */
export interface ProxierOptions {
  /** Run the rule tools inside this named network namespace. */
  netns?: string;
  /** Kill a rule tool that runs longer than this. */
  timeoutMs?: number;
  /** Delete stale UDP/SCTP conntrack entries after each sync. Default true. */
  conntrack?: boolean;
  /**
   * How often to probe for a flushed ruleset before a sync. Default 0: before every sync. kube-proxy
   * probes once per syncPeriod (30 s): at 10k services each probe is an extra tool run.
   */
  flushCheckIntervalMs?: number;
  /** Clock for `flushCheckIntervalMs`, in ms. Default Date.now. */
  now?: () => number;
}

/** Decides when a proxier probes for a flushed ruleset (its canary). */
export interface FlushCheck {
  /** True when a probe is due now (never before the first sync). */
  due(started: boolean): boolean;
  /** A full sync has just rewritten everything: the next probe can wait a whole interval. */
  reset(): void;
}

export function createFlushCheck(options: Pick<ProxierOptions, "flushCheckIntervalMs" | "now">): FlushCheck {
  const intervalMs = options.flushCheckIntervalMs ?? 0;
  const now = options.now ?? Date.now;
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
