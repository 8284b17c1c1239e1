/** Settings of an exponential backoff. */
export interface BackoffOptions {
  /** First delay. */
  initialMs: number;
  /** Upper bound of any delay (before jitter). */
  maxMs: number;
  /** Multiplier between consecutive delays; default 2. */
  factor?: number | undefined;
  /**
   * Adds up to `jitter x delay` of random extra wait, like apimachinery's `wait.Jitter`, so many
   * agents restarting together do not hit the API server in lockstep. Default 0.
   */
  jitter?: number | undefined;
  /** Random source in [0, 1); injectable for tests. */
  random?: (() => number) | undefined;
}

/** A stateful exponential backoff: `next()` returns the delay to wait before the next attempt. */
export interface Backoff {
  /** The delay to wait now, then grows the base for the following call. */
  next(): number;
  /** Back to `initialMs`, e.g. after a success. */
  reset(): void;
  /** Failures counted since the last reset. */
  readonly attempts: number;
}

/** `durationMs` plus a random extra of up to `maxFactor x durationMs` (mirrors `wait.Jitter`). */
export function jitterMs(durationMs: number, maxFactor: number, random: () => number = Math.random): number {
  if (!(maxFactor > 0)) return durationMs;
  return durationMs + random() * maxFactor * durationMs;
}

function checkPositive(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0)
    throw new RangeError(`backoff: ${name} must be a non-negative number, got ${v}`);
}

/** Creates an exponential backoff with optional jitter. */
export function createBackoff(options: BackoffOptions): Backoff {
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0;
  const random = options.random ?? Math.random;
  checkPositive("initialMs", options.initialMs);
  checkPositive("maxMs", options.maxMs);
  if (!(factor >= 1)) throw new RangeError(`backoff: factor must be >= 1, got ${factor}`);
  if (options.maxMs < options.initialMs) {
    throw new RangeError(`backoff: maxMs (${options.maxMs}) is below initialMs (${options.initialMs})`);
  }
  let current = options.initialMs;
  let attempts = 0;
  return {
    next() {
      const base = current;
      attempts++;
      current = Math.min(options.maxMs, current * factor);
      return jitterMs(base, jitter, random);
    },
    reset() {
      current = options.initialMs;
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
