// Desired spec vs runtime state -> the actions of one pod sync (upstream kuberuntime_manager.go
// computePodActions, podSandboxChanged and ShouldContainerBeRestarted).
import type { Container, Pod } from "../api.js";
import { containerHash } from "../runtime/labels.js";
import type { RuntimeContainer, RuntimePod, RuntimeSandbox } from "../runtime/types.js";

/** One container to (re)start. */
export interface ContainerStart {
  container: Container;
  /** Restart number of the new container: the newest's + 1, or 0 for the first. */
  restartCount: number;
  /** The newest earlier container of this name, if any (its exit time drives crash backoff). */
  previous: RuntimeContainer | undefined;
}

/** What one sync of a pod has to do. */
export interface PodActions {
  /** Stop every container and sandbox first (the sandbox is being replaced or the pod is done). */
  killPod: boolean;
  /** Create a sandbox with this attempt number (undefined: keep the current one). */
  createSandboxAttempt: number | undefined;
  /** The ready sandbox containers start in, when it is kept. */
  sandbox: RuntimeSandbox | undefined;
  /** Containers to start, in spec order. */
  start: ContainerStart[];
  /** Running containers to stop, with why (their definition changed, a probe failed). */
  kill: { container: RuntimeContainer; message: string; probe?: "liveness" | "startup" }[];
}

/** Newest container of each name (runtime pods list containers newest first). */
export function latestByName(runtimePod: RuntimePod | undefined): Map<string, RuntimeContainer> {
  const out = new Map<string, RuntimeContainer>();
  for (const c of runtimePod?.containers ?? []) if (!out.has(c.name)) out.set(c.name, c);
  return out;
}

/**
 * Whether a stopped container should run again under the pod's restartPolicy: created or unknown
 * ones always, exited ones with Always, or OnFailure and a non-zero exit.
 */
export function shouldRestart(pod: Pod, c: RuntimeContainer): boolean {
  if (c.state === "running") return false;
  if (c.state === "created" || c.state === "unknown") return true;
  const policy = pod.spec.restartPolicy ?? "Always";
  if (policy === "Never") return false;
  if (policy === "OnFailure") return c.exitCode !== 0;
  return true;
}

/** Why a new sandbox is needed, or undefined when the current one is fine (podSandboxChanged). */
export function sandboxChange(pod: Pod, runtimePod: RuntimePod | undefined): string | undefined {
  const ready = (runtimePod?.sandboxes ?? []).filter((s) => s.state === "ready");
  if (ready.length === 0) return "no ready sandbox";
  if (ready.length > 1) return "more than one ready sandbox";
  const sb = ready[0]!;
  if (sb.hostNetwork !== (pod.spec.hostNetwork === true)) return "network namespace changed";
  if (!pod.spec.hostNetwork && sb.ips.length === 0) return "sandbox has no IP";
  return undefined;
}

/** Whether an init container is a sidecar (restartPolicy Always: started in order, kept running). */
export function isSidecar(c: Container): boolean {
  return c.restartPolicy === "Always";
}

/** Where init containers stand in the current sandbox (upstream findNextInitContainerToRun). */
export type InitProgress =
  | { state: "done" }
  | { state: "waiting" }
  | { state: "failed"; container: string }
  | { state: "start"; start: ContainerStart };

/**
 * The next init container to run: each must exit 0 before the next starts (a sidecar must be
 * running); a failed one is restarted unless restartPolicy is Never, which fails the pod. Only
 * containers of the current sandbox count: a new sandbox runs the init containers again.
 */
export function initProgress(
  pod: Pod,
  runtimePod: RuntimePod | undefined,
  sandboxId: string | undefined,
): InitProgress {
  const inSandbox = (runtimePod?.containers ?? []).filter((c) => c.sandboxId === sandboxId);
  const latest = new Map<string, RuntimeContainer>();
  for (const c of inSandbox) if (!latest.has(c.name)) latest.set(c.name, c);
  // Restart counts continue across sandboxes.
  const anyLatest = latestByName(runtimePod);
  const policy = pod.spec.restartPolicy ?? "Always";
  for (const container of pod.spec.initContainers ?? []) {
    const prev = latest.get(container.name);
    const older = anyLatest.get(container.name);
    const restartCount = older ? older.restartCount + 1 : 0;
    if (!prev) return { state: "start", start: { container, restartCount, previous: older } };
    if (prev.state === "running") {
      if (isSidecar(container)) continue;
      return { state: "waiting" };
    }
    if (isSidecar(container)) return { state: "start", start: { container, restartCount, previous: prev } };
    if (prev.state === "exited" && prev.exitCode === 0) continue;
    if (prev.state === "exited" && policy === "Never") return { state: "failed", container: container.name };
    return { state: "start", start: { container, restartCount, previous: prev } };
  }
  return { state: "done" };
}

/**
 * Which running containers failed a liveness or startup probe (the prober's results), so that
 * they are killed and, restartPolicy permitting, restarted.
 */
export type ProbeFailures = (container: RuntimeContainer) => "liveness" | "startup" | undefined;

/** Computes the actions that bring the runtime in line with `pod` (not being terminated). */
export function computePodActions(
  pod: Pod,
  runtimePod: RuntimePod | undefined,
  probeFailed?: ProbeFailures,
): PodActions {
  const latest = latestByName(runtimePod);
  const change = sandboxChange(pod, runtimePod);
  const policy = pod.spec.restartPolicy ?? "Always";
  if (change) {
    const newest = runtimePod?.sandboxes[0];
    const attempt = newest ? newest.attempt + 1 : 0;
    const hasRuntimeState = (runtimePod?.sandboxes.length ?? 0) > 0 || latest.size > 0;
    // A pod that never restarts and already ran gets no new sandbox (computePodActions).
    if (policy === "Never" && newest && latest.size > 0) {
      return { killPod: true, createSandboxAttempt: undefined, sandbox: undefined, start: [], kill: [] };
    }
    const start: ContainerStart[] = [];
    const firstInit = (pod.spec.initContainers ?? [])[0];
    if (firstInit) {
      // A new sandbox starts with the first init container; app containers wait for all of them.
      const prev = latest.get(firstInit.name);
      start.push({
        container: firstInit,
        restartCount: prev ? prev.restartCount + 1 : 0,
        previous: undefined,
      });
    } else {
      for (const container of pod.spec.containers) {
        const prev = latest.get(container.name);
        // With OnFailure, containers that succeeded are not run again in the new sandbox.
        if (prev && prev.state === "exited" && prev.exitCode === 0 && policy === "OnFailure") continue;
        start.push({ container, restartCount: prev ? prev.restartCount + 1 : 0, previous: prev });
      }
    }
    return { killPod: hasRuntimeState, createSandboxAttempt: attempt, sandbox: undefined, start, kill: [] };
  }
  const sandbox = runtimePod!.sandboxes.find((s) => s.state === "ready")!;
  const start: ContainerStart[] = [];
  const kill: PodActions["kill"] = [];
  if (pod.spec.initContainers?.length) {
    // computeInitContainerActions: a running sidecar that failed its startup or liveness probe is
    // killed and started again, and nothing else happens in this round.
    for (const container of pod.spec.initContainers) {
      if (!isSidecar(container)) continue;
      const prev = (runtimePod?.containers ?? []).find(
        (c) => c.name === container.name && c.sandboxId === sandbox.id && c.state === "running",
      );
      const failed = prev && probeFailed?.(prev);
      if (!prev || !failed) continue;
      kill.push({
        container: prev,
        message: `Init container ${container.name} failed ${failed} probe`,
        probe: failed,
      });
      start.push({ container, restartCount: prev.restartCount + 1, previous: prev });
      return { killPod: false, createSandboxAttempt: undefined, sandbox, start, kill };
    }
    const init = initProgress(pod, runtimePod, sandbox.id);
    if (init.state === "start") start.push(init.start);
    if (init.state !== "done")
      return { killPod: false, createSandboxAttempt: undefined, sandbox, start, kill };
  }
  for (const container of pod.spec.containers) {
    const prev = latest.get(container.name);
    if (!prev) {
      start.push({ container, restartCount: 0, previous: undefined });
      continue;
    }
    if (prev.state === "running") {
      if (prev.hash && prev.hash !== containerHash(container)) {
        kill.push({ container: prev, message: `Container ${container.name} definition changed` });
        start.push({ container, restartCount: prev.restartCount + 1, previous: prev });
        continue;
      }
      const failed = probeFailed?.(prev);
      if (failed) {
        // computePodActions: a failed liveness/startup probe kills the container; it comes back
        // unless restartPolicy is Never.
        const restart = policy !== "Never";
        kill.push({
          container: prev,
          message: `Container ${container.name} failed ${failed} probe${restart ? ", will be restarted" : ""}`,
          probe: failed,
        });
        if (restart) start.push({ container, restartCount: prev.restartCount + 1, previous: prev });
      }
      continue;
    }
    if (shouldRestart(pod, prev))
      start.push({ container, restartCount: prev.restartCount + 1, previous: prev });
  }
  return { killPod: false, createSandboxAttempt: undefined, sandbox, start, kill };
}
