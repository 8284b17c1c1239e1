// The probe manager: one worker per (pod, container, probe type) on the kubelet's clock (upstream
// pkg/kubelet/prober: prober_manager.go, worker.go, prober.go). Workers read the container's state
// from the status the kubelet last computed and keep a result per container ID; the pod workers ask
// for `started` / `ready` when they compute a status and for liveness failures when they sync.
import type { Clock, Logger, TimerHandle } from "@kubenode/kube";
import { type Container, type Pod, type PodStatus, type Probe, podDesc } from "../api.js";
import type { PodRuntime } from "../runtime/types.js";
import { containerFieldPath, type PodEventRecorder } from "./events.js";
import {
  execProbe,
  type HandlerTarget,
  type ProbeOutcome,
  runGrpc,
  runHttpGet,
  runTcpSocket,
} from "./handlers.js";
import type { ProbeIdentity, ProbeMetrics } from "./metrics.js";

export type ProbeType = "liveness" | "readiness" | "startup";

/** What the status of one container says, as the prober reads it. */
export interface ProbeView {
  /** Running and past its startup probe (or it has none). */
  started: boolean;
  /** Started and past its readiness probe (or it has none). */
  ready: boolean;
}

/** Options of {@link createProber}. */
export interface ProberOptions {
  runtime: PodRuntime;
  clock: Clock;
  logger: Logger;
  /** The status the kubelet last computed for a pod (upstream reads the status manager). */
  podStatus(uid: string): PodStatus | undefined;
  /** A result changed: the pod needs a sync (liveness/startup) or a new status (readiness). */
  onChange(uid: string, type: ProbeType): void;
  events?: PodEventRecorder;
  /** Random source in [0, 1) for the first probe's delay; tests pass a fixed one. */
  random?: () => number;
  /** Where probe results and durations are counted (/metrics/probes). */
  metrics?: ProbeMetrics;
}

export interface Prober {
  /** Starts workers for a pod's probes (idempotent); later calls refresh the pod (deletion). */
  addPod(pod: Pod): void;
  /** Stops a pod's workers and forgets their results. */
  removePod(uid: string): void;
  /** `started` / `ready` of a container from the probe results for its current ID. */
  view(uid: string, containerName: string, containerId: string | undefined, running: boolean): ProbeView;
  /** Why a running container must be killed: its liveness or startup probe failed. */
  failed(uid: string, containerName: string, containerId: string): "liveness" | "startup" | undefined;
  /** Stops every worker. */
  stop(): void;
}

// Upstream probe defaults (pkg/apis/core/v1/defaults.go SetDefaults_Probe).
const DEFAULT_PERIOD_SECONDS = 10;
const DEFAULT_TIMEOUT_SECONDS = 1;
const DEFAULT_SUCCESS_THRESHOLD = 1;
const DEFAULT_FAILURE_THRESHOLD = 3;
/** prober.go maxProbeRetries: attempts per round while the probe errors. */
const MAX_PROBE_ATTEMPTS = 3;

/** A probe with the API defaults applied. */
export interface ProbeSettings {
  periodMs: number;
  timeoutMs: number;
  initialDelayMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export function probeSettings(p: Probe): ProbeSettings {
  const positive = (v: number | undefined, d: number) => (typeof v === "number" && v > 0 ? v : d);
  return {
    periodMs: positive(p.periodSeconds, DEFAULT_PERIOD_SECONDS) * 1000,
    timeoutMs: positive(p.timeoutSeconds, DEFAULT_TIMEOUT_SECONDS) * 1000,
    initialDelayMs: Math.max(0, p.initialDelaySeconds ?? 0) * 1000,
    successThreshold: positive(p.successThreshold, DEFAULT_SUCCESS_THRESHOLD),
    failureThreshold: positive(p.failureThreshold, DEFAULT_FAILURE_THRESHOLD),
  };
}

type Result = "success" | "failure" | "unknown";

interface Worker {
  uid: string;
  container: Container;
  type: ProbeType;
  probe: Probe;
  settings: ProbeSettings;
  /** The container the result below is for. */
  containerId: string | undefined;
  result: Result;
  lastResult: Result;
  resultRun: number;
  /** After a liveness/startup failure: no more probes until the container is replaced. */
  onHold: boolean;
  firstDone: boolean;
  probing: boolean;
  stopped: boolean;
  timer: TimerHandle | undefined;
  /** The labels of this probe's metrics. */
  metric: ProbeIdentity;
}

const TYPE_NAMES: Record<ProbeType, string> = {
  liveness: "Liveness",
  readiness: "Readiness",
  startup: "Startup",
};

/**
 * Upstream's initial results: readiness starts failed (a container is not ready until a probe
 * says so), liveness succeeded, startup unknown.
 */
export function initialResult(type: ProbeType): Result {
  return type === "readiness" ? "failure" : type === "liveness" ? "success" : "unknown";
}

function parseContainerId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const i = id.indexOf("://");
  return i >= 0 ? id.slice(i + 3) : id;
}

/** Creates the probe manager. */
export function createProber(options: ProberOptions): Prober {
  const { clock, runtime } = options;
  const log = options.logger.withName("prober");
  const random = options.random ?? Math.random;
  const startedAtMs = clock.now();
  const pods = new Map<string, Pod>();
  const workers = new Map<string, Map<string, Worker>>(); // uid -> "<type>/<container>" -> worker
  let stopped = false;

  const key = (type: ProbeType, name: string) => `${type}/${name}`;

  function setResult(w: Worker, result: Result, notify: boolean): void {
    if (w.result === result) return;
    w.result = result;
    if (notify) options.onChange(w.uid, w.type);
  }

  function target(status: PodStatus, w: Worker): HandlerTarget {
    return { runtime, clock, container: w.container, containerId: w.containerId!, podIP: status.podIP };
  }

  function run(status: PodStatus, w: Worker): Promise<ProbeOutcome> {
    const t = target(status, w);
    const p = w.probe;
    const timeoutMs = w.settings.timeoutMs;
    if (p.exec) return execProbe(runtime, t.containerId, p.exec.command ?? [], timeoutMs);
    if (p.httpGet) return runHttpGet(t, p.httpGet, timeoutMs);
    if (p.tcpSocket) return runTcpSocket(t, p.tcpSocket, timeoutMs);
    if (p.grpc) return runGrpc(t, p.grpc, timeoutMs);
    return Promise.resolve({ result: "unknown", output: "missing probe handler" });
  }

  function containerStatus(status: PodStatus, w: Worker) {
    return [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])].find(
      (c) => c.name === w.container.name,
    );
  }

  /** One probe round (upstream worker.doProbe); false stops the worker. */
  async function doProbe(w: Worker): Promise<boolean> {
    const pod = pods.get(w.uid);
    const status = options.podStatus(w.uid);
    if (!pod || !status) return true;
    if (status.phase === "Succeeded" || status.phase === "Failed") return false;
    const cs = containerStatus(status, w);
    const id = parseContainerId(cs?.containerID);
    if (!cs || !id) return true;
    if (w.containerId !== id) {
      // A new container: start over from the initial result.
      w.containerId = id;
      w.onHold = false;
      w.lastResult = "unknown";
      w.resultRun = 0;
      setResult(w, initialResult(w.type), false);
    }
    if (w.onHold) return true;
    if (!cs.state.running) {
      setResult(w, "failure", w.type === "readiness");
      return !(cs.state.terminated && pod.spec.restartPolicy === "Never");
    }
    // A pod being deleted keeps running until stopped: liveness and startup no longer matter.
    if (pod.metadata.deletionTimestamp && w.type !== "readiness") {
      setResult(w, "success", false);
      return true;
    }
    const startedAt = Date.parse(cs.state.running.startedAt ?? "");
    if (Number.isFinite(startedAt) && clock.now() - startedAt < w.settings.initialDelayMs) return true;
    // The startup probe runs until the container started; the others only after.
    if (cs.started === true ? w.type === "startup" : w.type !== "startup") return true;
    const probeStartMs = clock.now();
    // runProbeWithRetries: a probe that errors (cannot be run, as opposed to failing) is tried up
    // to MAX_PROBE_ATTEMPTS times in this round before its result is thrown away.
    let outcome: ProbeOutcome = { result: "unknown", output: "" };
    for (let attempt = 0; attempt < MAX_PROBE_ATTEMPTS && !w.stopped; attempt++) {
      outcome = await run(status, w).catch(
        (err): ProbeOutcome => ({
          result: "unknown",
          output: err instanceof Error ? err.message : String(err),
        }),
      );
      if (outcome.result !== "unknown") break;
    }
    if (w.stopped || w.containerId !== id) return !w.stopped;
    const name = TYPE_NAMES[w.type];
    const fieldPath = containerFieldPath(pod, w.container.name);
    if (outcome.result !== "unknown")
      options.metrics?.observe(
        w.metric,
        outcome.result === "success" ? "successful" : "failed",
        (clock.now() - probeStartMs) / 1000,
      );
    if (outcome.result === "unknown") {
      // A prober error throws the result away (worker.go); the event says why.
      options.events?.record(pod, {
        type: "Warning",
        reason: "Unhealthy",
        message: `${name} probe errored and resulted in unknown state: ${outcome.output}`,
        fieldPath,
      });
      log.v(1, "probe errored", {
        pod: podDesc(pod),
        container: w.container.name,
        probe: w.type,
        err: outcome.output,
      });
      return true;
    }
    if (outcome.result === "failure") {
      options.events?.record(pod, {
        type: "Warning",
        reason: "Unhealthy",
        message: `${name} probe failed: ${outcome.output}`,
        fieldPath,
      });
      log.v(1, "probe failed", {
        pod: podDesc(pod),
        container: w.container.name,
        probe: w.type,
        output: outcome.output,
      });
    } else if (outcome.warning) {
      options.events?.record(pod, {
        type: "Warning",
        reason: "ProbeWarning",
        message: `${name} probe warning: ${outcome.output}`,
        fieldPath,
      });
    }
    if (w.lastResult === outcome.result) w.resultRun++;
    else {
      w.lastResult = outcome.result;
      w.resultRun = 1;
    }
    const threshold =
      outcome.result === "failure" ? w.settings.failureThreshold : w.settings.successThreshold;
    if (w.resultRun < threshold) return true;
    setResult(w, outcome.result, true);
    if (w.type !== "readiness" && outcome.result === "failure") {
      // Liveness/startup failed: the container is killed; probe again only once it is replaced.
      w.onHold = true;
      w.resultRun = 0;
    }
    return true;
  }

  function tick(w: Worker): void {
    w.timer = undefined;
    if (w.stopped || stopped) return;
    const t0 = clock.now();
    w.probing = true;
    void doProbe(w)
      .catch((err) => {
        log.error("probe round failed", err, { container: w.container.name, probe: w.type });
        return true;
      })
      .then((keep) => {
        w.probing = false;
        w.firstDone = true;
        if (!keep) return stopWorker(w);
        if (w.stopped || stopped) return;
        // A ticker: the next round is one period after this one started.
        w.timer = clock.setTimeout(() => tick(w), Math.max(0, t0 + w.settings.periodMs - clock.now()));
      });
  }

  function stopWorker(w: Worker): void {
    w.stopped = true;
    options.metrics?.forget(w.metric);
    if (w.timer) clock.clearTimeout(w.timer);
    w.timer = undefined;
    workers.get(w.uid)?.delete(key(w.type, w.container.name));
  }

  function addWorker(pod: Pod, uid: string, container: Container, type: ProbeType, probe: Probe): void {
    let byKey = workers.get(uid);
    if (!byKey) {
      byKey = new Map();
      workers.set(uid, byKey);
    }
    const k = key(type, container.name);
    if (byKey.has(k)) return;
    const w: Worker = {
      uid,
      container,
      type,
      probe,
      settings: probeSettings(probe),
      containerId: undefined,
      result: initialResult(type),
      lastResult: "unknown",
      resultRun: 0,
      onHold: false,
      firstDone: false,
      probing: false,
      stopped: false,
      timer: undefined,
      metric: {
        probeType: TYPE_NAMES[type],
        container: container.name,
        pod: pod.metadata.name ?? "",
        namespace: pod.metadata.namespace ?? "",
        podUid: uid,
      },
    };
    byKey.set(k, w);
    // A kubelet that just started would probe every pod at once: the first round waits a random
    // part of the period then (worker.go run).
    const period = w.settings.periodMs;
    const delay = clock.now() - startedAtMs < period ? Math.floor(random() * period) : 0;
    w.timer = clock.setTimeout(() => tick(w), delay);
  }

  function getWorker(uid: string, type: ProbeType, name: string): Worker | undefined {
    return workers.get(uid)?.get(key(type, name));
  }

  /** Probe now (a container not ready yet is probed at once, like upstream's manual trigger). */
  function trigger(w: Worker): void {
    if (!w.firstDone || w.probing || w.stopped || stopped) return;
    if (w.timer) clock.clearTimeout(w.timer);
    w.timer = clock.setTimeout(() => tick(w), 0);
  }

  return {
    addPod(pod) {
      if (stopped || !pod.metadata.uid) return;
      const uid = pod.metadata.uid;
      pods.set(uid, pod);
      const containers = [
        ...pod.spec.containers,
        ...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
      ];
      for (const c of containers) {
        if (c.startupProbe) addWorker(pod, uid, c, "startup", c.startupProbe);
        if (c.livenessProbe) addWorker(pod, uid, c, "liveness", c.livenessProbe);
        if (c.readinessProbe) addWorker(pod, uid, c, "readiness", c.readinessProbe);
      }
    },
    removePod(uid) {
      for (const w of [...(workers.get(uid)?.values() ?? [])]) stopWorker(w);
      workers.delete(uid);
      pods.delete(uid);
    },
    view(uid, name, containerId, running) {
      const id = parseContainerId(containerId);
      if (!running || !id) return { started: false, ready: false };
      const startup = getWorker(uid, "startup", name);
      const started = startup ? startup.containerId === id && startup.result === "success" : true;
      if (!started) return { started, ready: false };
      const readiness = getWorker(uid, "readiness", name);
      if (!readiness) return { started, ready: true };
      const ready = readiness.containerId === id && readiness.result === "success";
      if (!ready) trigger(readiness);
      return { started, ready };
    },
    failed(uid, name, containerId) {
      for (const type of ["liveness", "startup"] as const) {
        const w = getWorker(uid, type, name);
        if (w && w.containerId === containerId && w.result === "failure") return type;
      }
      return undefined;
    },
    stop() {
      stopped = true;
      for (const byKey of workers.values()) for (const w of [...byKey.values()]) stopWorker(w);
      workers.clear();
      pods.clear();
    },
  };
}
