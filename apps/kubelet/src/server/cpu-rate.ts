// The node's CPU rate (usageNanoCores) from cumulative root-cgroup usage samples. cAdvisor derives
// it from two housekeeping samples about 10 s apart; here a request may come a few milliseconds
// after the last sample, where the clock's millisecond resolution alone would be a 20% error. So
// the rate is taken against the newest sample at least `minWindowMs` old, and only against a
// younger one when nothing older exists yet.

/** Cumulative CPU time at an instant. */
export interface CpuSample {
  /** CPU nanoseconds used since boot (cgroup v2 usage_usec x 1000, v1 cpuacct.usage). */
  ns: number;
  atMs: number;
}

export interface CpuRate {
  /** Keeps `sample` (ignored unless newer than every kept one). */
  record(sample: CpuSample): void;
  /** Nanocores used between a kept sample and `now` (one busy core is 1e9); undefined without a base. */
  rate(now: CpuSample): number | undefined;
}

export function createCpuRate(minWindowMs = 1000, keep = 8): CpuRate {
  const samples: CpuSample[] = []; // oldest first
  return {
    record(sample) {
      const last = samples.at(-1);
      if (last && sample.atMs <= last.atMs) return;
      samples.push(sample);
      // Drop what is older than the newest sample old enough to be a base; past `keep`, drop the
      // oldest after that base, which never shortens the window below minWindowMs.
      const base = samples.findLastIndex((s) => sample.atMs - s.atMs >= minWindowMs);
      if (base > 0) samples.splice(0, base);
      if (samples.length > keep) samples.splice(1, samples.length - keep);
    },
    rate(now) {
      const earlier = samples.filter((s) => s.atMs < now.atMs);
      const base = earlier.findLast((s) => now.atMs - s.atMs >= minWindowMs) ?? earlier[0];
      if (!base || now.ns < base.ns) return undefined;
      // CPU nanoseconds per millisecond of wall time, x1000: nanoseconds per second (nanocores).
      return Math.round(((now.ns - base.ns) / (now.atMs - base.atMs)) * 1e3);
    },
  };
}
