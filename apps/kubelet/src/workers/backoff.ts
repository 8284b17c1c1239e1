// Per-key exponential backoff on the kubelet's clock, as client-go's flowcontrol.Backoff is used by
// the kubelet for crash loops and image pulls (kubelet.go: 10 s initial, 300 s max).
import type { Clock } from "@kubenode/kube";

/** Options of {@link createKeyedBackoff}. */
export interface KeyedBackoffOptions {
  clock: Clock;
  /** First backoff, default 10 000 ms (upstream backOffPeriod). */
  initialMs?: number;
  /** Cap, default 300 000 ms (upstream MaxContainerBackOff). */
  maxMs?: number;
}

/** Backoff state by key (`<pod>_<ns>_<uid>_<container>_<hash>` or `<uid>_<image>`). */
export interface KeyedBackoff {
  /**
   * Whether `key` is still backing off counting from `eventMs` (e.g. when the container exited):
   * flowcontrol's IsInBackOffSince.
   */
  inBackoffSince(key: string, eventMs: number): boolean;
  /**
   * Records one more failure at `eventMs`: the first sets the initial backoff, later ones double it
   * up to the cap; an entry untouched for twice the cap starts over (flowcontrol's Next, which is
   * what resets a crash loop after 10 minutes of clean running).
   */
  next(key: string, eventMs: number): void;
  /** Whether `key` is backing off counting from its last {@link next} (IsInBackOffSinceUpdate). */
  inBackoffSinceUpdate(key: string): boolean;
  /** When the backoff of `key` counted from its last update ends (ms since epoch). */
  updateExpiresAt(key: string): number;
  /** The current backoff of `key` in ms, 0 when none. */
  get(key: string): number;
  /** When `key`'s backoff ends counting from `eventMs`, for scheduling a retry. */
  expiresAt(key: string, eventMs: number): number;
  reset(key: string): void;
  /** Drops entries idle for more than twice the cap. */
  gc(): void;
}

interface Entry {
  backoffMs: number;
  lastUpdateMs: number;
}

export function createKeyedBackoff(options: KeyedBackoffOptions): KeyedBackoff {
  const { clock } = options;
  const initialMs = options.initialMs ?? 10_000;
  const maxMs = options.maxMs ?? 300_000;
  const entries = new Map<string, Entry>();
  const expired = (eventMs: number, e: Entry) => eventMs - e.lastUpdateMs > 2 * maxMs;
  return {
    inBackoffSince(key, eventMs) {
      const e = entries.get(key);
      if (!e || expired(clock.now(), e)) return false;
      return clock.now() - eventMs < e.backoffMs;
    },
    next(key, eventMs) {
      const e = entries.get(key);
      if (!e || expired(eventMs, e)) entries.set(key, { backoffMs: initialMs, lastUpdateMs: eventMs });
      else {
        e.backoffMs = Math.min(maxMs, e.backoffMs * 2);
        e.lastUpdateMs = eventMs;
      }
    },
    inBackoffSinceUpdate(key) {
      const e = entries.get(key);
      if (!e || expired(clock.now(), e)) return false;
      return clock.now() - e.lastUpdateMs < e.backoffMs;
    },
    updateExpiresAt(key) {
      const e = entries.get(key);
      return e ? e.lastUpdateMs + e.backoffMs : clock.now();
    },
    get: (key) => entries.get(key)?.backoffMs ?? 0,
    expiresAt: (key, eventMs) => eventMs + (entries.get(key)?.backoffMs ?? 0),
    reset(key) {
      entries.delete(key);
    },
    gc() {
      const now = clock.now();
      for (const [k, e] of entries) if (expired(now, e)) entries.delete(k);
    },
  };
}

/** A duration as Go's time.Duration prints whole seconds: `10s`, `1m20s`, `5m0s`. */
export function goDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
