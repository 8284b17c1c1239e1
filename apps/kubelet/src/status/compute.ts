// Pod status from the spec and the runtime's state (upstream kubelet_pods.go
// generateAPIPodStatus, convertToAPIContainerStatuses, getPhase; status/generate.go conditions).
import type { ContainerState, ContainerStatus, Pod, PodCondition, PodPhase, PodStatus } from "../api.js";
import { podQosClass } from "../qos.js";
import type { RuntimeContainer, RuntimePod } from "../runtime/types.js";

/** Why a container is waiting instead of (re)starting: the last start failure (upstream's reason cache). */
export interface WaitingReason {
  reason: string;
  message: string;
}

/** Inputs of {@link computePodStatus} besides the pod. */
export interface StatusInputs {
  runtimePod: RuntimePod | undefined;
  /** Containers due to (re)start whose last start failed, by name. */
  waiting: ReadonlyMap<string, WaitingReason>;
  /** CRI runtime name, the containerID prefix. */
  runtimeName: string;
  nodeIPs: readonly string[];
  nowMs: number;
  /** Set once the pod worker finished the pod (deleted or evicted): stopped containers are final. */
  terminal?: boolean;
  /** The status last computed or seen in the API, for times and IPs that must not move. */
  previous?: PodStatus | undefined;
  /**
   * `started` / `ready` of a container from its startup and readiness probes (the prober).
   * Absent: a running container is started and ready.
   */
  probes?: (
    containerName: string,
    containerId: string | undefined,
    running: boolean,
  ) => {
    started: boolean;
    ready: boolean;
  };
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function isTerminalPhase(phase: PodPhase | undefined): boolean {
  return phase === "Succeeded" || phase === "Failed";
}

function stateOf(c: RuntimeContainer, runtimeName: string): ContainerState {
  switch (c.state) {
    case "running":
      return { running: { startedAt: rfc3339(c.startedAtMs) } };
    case "exited":
      return {
        terminated: {
          exitCode: c.exitCode,
          ...(c.reason ? { reason: c.reason } : {}),
          ...(c.message ? { message: c.message } : {}),
          ...(c.startedAtMs > 0 ? { startedAt: rfc3339(c.startedAtMs) } : {}),
          ...(c.finishedAtMs > 0 ? { finishedAt: rfc3339(c.finishedAtMs) } : {}),
          containerID: `${runtimeName}://${c.id}`,
        },
      };
    default:
      return { waiting: {} };
  }
}

/**
 * Statuses of `specs` in spec order (convertToAPIContainerStatuses): `init` for
 * initContainerStatuses, else containerStatuses.
 */
export function containerStatuses(pod: Pod, inputs: StatusInputs, init = false): ContainerStatus[] {
  const previous = new Map(
    ((init ? inputs.previous?.initContainerStatuses : inputs.previous?.containerStatuses) ?? []).map((s) => [
      s.name,
      s,
    ]),
  );
  const specs = init ? (pod.spec.initContainers ?? []) : pod.spec.containers;
  // Regular containers of a pod with init containers wait as PodInitializing until those are done.
  const defaultReason =
    !init && (pod.spec.initContainers?.length ?? 0) > 0 ? "PodInitializing" : "ContainerCreating";
  return specs.map((spec) => {
    // Newest first; the newest gives state and restartCount, the second lastState.
    const runs = (inputs.runtimePod?.containers ?? []).filter((c) => c.name === spec.name);
    const [latest, prior] = runs;
    let state: ContainerState;
    let lastState: ContainerStatus["lastState"] = {};
    if (latest) {
      state = stateOf(latest, inputs.runtimeName);
      if (prior) lastState = stateOf(prior, inputs.runtimeName);
    } else {
      const prev = previous.get(spec.name);
      // A container removed from the runtime keeps the last state recorded for it.
      state = prev?.state.terminated ? prev.state : { waiting: { reason: defaultReason } };
      if (prev?.lastState && "terminated" in prev.lastState) lastState = prev.lastState;
    }
    const waiting = inputs.waiting.get(spec.name);
    if (waiting && !state.running) {
      if (state.terminated) lastState = state;
      state = {
        waiting: { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) },
      };
    }
    const running = state.running !== undefined;
    // A plain init container is ready once it exited 0. Regular containers and sidecars are started
    // and ready as their startup and readiness probes say (prober_manager.go UpdatePodStatus);
    // without probes, once running.
    let ready = running;
    let started = running;
    if (init && spec.restartPolicy !== "Always") ready = state.terminated?.exitCode === 0;
    else if (inputs.probes) ({ started, ready } = inputs.probes(spec.name, latest?.id, running));
    return {
      name: spec.name,
      state,
      lastState,
      ready,
      started,
      restartCount: latest?.restartCount ?? previous.get(spec.name)?.restartCount ?? 0,
      image: latest?.image || spec.image || "",
      imageID: latest?.imageRef ?? "",
      ...(latest ? { containerID: `${inputs.runtimeName}://${latest.id}` } : {}),
    };
  });
}

/** Where the init containers stand for the phase and the Initialized condition (getPhase). */
export function initState(
  pod: Pod,
  initStatuses: readonly ContainerStatus[],
): { pending: string[]; failed: boolean } {
  const pending: string[] = [];
  let failed = false;
  for (const spec of pod.spec.initContainers ?? []) {
    const cs = initStatuses.find((s) => s.name === spec.name);
    if (spec.restartPolicy === "Always") {
      // A sidecar counts once started; its exits do not fail the pod.
      if (!cs?.state.running) pending.push(spec.name);
      continue;
    }
    const last = cs && "terminated" in cs.lastState ? cs.lastState.terminated : undefined;
    if (cs?.state.terminated) {
      if (cs.state.terminated.exitCode !== 0) {
        failed = true;
        pending.push(spec.name);
      }
    } else {
      if (cs?.state.waiting && last && last.exitCode !== 0) failed = true;
      pending.push(spec.name);
    }
  }
  return { pending, failed };
}

/** The pod phase (getPhase). */
export function podPhase(
  pod: Pod,
  statuses: readonly ContainerStatus[],
  terminal: boolean,
  initStatuses: readonly ContainerStatus[] = [],
): PodPhase {
  const policy = pod.spec.restartPolicy ?? "Always";
  const init = initState(pod, initStatuses);
  if (init.failed && policy === "Never") return "Failed";
  const anyStarted = statuses.some(
    (s) => s.state.running || s.state.terminated || "terminated" in s.lastState,
  );
  if (init.pending.length > 0 && !anyStarted) return "Pending";
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  let unknown = 0;
  for (const spec of pod.spec.containers) {
    const cs = statuses.find((s) => s.name === spec.name);
    if (!cs) {
      unknown++;
      continue;
    }
    if (cs.state.running) running++;
    else if (cs.state.terminated) {
      stopped++;
      if (cs.state.terminated.exitCode === 0) succeeded++;
    } else if (cs.state.waiting) {
      const last = "terminated" in cs.lastState ? cs.lastState.terminated : undefined;
      if (last) {
        stopped++;
        if (last.exitCode === 0) succeeded++;
      } else waiting++;
    } else unknown++;
  }
  if (waiting > 0) return "Pending";
  if (running > 0 && unknown === 0) return "Running";
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (terminal) return stopped === succeeded ? "Succeeded" : "Failed";
    if (policy === "Always") return "Running";
    if (stopped === succeeded) return "Succeeded";
    if (policy === "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

function condition(
  type: string,
  ok: boolean,
  previous: readonly PodCondition[],
  nowMs: number,
  reason?: string,
  message?: string,
): PodCondition {
  const status = ok ? "True" : "False";
  const prev = previous.find((c) => c.type === type);
  return {
    type,
    status,
    // lastTransitionTime moves only when the status does.
    lastTransitionTime:
      prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(nowMs),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

/** The whole pod status the kubelet reports. */
export function computePodStatus(pod: Pod, inputs: StatusInputs): PodStatus {
  const prev = inputs.previous ?? pod.status ?? {};
  const statuses = containerStatuses(pod, inputs);
  const initStatuses = containerStatuses(pod, inputs, true);
  let phase = podPhase(pod, statuses, inputs.terminal === true, initStatuses);
  // Terminal phases stick (status manager: a terminal API phase is never moved back).
  if (isTerminalPhase(prev.phase)) phase = prev.phase!;
  const prevConds = prev.conditions ?? [];
  const sandbox = inputs.runtimePod?.sandboxes.find((s) => s.state === "ready");
  const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
  const terminal = isTerminalPhase(phase);
  const readyReason = terminal ? "PodCompleted" : notReady.length > 0 ? "ContainersNotReady" : undefined;
  const readyMessage =
    !terminal && notReady.length > 0 ? `containers with unready status: [${notReady.join(" ")}]` : undefined;
  const initialized = (): PodCondition => {
    if (terminal) return condition("Initialized", true, prevConds, inputs.nowMs, "PodCompleted");
    const { pending } = initState(pod, initStatuses);
    return pending.length === 0
      ? condition("Initialized", true, prevConds, inputs.nowMs)
      : condition(
          "Initialized",
          false,
          prevConds,
          inputs.nowMs,
          "ContainersNotInitialized",
          `containers with incomplete status: [${pending.join(" ")}]`,
        );
  };
  const conditions: PodCondition[] = [
    condition("PodReadyToStartContainers", sandbox !== undefined, prevConds, inputs.nowMs),
    initialized(),
    condition(
      "ContainersReady",
      !terminal && notReady.length === 0,
      prevConds,
      inputs.nowMs,
      readyReason,
      readyMessage,
    ),
    condition(
      "Ready",
      !terminal && notReady.length === 0,
      prevConds,
      inputs.nowMs,
      readyReason,
      readyMessage,
    ),
  ];
  // PodScheduled belongs to the scheduler: carried over as it is.
  const scheduled = prevConds.find((c) => c.type === "PodScheduled");
  if (scheduled) conditions.push(scheduled);
  let podIPs: string[];
  if (pod.spec.hostNetwork) podIPs = [...inputs.nodeIPs];
  else if (sandbox && sandbox.ips.length > 0) podIPs = sandbox.ips;
  else podIPs = (prev.podIPs ?? []).map((p) => p.ip);
  const status: PodStatus = {
    phase,
    conditions,
    ...(inputs.nodeIPs[0]
      ? { hostIP: inputs.nodeIPs[0], hostIPs: inputs.nodeIPs.map((ip) => ({ ip })) }
      : {}),
    ...(podIPs[0] ? { podIP: podIPs[0], podIPs: podIPs.map((ip) => ({ ip })) } : {}),
    startTime: prev.startTime ?? rfc3339(inputs.nowMs),
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
    qosClass: podQosClass(pod),
  };
  if (prev.reason && terminal) status.reason = prev.reason;
  if (prev.message && terminal) status.message = prev.message;
  return status;
}
