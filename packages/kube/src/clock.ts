/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * The source of time for every loop in kubenode. Production code uses {@link createRealClock};
 * tests use {@link createFakeClock} and step time instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs`. */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
  /** Resolves after `delayMs`, or rejects with the signal's reason when aborted. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
}

/** A clock whose time only moves when a test says so. */
export interface FakeClock extends Clock {
  /**
   * Moves time forward by `ms`, firing due timers in order. Between timers it lets pending
   * promise callbacks and I/O callbacks run, so code awaiting a sleep continues before the next
   * timer fires.
   */
  step(ms: number): Promise<void>;
  /** Number of timers waiting to fire. */
  pendingTimers(): number;
  /** Milliseconds until the next timer fires, or undefined when none is pending. */
  nextTimerInMs(): number | undefined;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

function sleepWith(clock: Pick<Clock, "setTimeout" | "clearTimeout">, delayMs: number, signal?: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(abortReason(signal!));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The wall clock, backed by `Date.now()` and Node's timers (which do not keep the process alive). */
export function createRealClock(): Clock {
  const clock: Clock = {
    now: () => Date.now(),
    setTimeout(fn, delayMs) {
      const t = setTimeout(fn, Math.max(0, delayMs));
      t.unref?.();
      return t;
    },
    clearTimeout(handle) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
    sleep: (delayMs, signal) => sleepWith(clock, delayMs, signal),
  };
  return clock;
}

interface FakeTimer {
  id: number;
  dueMs: number;
  fn: () => void;
}

/** Lets queued promise reactions and ready I/O callbacks run. */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * A clock for tests. Time starts at `startMs` (default 2026-01-01T00:00:00Z) and only moves on
 * {@link FakeClock.step}.
 */
export function createFakeClock(startMs = Date.UTC(2026, 0, 1)): FakeClock {
  let nowMs = startMs;
  let nextId = 1;
  const timers = new Map<number, FakeTimer>();

  const clock: FakeClock = {
    now: () => nowMs,
    setTimeout(fn, delayMs) {
      const t: FakeTimer = { id: nextId++, dueMs: nowMs + Math.max(0, delayMs), fn };
      timers.set(t.id, t);
      return { id: t.id };
    },
    clearTimeout(handle) {
      const id = (handle as { id?: number }).id;
      if (typeof id === "number") timers.delete(id);
    },
    sleep: (delayMs, signal) => sleepWith(clock, delayMs, signal),
    async step(ms) {
      if (!(ms >= 0)) throw new RangeError(`step(ms): ms must be a non-negative number, got ${ms}`);
      const target = nowMs + ms;
      await settle();
      for (;;) {
        let next: FakeTimer | undefined;
        for (const t of timers.values()) {
          if (
            t.dueMs <= target &&
            (!next || t.dueMs < next.dueMs || (t.dueMs === next.dueMs && t.id < next.id))
          ) {
            next = t;
          }
        }
        if (!next) break;
        timers.delete(next.id);
        nowMs = Math.max(nowMs, next.dueMs);
        next.fn();
        await settle();
      }
      nowMs = target;
      await settle();
    },
    pendingTimers: () => timers.size,
    nextTimerInMs() {
      let min: number | undefined;
      for (const t of timers.values()) if (min === undefined || t.dueMs < min) min = t.dueMs;
      return min === undefined ? undefined : min - nowMs;
    },
  };
  return clock;
}
