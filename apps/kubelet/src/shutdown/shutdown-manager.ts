// Graceful node shutdown (upstream pkg/kubelet/nodeshutdown): when the node is about to go down,
// report Ready=False "node is shutting down", refuse new pods, then terminate regular pods and
// after them critical ones, each group within its share of shutdownGracePeriod.
import { isCriticalPod } from "@kubenode/eviction";
import type { Clock, Logger } from "@kubenode/kube";
import type { Pod, PodStatus } from "../api.js";
import type { AdmitResult, Kubelet } from "../kubelet.js";

/** How long to wait after the budget for kills the runtime has not confirmed yet. */
const KILL_CONFIRM_MS = 5000;

/** Upstream's texts (nodeshutdown_manager.go). */
export const NODE_SHUTDOWN_READY_MESSAGE = "node is shutting down";
export const NODE_SHUTDOWN_REASON = "Terminated";
export const NODE_SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown.";
export const NODE_SHUTDOWN_NOT_ADMITTED_REASON = "NodeShutdown";
export const NODE_SHUTDOWN_NOT_ADMITTED_MESSAGE = "Pod was rejected as the node is shutting down.";

export interface ShutdownManagerOptions {
  kubelet: Pick<Kubelet, "activePods" | "killPod">;
  /** Whole budget (shutdownGracePeriod), seconds; 0 turns graceful shutdown off. */
  shutdownGracePeriodSeconds: number;
  /** The part of it kept for critical pods (shutdownGracePeriodCriticalPods), seconds. */
  shutdownGracePeriodCriticalPodsSeconds: number;
  /** Pushes the node's status now (so Ready=False is seen before pods go). */
  syncNodeStatus?: () => Promise<unknown>;
  clock: Clock;
  logger: Logger;
}

export interface ShutdownManager {
  /** Whether graceful shutdown is configured (shutdownGracePeriod > 0). */
  readonly enabled: boolean;
  /** Whether shutdown has begun. */
  readonly shuttingDown: boolean;
  /** A readiness check for the node's Ready condition: "node is shutting down" once begun. */
  readiness(): string | undefined;
  /** An admission handler refusing new pods once shutdown has begun. */
  admit(pod: Pod): AdmitResult;
  /** Marks the node shutting down and terminates pods, regular ones then critical ones. */
  shutdown(): Promise<void>;
}

/** The status a pod killed for node shutdown gets (upstream killPodFunc's status function). */
export function shutdownPodStatus(): PodStatus {
  return {
    phase: "Failed",
    reason: NODE_SHUTDOWN_REASON,
    message: NODE_SHUTDOWN_MESSAGE,
    conditions: [
      {
        type: "DisruptionTarget",
        status: "True",
        reason: "TerminationByKubelet",
        message: NODE_SHUTDOWN_MESSAGE,
      },
    ],
  };
}

/** Creates the shutdown manager. */
export function createShutdownManager(o: ShutdownManagerOptions): ShutdownManager {
  const total = Math.max(0, o.shutdownGracePeriodSeconds);
  const critical = Math.min(total, Math.max(0, o.shutdownGracePeriodCriticalPodsSeconds));
  const log = o.logger.withName("nodeshutdown");
  let shuttingDown = false;
  let running: Promise<void> | undefined;

  // Kills still running after their group's period (the runtime confirming a SIGKILL).
  const outstanding: Promise<unknown>[] = [];

  /** Waits for `p` at most `ms`; true if it settled in time. */
  async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: ReturnType<Clock["setTimeout"]> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = o.clock.setTimeout(() => resolve("timeout"), ms);
    });
    const r = await Promise.race([p.then(() => "done" as const), timeout]);
    if (timer) o.clock.clearTimeout(timer);
    return r === "done";
  }

  /** Kills `pods` in parallel with at most `seconds` of grace each; gives up waiting after `seconds`. */
  async function killGroup(pods: Pod[], seconds: number): Promise<void> {
    if (pods.length === 0) return;
    log.info("Shutdown manager killing pods", { count: pods.length, gracePeriodSeconds: seconds });
    const kills = Promise.allSettled(
      pods.map((pod) => {
        const own = pod.spec.terminationGracePeriodSeconds;
        const grace = own !== undefined && own !== null && own <= seconds ? own : seconds;
        return o.kubelet.killPod(pod, { gracePeriodSeconds: grace, status: shutdownPodStatus() });
      }),
    );
    void kills.then((results) => {
      for (const r of results)
        if (r.status === "rejected")
          log.warn("Shutdown manager failed killing pod", { err: String(r.reason) });
    });
    if (!(await within(kills, seconds * 1000))) {
      log.warn("Shutdown manager pod killing time out", { gracePeriodSeconds: seconds });
      outstanding.push(kills);
    }
  }

  return {
    enabled: total > 0,
    get shuttingDown() {
      return shuttingDown;
    },
    readiness: () => (shuttingDown ? NODE_SHUTDOWN_READY_MESSAGE : undefined),
    admit: () =>
      shuttingDown
        ? {
            admit: false,
            reason: NODE_SHUTDOWN_NOT_ADMITTED_REASON,
            message: NODE_SHUTDOWN_NOT_ADMITTED_MESSAGE,
          }
        : { admit: true },
    shutdown() {
      running ??= (async () => {
        shuttingDown = true;
        log.info("Shutdown manager detected new shutdown event", {
          shutdownGracePeriodSeconds: total,
          shutdownGracePeriodCriticalPodsSeconds: critical,
        });
        try {
          await o.syncNodeStatus?.();
        } catch (err) {
          log.warn("Node status update at shutdown failed", { err: String(err) });
        }
        const pods = o.kubelet.activePods();
        await killGroup(
          pods.filter((p) => !isCriticalPod(p as never)),
          total - critical,
        );
        await killGroup(
          pods.filter((p) => isCriticalPod(p as never)),
          critical,
        );
        // Pods past their grace period are being SIGKILLed: give the runtime a moment to confirm,
        // so their final status is recorded before the kubelet exits.
        if (outstanding.length > 0) await within(Promise.all(outstanding), KILL_CONFIRM_MS);
        log.info("Shutdown manager completed processing shutdown event, node will shutdown shortly");
      })();
      return running;
    },
  };
}
