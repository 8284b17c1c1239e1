import { type Clock, createBackoff, type TimerHandle } from "@kubenode/kube";

/** Options of {@link createSyncRunner}. */
export interface SyncRunnerOptions {
  clock: Clock;
  /** Least time between the starts of two syncs (minSyncPeriod): changes arriving faster are batched. */
  minIntervalMs: number;
  /** Longest time without a sync (syncPeriod): a periodic sync runs even when nothing changed. */
  maxIntervalMs: number;
  /** One sync. A rejection schedules a retry after a growing backoff. */
  sync: () => Promise<void>;
  /** First retry delay after a failed sync; default `max(minIntervalMs, 1000)`. */
  retryInitialMs?: number;
  /** Longest retry delay; default `maxIntervalMs`. */
  retryMaxMs?: number;
  onError?: (err: unknown, retryInMs: number) => void;
}

/** Runs syncs at a bounded frequency (mirrors client-go's BoundedFrequencyRunner used by kube-proxy). */
export interface SyncRunner {
  /** Starts the periodic loop with an immediate first sync request. */
  start(): void;
  /** Asks for a sync: now if minIntervalMs has passed since the last one started, else as soon as it has. */
  run(): void;
  /** Stops timers and waits for a running sync to finish. */
  stop(): Promise<void>;
  /** Number of syncs attempted so far. */
  readonly attempts: number;
  /** Milliseconds until the next scheduled sync, or undefined. */
  nextInMs(): number | undefined;
}

/** Creates a bounded-frequency runner. */
export function createSyncRunner(options: SyncRunnerOptions): SyncRunner {
  const { clock, minIntervalMs, maxIntervalMs } = options;
  if (!(minIntervalMs >= 0)) throw new RangeError(`minIntervalMs must be >= 0, got ${minIntervalMs}`);
  if (!(maxIntervalMs > 0)) throw new RangeError(`maxIntervalMs must be > 0, got ${maxIntervalMs}`);
  const retryInitialMs = options.retryInitialMs ?? Math.max(minIntervalMs, 1000);
  const backoff = createBackoff({
    initialMs: retryInitialMs,
    maxMs: Math.max(retryInitialMs, options.retryMaxMs ?? maxIntervalMs),
    factor: 2,
  });
  let timer: TimerHandle | undefined;
  let dueMs = Number.POSITIVE_INFINITY;
  let lastStartMs: number | undefined;
  let running: Promise<void> | undefined;
  let pending = false;
  let stopped = false;
  let started = false;
  let attempts = 0;

  const schedule = (atMs: number) => {
    if (stopped) return;
    if (timer !== undefined && dueMs <= atMs) return;
    if (timer !== undefined) clock.clearTimeout(timer);
    dueMs = atMs;
    timer = clock.setTimeout(fire, Math.max(0, atMs - clock.now()));
  };
  const earliest = () =>
    lastStartMs === undefined ? clock.now() : Math.max(clock.now(), lastStartMs + minIntervalMs);

  function fire(): void {
    timer = undefined;
    dueMs = Number.POSITIVE_INFINITY;
    if (stopped || running) return;
    pending = false;
    lastStartMs = clock.now();
    attempts++;
    running = (async () => {
      try {
        await options.sync();
        backoff.reset();
        schedule(clock.now() + maxIntervalMs);
      } catch (err) {
        const delay = backoff.next();
        options.onError?.(err, delay);
        schedule(clock.now() + delay);
      } finally {
        running = undefined;
        if (pending) schedule(earliest());
      }
    })();
  }

  return {
    start() {
      if (started) return;
      started = true;
      pending = true;
      schedule(clock.now());
    },
    run() {
      if (stopped || !started) {
        pending = true;
        return;
      }
      pending = true;
      if (!running) schedule(earliest());
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      await running;
    },
    get attempts() {
      return attempts;
    },
    nextInMs: () => (timer === undefined ? undefined : dueMs - clock.now()),
  };
}
