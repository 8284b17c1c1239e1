// The runtime half of /stats/summary, read in the background like cAdvisor's housekeeping.
//
// Upstream's summary takes container CPU and memory from cAdvisor, which re-reads every container
// on its own schedule (--housekeeping-interval, 10 s) and answers requests from what it last read;
// a request never waits for the runtime. Here the runtime's numbers come from CRI
// ListContainerStats, which containerd answers by asking every container's shim in turn (about
// 0.6 s at 110 pods on a busy 2-core machine). So the same shape: the first request reads, then a
// loop re-reads every interval while someone is asking, and requests get the latest sample. Each
// container's numbers keep the runtime's own timestamps, so a consumer sees how old they are.

import type { Clock, TimerHandle } from "@kubenode/kube";

export interface RuntimeSampleOptions<T> {
  /** Reads the runtime once. */
  read: () => Promise<T>;
  clock: Clock;
  /** How often the loop re-reads while the sample is in use. Default 10 s, upstream's housekeeping. */
  intervalMs?: number | undefined;
  /** The loop stops after this long without a request (and starts again with the next). Default 2 min. */
  idleMs?: number | undefined;
}

export interface RuntimeSampler<T> {
  /**
   * The latest sample. Waits for a read only when there is none younger than two intervals (the
   * first request, after an idle pause, or while the runtime keeps failing: then its error).
   */
  get(): Promise<T>;
  /** Stops the loop; later `get()` calls read on demand. */
  stop(): void;
}

export function createRuntimeSampler<T>(o: RuntimeSampleOptions<T>): RuntimeSampler<T> {
  const intervalMs = o.intervalMs ?? 10_000;
  const idleMs = o.idleMs ?? 120_000;
  let sample: { value: T; atMs: number } | undefined;
  let lastError: unknown;
  let inFlight: Promise<void> | undefined;
  let timer: TimerHandle | undefined;
  let lastAskedMs = 0;
  let stopped = false;

  /** One read at a time; concurrent callers share it. Never rejects: the error is kept. */
  const refresh = (): Promise<void> => {
    inFlight ??= (async () => {
      const startedMs = o.clock.now();
      try {
        sample = { value: await o.read(), atMs: startedMs };
        lastError = undefined;
      } catch (err) {
        lastError = err;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  const schedule = () => {
    if (stopped || timer !== undefined) return;
    timer = o.clock.setTimeout(async () => {
      timer = undefined;
      if (stopped || o.clock.now() - lastAskedMs >= idleMs) return; // idle: the next get() restarts it
      await refresh();
      schedule();
    }, intervalMs);
  };

  const fresh = () => sample !== undefined && o.clock.now() - sample.atMs < 2 * intervalMs;

  return {
    async get() {
      lastAskedMs = o.clock.now();
      if (!fresh()) {
        await refresh();
        if (lastError !== undefined || sample === undefined) throw lastError;
      }
      schedule();
      return sample!.value;
    },
    stop() {
      stopped = true;
      if (timer !== undefined) o.clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
