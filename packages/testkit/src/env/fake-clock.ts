import { waitFor } from "./exec.js";

/** What {@link advanceFakeClock} needs of a fake clock (`@kubenode/kube`'s `createFakeClock()` fits). */
export interface SteppableClock {
  /** Timers scheduled and not yet fired. */
  pendingTimers(): number;
  /** Milliseconds until the next timer fires, or undefined when none is pending. */
  nextTimerInMs(): number | undefined;
  /** Moves time forward, firing the timers due. */
  step(ms: number): Promise<void> | void;
}

/**
 * Advances a fake clock by `ms` while real I/O (HTTP to the API server simulator, say) happens
 * underneath: before each step it waits until the code under test is asleep again (has a timer
 * pending), so each timer fires at exactly its due time. Waits in real time only for that I/O.
 */
export async function advanceFakeClock(
  clock: SteppableClock,
  ms: number,
  { timeoutMs = 10_000 } = {},
): Promise<void> {
  let remaining = ms;
  for (;;) {
    await waitFor(
      "the code under test to go back to sleep",
      () => (clock.pendingTimers() > 0 ? true : undefined),
      {
        timeoutMs,
        intervalMs: 5,
      },
    );
    const next = clock.nextTimerInMs() ?? Number.POSITIVE_INFINITY;
    if (next > remaining) {
      await clock.step(remaining);
      return;
    }
    await clock.step(next);
    remaining -= next;
  }
}
