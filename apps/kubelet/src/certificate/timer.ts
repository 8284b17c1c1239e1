import type { Clock, TimerHandle } from "@kubenode/kube";

/** The longest delay a timer holds (about 24.8 days); longer ones would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `fn` at `atMs` (epoch ms) on `clock`, in hops of at most 2^31-1 ms so a deadline months
 * away (a one-year certificate) is kept. Returns a function that cancels it.
 */
export function runAt(clock: Clock, atMs: number, fn: () => void): () => void {
  let timer: TimerHandle | undefined;
  const arm = () => {
    const wait = atMs - clock.now();
    if (wait > MAX_TIMER_MS) timer = clock.setTimeout(arm, MAX_TIMER_MS);
    else timer = clock.setTimeout(fn, Math.max(0, wait));
  };
  arm();
  return () => {
    if (timer) clock.clearTimeout(timer);
    timer = undefined;
  };
}
