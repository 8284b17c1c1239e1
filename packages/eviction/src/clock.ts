/**
 * The time source the manager needs. Kept this small so any clock with `now()` in epoch ms plus
 * setTimeout/clearTimeout fits structurally (real timers, or a fake clock stepped by tests).
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock: Date.now() and Node timers (unref'd so a forgotten manager does not hold the process). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => {
    const t = setTimeout(callback, delayMs);
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A manually stepped clock for tests and simulations. */
export interface FakeClock extends Clock {
  /** Moves time forward, firing due timers in order. */
  step(ms: number): void;
  /** Number of timers waiting. */
  pendingTimers(): number;
}

/** Creates a FakeClock starting at `startMs` (epoch ms). */
export function createFakeClock(startMs = Date.UTC(2026, 0, 1)): FakeClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, delayMs) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, delayMs), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    step(ms) {
      const target = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= target && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = target;
    },
    pendingTimers: () => timers.size,
  };
}
