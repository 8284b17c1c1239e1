// The generic PLEG (upstream pkg/kubelet/pleg/generic.go): relists the runtime every second,
// compares each pod's sandboxes and containers with the previous relist and wakes the pod's worker
// when something changed. Its health (last relist within 3 min) feeds the node's Ready condition.
import type { Clock, Logger, TimerHandle } from "@kubenode/kube";
import type { PodRuntime, RuntimePod } from "../runtime/types.js";

/** Options of {@link createPleg}. */
export interface PlegOptions {
  runtime: Pick<PodRuntime, "listPods">;
  clock: Clock;
  logger: Logger;
  /** Called with the UID of every pod whose runtime state changed. */
  onPodChanged(uid: string): void;
  /** Called after every successful relist with the whole runtime state (housekeeping). */
  onRelist?(pods: readonly RuntimePod[]): void;
  /** Relist period, default 1000 ms (upstream relistPeriod). */
  relistPeriodMs?: number;
  /** Health threshold, default 3 min (upstream relistThreshold). */
  relistThresholdMs?: number;
}

export interface Pleg {
  start(): void;
  stop(): Promise<void>;
  /** Relists now (also what the timer calls); resolves when done. */
  relist(): Promise<void>;
  /** `{ healthy, message }` with upstream's messages. */
  health(): { healthy: boolean; message?: string };
  /** Duration of the last relist in ms. */
  readonly lastRelistMs: number;
}

/** Go-style duration text of a millisecond count (`3m10.5s`, `850ms`). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const total = ms / 1000;
  const m = Math.floor(total / 60);
  const s = +(total - m * 60).toFixed(3);
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

function signature(p: RuntimePod): string {
  const parts: string[] = [];
  for (const s of p.sandboxes) parts.push(`s:${s.id}:${s.state}`);
  for (const c of p.containers) parts.push(`c:${c.id}:${c.state}`);
  return parts.sort().join(",");
}

export function createPleg(options: PlegOptions): Pleg {
  const { clock } = options;
  const log = options.logger.withName("pleg");
  const period = options.relistPeriodMs ?? 1000;
  const threshold = options.relistThresholdMs ?? 180_000;
  let previous = new Map<string, string>();
  let lastSeenMs: number | undefined;
  let lastRelistMs = 0;
  let timer: TimerHandle | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  async function relist(): Promise<void> {
    const t0 = performance.now();
    const pods = await options.runtime.listPods();
    lastSeenMs = clock.now();
    lastRelistMs = performance.now() - t0;
    const next = new Map<string, string>();
    for (const p of pods) next.set(p.uid, signature(p));
    for (const [uid, sig] of next) if (previous.get(uid) !== sig) options.onPodChanged(uid);
    for (const uid of previous.keys()) if (!next.has(uid)) options.onPodChanged(uid);
    previous = next;
    options.onRelist?.(pods);
  }

  function loop(): void {
    if (stopped) return;
    running = relist()
      .catch((err) => log.error("relist failed", err))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = clock.setTimeout(loop, period);
      });
  }

  return {
    get lastRelistMs() {
      return lastRelistMs;
    },
    start() {
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      timer = undefined;
      await running;
    },
    relist,
    health() {
      if (lastSeenMs === undefined) return { healthy: false, message: "pleg has yet to be successful" };
      const elapsed = clock.now() - lastSeenMs;
      if (elapsed > threshold) {
        return {
          healthy: false,
          message: `PLEG is not healthy: pleg was last seen active ${formatDuration(elapsed)} ago; threshold is ${formatDuration(threshold)}`,
        };
      }
      return { healthy: true };
    },
  };
}
