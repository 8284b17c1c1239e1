// Pod workers: one serialized worker per pod that brings the runtime in line with the pod spec
// (upstream pod_workers.go + kubelet.go SyncPod/SyncTerminatingPod + kuberuntime_manager.go SyncPod).
// Every sync reads the pod's state fresh from the runtime: nothing a restarted kubelet needs lives
// only in memory (restart counts come from container annotations, phases from the API).
import type { Clock, Logger, TimerHandle } from "@kubenode/kube";
import { type Container, type Pod, type PodPhase, type PodStatus, podDesc } from "../api.js";
import { containerFieldPath, type PodEventRecorder } from "../probes/events.js";
import { runHook } from "../probes/hooks.js";
import type { Prober } from "../probes/prober.js";
import { containerHash } from "../runtime/labels.js";
import type {
  ContainerMount,
  PodRuntime,
  RuntimeContainer,
  RuntimePod,
  RuntimeSandbox,
} from "../runtime/types.js";
import { RuntimeStepError } from "../runtime/types.js";
import { computePodStatus, type WaitingReason } from "../status/compute.js";
import { computePodActions, latestByName, shouldRestart } from "./actions.js";
import { createKeyedBackoff, goDuration, type KeyedBackoff } from "./backoff.js";

/** Where workers report statuses (the status manager). */
export interface StatusSink {
  setPodStatus(pod: Pod, status: PodStatus): void;
  /** The status last set or seen in the API for `uid`. */
  getPodStatus(uid: string): PodStatus | undefined;
  /** The pod finished terminating: its final status is set (the manager may delete it from the API). */
  podTerminated(pod: Pod): void;
  /** The pod left every source and its runtime state is gone: drop its status. */
  forget(uid: string): void;
}

/** Admission decision for a new pod. */
export type AdmitFn = (
  pod: Pod,
) => Promise<{ admit: true } | { admit: false; reason: string; message: string }>;

/**
 * What a pod needs prepared besides the runtime: volumes before any container starts (refreshed on
 * every sync), each container's environment and mounts, and teardown when the pod goes. The kubelet
 * wires the volume and env modules in; without it pods get literal env values and no volumes.
 */
export interface PodSetup {
  /** Sets up (or refreshes) the pod's volumes; throws with a message naming each failed volume. */
  setupVolumes(pod: Pod): Promise<PodVolumesHandle>;
  /** Env and mounts of one container; throws RuntimeStepError (CreateContainerConfigError). */
  prepareContainer(
    pod: Pod,
    container: Container,
    podIPs: readonly string[],
    volumes: PodVolumesHandle,
  ): Promise<{ env: ReadonlyMap<string, string>; mounts: readonly ContainerMount[] }>;
  /** Unmounts and removes the pod's volumes (its containers are stopped). */
  teardown(uid: string): Promise<void>;
  /** A volume setup failure, for an event (upstream FailedMount). */
  reportVolumeFailure?(pod: Pod, err: unknown): void;
}

/** Whatever {@link PodSetup.setupVolumes} returns, handed back to prepareContainer. */
export type PodVolumesHandle = unknown;

/** Options of {@link createPodWorkers}. */
export interface PodWorkersOptions {
  runtime: PodRuntime;
  status: StatusSink;
  clock: Clock;
  logger: Logger;
  nodeIPs: readonly string[];
  /** `.dockerconfigjson` texts of the pod's imagePullSecrets. */
  pullSecrets(pod: Pod): Promise<string[]>;
  admit: AdmitFn;
  /** Crash-loop and image-pull backoff start, default 10 s; cap default 300 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Resync of a pod in steady state, default 60 s (upstream syncFrequency). */
  resyncIntervalMs?: number;
  /** Volumes and env (see {@link PodSetup}). */
  setup?: PodSetup;
  /** Probe results for ready/started and liveness kills; absent: no probes run. */
  prober?: Prober;
  /** Where container events go (Killing, FailedPostStartHook, FailedPreStopHook). */
  events?: PodEventRecorder;
}

/** What a terminating pod ends with, beyond the computed status (e.g. an eviction's reason). */
export interface TerminateRequest {
  gracePeriodSeconds?: number;
  status?: Partial<PodStatus>;
}

export interface PodWorkers {
  /** A new or changed pod from a source. */
  update(pod: Pod): void;
  /** The pod left every source (deleted from the API, file removed): stop it and clean up. */
  remove(uid: string): void;
  /** Stops a pod (eviction); resolves when its containers are stopped and its status recorded. */
  kill(pod: Pod, request: TerminateRequest): Promise<void>;
  /** Wakes the worker of `uid` (PLEG event). */
  sync(uid: string): void;
  /** Pods admitted and neither terminal nor terminating. */
  activePods(): Pod[];
  /** UIDs with a worker (including terminated pods that still exist in a source). */
  knownUids(): Set<string>;
  /** Kills and removes runtime pods no worker knows (orphans), with a 1 s grace period. */
  cleanupOrphans(runtimePods: readonly RuntimePod[]): Promise<void>;
  /** Stops scheduling; waits for syncs in flight. Containers are left as they are. */
  stop(): Promise<void>;
}

type WorkerState = "syncing" | "terminating" | "terminated";

interface Worker {
  uid: string;
  pod: Pod;
  state: WorkerState;
  admitted: boolean;
  removed: boolean;
  terminate: TerminateRequest | undefined;
  waiting: Map<string, WaitingReason>;
  running: Promise<void> | undefined;
  pending: boolean;
  timer: TimerHandle | undefined;
  timerAtMs: number;
  waiters: (() => void)[];
  /** Grace period in use; it may only shrink (pod_workers.go). */
  graceSeconds: number | undefined;
  /** Aborts the start in progress (image pulls) when the pod is deleted meanwhile. */
  starting: AbortController | undefined;
}

// Upstream minimumGracePeriodInSeconds: at least 2 s between SIGTERM and SIGKILL.
const MIN_CONTAINER_GRACE_SECONDS = 2;
const SYNC_ERROR_BACKOFF_MS = 10_000;

function isTerminalPhase(phase: PodPhase | undefined): boolean {
  return phase === "Succeeded" || phase === "Failed";
}

/**
 * Whether two versions of a pod differ in what the kubelet acts on: spec, labels, annotations,
 * deletion (upstream config/config.go podsDifferSemantically). Status and resourceVersion do not count.
 */
export function podsDifferSemantically(a: Pod, b: Pod): boolean {
  const view = (p: Pod) =>
    JSON.stringify([
      p.spec,
      p.metadata.labels ?? {},
      p.metadata.annotations ?? {},
      p.metadata.deletionTimestamp ?? null,
      p.metadata.deletionGracePeriodSeconds ?? null,
    ]);
  return view(a) !== view(b);
}

/** The grace period a deletion asks for: the shortest of the deletion's and the spec's, at least 1 s. */
export function deletionGraceSeconds(pod: Pod, override?: number): number {
  const candidates = [
    override,
    pod.metadata.deletionGracePeriodSeconds,
    pod.spec.terminationGracePeriodSeconds,
  ].filter((v): v is number => typeof v === "number" && v >= 0);
  const g = candidates.length > 0 ? Math.min(...candidates) : 30;
  return Math.max(1, g);
}

export function createPodWorkers(options: PodWorkersOptions): PodWorkers {
  const { runtime, status, clock } = options;
  const log = options.logger.withName("workers");
  const workers = new Map<string, Worker>();
  const crashBackoff: KeyedBackoff = createKeyedBackoff({
    clock,
    ...(options.backoffInitialMs !== undefined ? { initialMs: options.backoffInitialMs } : {}),
    ...(options.backoffMaxMs !== undefined ? { maxMs: options.backoffMaxMs } : {}),
  });
  const imageBackoff: KeyedBackoff = createKeyedBackoff({
    clock,
    ...(options.backoffInitialMs !== undefined ? { initialMs: options.backoffInitialMs } : {}),
    ...(options.backoffMaxMs !== undefined ? { maxMs: options.backoffMaxMs } : {}),
  });
  const resyncMs = options.resyncIntervalMs ?? 60_000;
  let stopped = false;

  function schedule(w: Worker): void {
    if (stopped) return;
    if (w.running) {
      w.pending = true;
      return;
    }
    w.running = (async () => {
      do {
        w.pending = false;
        try {
          await syncOnce(w);
        } catch (err) {
          log.error("pod sync failed", err, { pod: podDesc(w.pod) });
          retryAt(w, clock.now() + SYNC_ERROR_BACKOFF_MS);
        }
      } while (w.pending && !stopped);
      w.running = undefined;
    })();
  }

  /** Wakes the worker at `atMs` (the earliest of the requested times wins). */
  function retryAt(w: Worker, atMs: number): void {
    if (stopped) return;
    if (w.timer && w.timerAtMs <= atMs) return;
    if (w.timer) clock.clearTimeout(w.timer);
    w.timerAtMs = atMs;
    w.timer = clock.setTimeout(
      () => {
        w.timer = undefined;
        schedule(w);
      },
      Math.max(0, atMs - clock.now()),
    );
  }

  function setStatus(w: Worker, rp: RuntimePod | undefined, terminal: boolean): PodStatus {
    const previous = status.getPodStatus(w.uid) ?? w.pod.status;
    const prober = options.prober;
    let s = computePodStatus(w.pod, {
      ...(prober ? { probes: (name, id, running) => prober.view(w.uid, name, id, running) } : {}),
      runtimePod: rp,
      waiting: w.waiting,
      runtimeName: runtime.name,
      nodeIPs: options.nodeIPs,
      nowMs: clock.now(),
      terminal,
      previous,
    });
    if (w.terminate?.status) {
      const extra = w.terminate.status;
      s = {
        ...s,
        ...extra,
        conditions: [
          ...(s.conditions ?? []).filter((c) => !(extra.conditions ?? []).some((e) => e.type === c.type)),
          ...(extra.conditions ?? []),
        ],
      };
    }
    status.setPodStatus(w.pod, s);
    if (log.enabled(4)) {
      const waiting = (s.containerStatuses ?? []).map(
        (c) => `${c.name}:${c.state.waiting?.reason ?? Object.keys(c.state)[0]}`,
      );
      log.v(4, "pod status computed", { pod: podDesc(w.pod), phase: s.phase, containers: waiting.join(",") });
    }
    return s;
  }

  function specOf(pod: Pod | undefined, name: string): Container | undefined {
    if (!pod) return undefined;
    return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === name);
  }

  function podIPOf(pod: Pod, rp: RuntimePod | undefined): string | undefined {
    if (pod.spec.hostNetwork) return options.nodeIPs[0];
    return (
      rp?.sandboxes.find((sb) => sb.state === "ready")?.ips[0] ??
      status.getPodStatus(pod.metadata.uid!)?.podIP
    );
  }

  /**
   * Stops one container the way upstream's killContainer does: event Killing, the preStop hook
   * within the grace period (its elapsed whole seconds taken off), then at least 2 s between
   * SIGTERM and SIGKILL.
   */
  async function killContainer(
    pod: Pod | undefined,
    rp: RuntimePod | undefined,
    c: Pick<RuntimeContainer, "id" | "name" | "state">,
    graceSeconds: number,
    message?: string,
  ): Promise<void> {
    const spec = specOf(pod, c.name);
    let grace = graceSeconds;
    if (pod && spec) {
      options.events?.record(pod, {
        type: "Normal",
        reason: "Killing",
        message: message ?? `Stopping container ${c.name}`,
        fieldPath: containerFieldPath(pod, c.name),
      });
      const preStop = spec.lifecycle?.preStop;
      if (preStop && grace > 0 && c.state === "running") {
        const t0 = clock.now();
        const bound = new AbortController();
        const hook = runHook(
          pod,
          { runtime, clock, container: spec, containerId: c.id, podIP: podIPOf(pod, rp) },
          preStop,
          clock,
          { timeoutMs: grace * 1000, signal: bound.signal },
        );
        const outcome = await Promise.race([
          hook,
          clock.sleep(grace * 1000, bound.signal).then(
            () => ({ error: undefined, timedOut: true }),
            () => ({ error: undefined, timedOut: false }),
          ),
        ]);
        bound.abort();
        if ("timedOut" in outcome && outcome.timedOut)
          log.info("preStop hook did not finish within the grace period", {
            pod: podDesc(pod),
            container: c.name,
          });
        if (outcome.error) {
          log.warn("preStop hook failed", { pod: podDesc(pod), container: c.name, err: outcome.error });
          // The event leaves the hook's output out, as upstream does (it may hold secrets).
          options.events?.record(pod, {
            type: "Warning",
            reason: "FailedPreStopHook",
            message: "PreStopHook failed",
            fieldPath: containerFieldPath(pod, c.name),
          });
        }
        grace -= Math.floor((clock.now() - t0) / 1000);
      }
    }
    await runtime.stopContainer(c.id, Math.max(MIN_CONTAINER_GRACE_SECONDS, grace));
  }

  async function stopContainers(pod: Pod | undefined, rp: RuntimePod, graceSeconds: number): Promise<void> {
    // KillPod stops all containers in parallel, each with at least 2 s of grace.
    const results = await Promise.allSettled(
      rp.containers
        .filter((c) => c.state === "running" || c.state === "created" || c.state === "unknown")
        .map((c) => killContainer(pod, rp, c, graceSeconds)),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length > 0)
      throw new AggregateError(
        failed.map((f) => f.reason),
        "stopping containers failed",
      );
  }

  async function killPod(rp: RuntimePod | undefined, graceSeconds: number, pod?: Pod): Promise<void> {
    if (!rp) return;
    await stopContainers(pod, rp, graceSeconds);
    for (const sb of rp.sandboxes) if (sb.state === "ready") await runtime.stopSandbox(sb.id);
  }

  async function removeRuntimePod(rp: RuntimePod | undefined): Promise<void> {
    if (!rp) return;
    const errors: unknown[] = [];
    for (const c of rp.containers) await runtime.removeContainer(c.id).catch((e) => errors.push(e));
    for (const sb of rp.sandboxes) await runtime.removeSandbox(sb.id).catch((e) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, `removing pod ${rp.namespace}/${rp.name} failed`);
  }

  // When each exited container was first seen exited, on the kubelet's clock (bounded: pruned below).
  const exitSeen = new Map<string, number>();
  function exitSeenMs(c: RuntimeContainer): number {
    let t = exitSeen.get(c.id);
    if (t === undefined) {
      t = clock.now();
      exitSeen.set(c.id, t);
      if (exitSeen.size > 10_000) exitSeen.delete(exitSeen.keys().next().value!);
    }
    return t;
  }

  function crashKey(pod: Pod, name: string, hash: string): string {
    return `${pod.metadata.name}_${pod.metadata.namespace}_${pod.metadata.uid}_${name}_${hash}`;
  }

  /** Removes dead containers of `name` beyond the newest one kept for lastState (container GC). */
  async function pruneDead(rp: RuntimePod, name: string, keepId: string): Promise<void> {
    const dead = rp.containers.filter((c) => c.name === name && c.id !== keepId && c.state === "exited");
    for (const c of dead.slice(1)) await runtime.removeContainer(c.id);
  }

  /**
   * Sets up (refreshes) the pod's volumes on every sync, so configMap/secret/token changes reach
   * running containers within the sync period. A failure only holds back container starts.
   */
  async function setupVolumes(w: Worker): Promise<{ handle?: PodVolumesHandle; error?: unknown }> {
    if (!options.setup) return {};
    try {
      return { handle: await options.setup.setupVolumes(w.pod) };
    } catch (err) {
      log.warn("pod volumes not ready", {
        pod: podDesc(w.pod),
        err: err instanceof Error ? err.message : String(err),
      });
      options.setup.reportVolumeFailure?.(w.pod, err);
      return { error: err ?? new Error("volume setup failed") };
    }
  }

  async function startContainers(
    w: Worker,
    rp: RuntimePod | undefined,
    volumes: { handle?: PodVolumesHandle; error?: unknown },
  ): Promise<RuntimePod | undefined> {
    const pod = w.pod;
    const prober = options.prober;
    const actions = computePodActions(
      pod,
      rp,
      prober ? (c) => prober.failed(w.uid, c.name, c.id) : undefined,
    );
    if (actions.killPod) {
      log.v(2, "replacing the pod sandbox", { pod: podDesc(pod) });
      await killPod(rp, pod.spec.terminationGracePeriodSeconds ?? 30, pod);
    }
    for (const k of actions.kill) {
      log.info("killing container", { pod: podDesc(pod), container: k.container.name, reason: k.message });
      // A probe's own terminationGracePeriodSeconds wins for liveness/startup kills.
      const spec = specOf(pod, k.container.name);
      const probe =
        k.probe === "liveness" ? spec?.livenessProbe : k.probe === "startup" ? spec?.startupProbe : undefined;
      const grace = probe?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      await killContainer(pod, rp, k.container, grace, k.message);
    }
    if (actions.start.length === 0) return actions.killPod ? runtime.getPod(w.uid) : rp;
    if (volumes.error !== undefined) {
      // Upstream waits for the volumes (FailedMount events) with the containers in ContainerCreating:
      // nothing of this pod starts until they are ready, and other pods are unaffected.
      const message = volumes.error instanceof Error ? volumes.error.message : String(volumes.error);
      for (const { container } of actions.start)
        w.waiting.set(container.name, { reason: "ContainerCreating", message });
      retryAt(w, clock.now() + SYNC_ERROR_BACKOFF_MS);
      return actions.killPod ? runtime.getPod(w.uid) : rp;
    }
    let sandbox: RuntimeSandbox | undefined = actions.sandbox;
    if (actions.createSandboxAttempt !== undefined) {
      try {
        sandbox = await runtime.runSandbox(pod, actions.createSandboxAttempt);
      } catch (err) {
        log.error("creating the pod sandbox failed", err, { pod: podDesc(pod) });
        // Upstream (kuberuntime SyncPod): a Warning FailedCreatePodSandBox event with the runtime's error.
        const text = err instanceof Error ? err.message : String(err);
        options.events?.record(pod, {
          type: "Warning",
          reason: "FailedCreatePodSandBox",
          message: text.startsWith("Failed to create pod sandbox")
            ? text
            : `Failed to create pod sandbox: ${text}`,
        });
        retryAt(w, clock.now() + SYNC_ERROR_BACKOFF_MS);
        return runtime.getPod(w.uid);
      }
    }
    const podIPs = sandbox?.ips ?? [];
    const secrets = pod.spec.imagePullSecrets?.length ? await options.pullSecrets(pod) : [];
    const signal = w.starting?.signal;
    for (const { container, restartCount, previous } of actions.start) {
      // Deleted (or kubelet stopping) while starting: leave the rest to termination.
      if (stopped || signal?.aborted) break;
      // Crash-loop backoff, counted from the previous container's exit (doBackOff). Upstream takes
      // the runtime's finishedAt; we take when this kubelet first saw the exit on its own clock
      // (at most one relist later), so an injected clock never mixes with the runtime's.
      if (previous && previous.state === "exited") {
        const key = crashKey(pod, container.name, containerHash(container));
        const exitedMs = exitSeenMs(previous);
        if (crashBackoff.inBackoffSince(key, exitedMs)) {
          w.waiting.set(container.name, {
            reason: "CrashLoopBackOff",
            message: `back-off ${goDuration(crashBackoff.get(key))} restarting failed container=${container.name} pod=${podDesc(pod)}`,
          });
          retryAt(w, crashBackoff.expiresAt(key, exitedMs));
          continue;
        }
        crashBackoff.next(key, exitedMs);
      }
      const image = container.image ?? "";
      const imageKey = `${pod.metadata.uid}_${image}`;
      let imageRef: string;
      // Like upstream, a failed sync is retried after the pod-sync backoff (10 s) while the image
      // backoff grows from 10 s: retries inside the image backoff show ImagePullBackOff.
      if (imageBackoff.inBackoffSinceUpdate(imageKey)) {
        w.waiting.set(container.name, {
          reason: "ImagePullBackOff",
          message: `Back-off pulling image "${image}"`,
        });
        retryAt(w, Math.min(imageBackoff.updateExpiresAt(imageKey), clock.now() + SYNC_ERROR_BACKOFF_MS));
        continue;
      }
      try {
        imageRef = await runtime.ensureImage(pod, container, secrets, signal);
      } catch (err) {
        if (signal?.aborted) break;
        const e =
          err instanceof RuntimeStepError
            ? err
            : new RuntimeStepError("ErrImagePull", String(err), { cause: err });
        if (e.reason === "ErrImagePull") imageBackoff.next(imageKey, clock.now());
        retryAt(w, clock.now() + SYNC_ERROR_BACKOFF_MS);
        log.warn("image not available", {
          pod: podDesc(pod),
          container: container.name,
          reason: e.reason,
          err: e.message,
        });
        w.waiting.set(container.name, { reason: e.reason, message: e.message });
        continue;
      }
      try {
        const prepared = options.setup
          ? await options.setup.prepareContainer(pod, container, podIPs, volumes.handle)
          : undefined;
        const id = await runtime.startContainer({
          pod,
          container,
          sandbox: sandbox!,
          imageRef,
          restartCount,
          ...(prepared ? { env: prepared.env, mounts: prepared.mounts } : {}),
        });
        w.waiting.delete(container.name);
        const postStart = container.lifecycle?.postStart;
        if (postStart) {
          const outcome = await runHook(
            pod,
            {
              runtime,
              clock,
              container,
              containerId: id,
              podIP: pod.spec.hostNetwork ? options.nodeIPs[0] : sandbox!.ips[0],
            },
            postStart,
            clock,
          );
          if (outcome.error) {
            // kuberuntime startContainer: event FailedPostStartHook (without the hook's output), the
            // container killed, the start failed with PostStartHookError and the hook's message.
            log.warn("postStart hook failed", {
              pod: podDesc(pod),
              container: container.name,
              err: outcome.error,
            });
            options.events?.record(pod, {
              type: "Warning",
              reason: "FailedPostStartHook",
              message: "PostStartHook failed",
              fieldPath: containerFieldPath(pod, container.name),
            });
            await killContainer(
              pod,
              rp,
              { id, name: container.name, state: "running" },
              pod.spec.terminationGracePeriodSeconds ?? 30,
              "FailedPostStartHook",
            ).catch((err) =>
              log.warn("killing the container after its failed postStart hook failed", { err: String(err) }),
            );
            w.waiting.set(container.name, { reason: "PostStartHookError", message: outcome.error });
            retryAt(w, clock.now() + SYNC_ERROR_BACKOFF_MS);
          }
        }
        if (rp)
          await pruneDead(rp, container.name, id).catch((err) =>
            log.warn("removing dead containers failed", { err: String(err) }),
          );
        log.v(2, "container started", { pod: podDesc(pod), container: container.name, restartCount });
      } catch (err) {
        const e =
          err instanceof RuntimeStepError
            ? err
            : new RuntimeStepError("RunContainerError", String(err), { cause: err });
        log.warn("starting container failed", {
          pod: podDesc(pod),
          container: container.name,
          reason: e.reason,
          err: e.message,
        });
        w.waiting.set(container.name, { reason: e.reason, message: e.message });
        retryAt(w, clock.now() + SYNC_ERROR_BACKOFF_MS);
      }
    }
    return runtime.getPod(w.uid);
  }

  /** Tears the pod's volumes down once its containers are stopped (failures retried by housekeeping). */
  async function releaseVolumes(w: Worker): Promise<void> {
    if (!options.setup) return;
    try {
      await options.setup.teardown(w.uid);
    } catch (err) {
      log.warn("tearing down pod volumes failed; will retry", { pod: podDesc(w.pod), err: String(err) });
    }
  }

  async function terminate(w: Worker, rp: RuntimePod | undefined): Promise<void> {
    const grace = w.graceSeconds ?? deletionGraceSeconds(w.pod, w.terminate?.gracePeriodSeconds);
    log.info("terminating pod", { pod: podDesc(w.pod), gracePeriodSeconds: grace });
    await killPod(rp, grace, w.pod);
    options.prober?.removePod(w.uid);
    await releaseVolumes(w);
    w.waiting.clear();
    const after = await runtime.getPod(w.uid);
    setStatus(w, after, true);
    w.state = "terminated";
    status.podTerminated(w.pod);
  }

  async function syncOnce(w: Worker): Promise<void> {
    if (w.timer) {
      clock.clearTimeout(w.timer);
      w.timer = undefined;
    }
    let rp = await runtime.getPod(w.uid);
    if (w.removed) {
      if (w.state !== "terminated") await terminate(w, rp);
      await removeRuntimePod(await runtime.getPod(w.uid));
      await releaseVolumes(w);
      workers.delete(w.uid);
      options.prober?.removePod(w.uid);
      status.forget(w.uid);
      release(w);
      return;
    }
    if (w.state === "syncing" && (w.pod.metadata.deletionTimestamp || w.terminate)) {
      w.state = "terminating";
    }
    if (w.state === "terminating") {
      await terminate(w, rp);
      release(w);
      return;
    }
    if (w.state === "terminated") {
      // Finished pods keep their containers (for logs) until removed; their status may need a refresh.
      release(w);
      return;
    }
    const known = status.getPodStatus(w.uid) ?? w.pod.status;
    if (isTerminalPhase(known?.phase)) {
      // Already finished (e.g. seen by an earlier kubelet): never start anything again.
      await killPod(rp, 1, w.pod);
      options.prober?.removePod(w.uid);
      w.state = "terminated";
      setStatus(w, await runtime.getPod(w.uid), true);
      release(w);
      return;
    }
    if (!w.admitted) {
      // A pod whose containers exist was admitted by an earlier kubelet: adopt it as it is.
      if (!rp || rp.containers.length === 0) {
        const verdict = await options.admit(w.pod);
        if (!verdict.admit) {
          log.warn("pod rejected at admission", { pod: podDesc(w.pod), reason: verdict.reason });
          w.state = "terminated";
          // Upstream rejectPod: phase Failed with the handler's reason and message.
          status.setPodStatus(w.pod, {
            ...(known ?? {}),
            phase: "Failed",
            reason: verdict.reason,
            message: `Pod was rejected: ${verdict.message}`,
          });
          release(w);
          return;
        }
      }
      w.admitted = true;
    }
    options.prober?.addPod(w.pod);
    // Like upstream's SyncPod, report the status first (ContainerCreating while images pull).
    setStatus(w, rp, false);
    const volumes = await setupVolumes(w);
    w.starting = new AbortController();
    try {
      rp = await startContainers(w, rp, volumes);
    } finally {
      w.starting = undefined;
    }
    if (w.pending && (w.removed || w.terminate || w.pod.metadata.deletionTimestamp)) return; // terminate next
    // A start error only shows while the container is still due to start (upstream's reason cache is
    // consulted only when ShouldContainerBeRestarted).
    const latest = latestByName(rp);
    for (const name of [...w.waiting.keys()]) {
      const c = latest.get(name);
      if (c && (c.state === "running" || !shouldRestart(w.pod, c))) w.waiting.delete(name);
    }
    const s = setStatus(w, rp, false);
    if (isTerminalPhase(s.phase)) {
      log.info("pod finished", { pod: podDesc(w.pod), phase: s.phase });
      await killPod(rp, 1, w.pod);
      options.prober?.removePod(w.uid);
      await releaseVolumes(w);
      w.state = "terminated";
      setStatus(w, await runtime.getPod(w.uid), true);
      release(w);
      return;
    }
    retryAt(w, clock.now() + resyncMs);
  }

  function release(w: Worker): void {
    const waiters = w.waiters.splice(0);
    for (const r of waiters) r();
  }

  function workerFor(pod: Pod): Worker {
    const uid = pod.metadata.uid!;
    let w = workers.get(uid);
    if (!w) {
      w = {
        uid,
        pod,
        state: "syncing",
        admitted: false,
        removed: false,
        terminate: undefined,
        waiting: new Map(),
        running: undefined,
        pending: false,
        timer: undefined,
        timerAtMs: 0,
        waiters: [],
        graceSeconds: undefined,
        starting: undefined,
      };
      workers.set(uid, w);
    }
    return w;
  }

  return {
    update(pod) {
      if (!pod.metadata.uid) return;
      const existing = workers.get(pod.metadata.uid);
      const w = workerFor(pod);
      const changed = !existing || podsDifferSemantically(existing.pod, pod);
      w.pod = pod;
      // Like upstream's pod config, a status-only update (often our own write) is not a reason to
      // sync: it would cut backoffs short.
      if (!changed) return;
      if (pod.metadata.deletionTimestamp) w.starting?.abort();
      if (pod.metadata.deletionTimestamp) {
        const g = deletionGraceSeconds(pod, w.terminate?.gracePeriodSeconds);
        w.graceSeconds = w.graceSeconds === undefined ? g : Math.min(w.graceSeconds, g);
      }
      schedule(w);
    },
    remove(uid) {
      const w = workers.get(uid);
      if (!w) return;
      w.removed = true;
      w.starting?.abort();
      schedule(w);
    },
    kill(pod, request) {
      const w = workerFor(pod);
      if (w.state === "terminated") return Promise.resolve();
      w.terminate = request;
      if (request.gracePeriodSeconds !== undefined) {
        const g = Math.max(1, request.gracePeriodSeconds);
        w.graceSeconds = w.graceSeconds === undefined ? g : Math.min(w.graceSeconds, g);
      }
      const done = new Promise<void>((resolve) => w.waiters.push(resolve));
      w.starting?.abort();
      schedule(w);
      return done;
    },
    sync(uid) {
      const w = workers.get(uid);
      if (w) schedule(w);
    },
    activePods() {
      return [...workers.values()]
        .filter((w) => w.admitted && w.state === "syncing" && !w.removed)
        .map((w) => w.pod);
    },
    knownUids: () => new Set(workers.keys()),
    async cleanupOrphans(runtimePods) {
      const errors: unknown[] = [];
      for (const rp of runtimePods) {
        if (workers.has(rp.uid)) continue;
        log.info("removing an orphaned pod", { pod: `${rp.name}_${rp.namespace}(${rp.uid})` });
        try {
          // Unknown runtime pods are killed with a 1 s grace override (housekeeping).
          await killPod(rp, 1);
          await removeRuntimePod(await runtime.getPod(rp.uid));
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, "cleaning up orphaned pods failed");
    },
    async stop() {
      stopped = true;
      for (const w of workers.values()) {
        w.starting?.abort();
        if (w.timer) clock.clearTimeout(w.timer);
        w.timer = undefined;
      }
      await Promise.allSettled([...workers.values()].map((w) => w.running));
    },
  };
}
