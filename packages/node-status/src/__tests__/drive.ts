import type { FakeClock } from "@kubenode/kube";

/** Polls (real time) until `cond` holds; for waiting on real I/O, never for pacing. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Advances a fake clock by `ms` while real HTTP happens underneath: before each step it waits
 * until the code under test is asleep again (has at least one timer pending), so each timer
 * fires at exactly its due time.
 */
export async function advance(clock: FakeClock, ms: number): Promise<void> {
  let remaining = ms;
  for (;;) {
    await until(() => clock.pendingTimers() > 0, "the code under test to go back to sleep");
    const next = clock.nextTimerInMs() ?? Number.POSITIVE_INFINITY;
    if (next > remaining) {
      await clock.step(remaining);
      return;
    }
    await clock.step(next);
    remaining -= next;
  }
}
