import type { SignSpec } from "../certs.js";
import type { ApiCore } from "../core.js";
import type { ResourceDef } from "../resources.js";
import { StatusFailure } from "../status.js";
import type { StorageEvent, StorageSubscription } from "../storage.js";
import { type Controller, type ControllerContext, eventRecorder } from "./context.js";
import { createCronJobController } from "./cron-job.js";
import { createCsrApprover } from "./csr-approver.js";
import { createCsrSigner } from "./csr-signer.js";
import { createDaemonSetController } from "./daemon-set.js";
import { createDeploymentController } from "./deployment.js";
import { createEndpointSliceController } from "./endpoint-slices.js";
import { startGarbageCollector } from "./garbage-collector.js";
import { createJobController } from "./job.js";
import { createNamespaceController } from "./namespaces.js";
import { createNodeLifecycleController } from "./node-lifecycle.js";
import { createReplicaSetController } from "./replica-set.js";
import { createScheduler } from "./scheduler.js";
import { createStatefulSetController } from "./stateful-set.js";

/** Handle on the running dev controllers. */
export interface ControllerSet {
  pause(): void;
  resume(): void;
  stop(): void;
  /** Runs every enabled controller once and waits for queued garbage collection. */
  syncAll(): Promise<void>;
}

export interface ControllerConfig {
  scheduler?: boolean;
  endpointSlices?: boolean;
  nodeLifecycle?: boolean;
  namespaces?: boolean;
  /** Deployment and ReplicaSet controllers (apps/v1). */
  deployments?: boolean;
  /** DaemonSet controller (apps/v1). */
  daemonSets?: boolean;
  /** StatefulSet controller (apps/v1). */
  statefulSets?: boolean;
  /** Job controller (batch/v1). */
  jobs?: boolean;
  /** CronJob controller (batch/v1). */
  cronJobs?: boolean;
  syncIntervalMs: number;
  nodeMonitorGracePeriodSeconds: number;
  /** CertificateSigningRequest approver (kubelet client certificates) and signer. */
  certificates?: boolean;
  /** CA bundle published as ConfigMap kube-root-ca.crt in every namespace (root-ca-cert-publisher). */
  caPem?: string;
  /** Signs with the cluster CA (the CSR signer needs it; absent without TLS). */
  signCertificate?: (spec: SignSpec) => string;
}

/**
 * Starts the dev controllers plus the always-on garbage collector. Each controller lives in its
 * own module and is level-triggered: it re-reads the state it manages on every sync, which runs
 * after changes it watches (coalesced) and on the periodic resync.
 */
export function startControllers(core: ApiCore, cfg: ControllerConfig): ControllerSet {
  const storage = core.storage;
  let paused = false;
  let stopped = false;
  const subs: StorageSubscription[] = [];
  const pending = new Set<string>();
  const controllers = new Map<string, Controller>();
  const rethrow = (e: unknown): void => {
    // controllers retry on the next trigger or resync, like their upstream work queues
    if (!(e instanceof StatusFailure))
      queueMicrotask(() => {
        throw e;
      });
  };
  const runSafe = (name: string): void => {
    try {
      controllers.get(name)?.sync();
    } catch (e) {
      if (process.env.KUBENODE_APISERVER_DEBUG) console.error(`controller ${name}:`, e);
      rethrow(e);
    }
  };
  const trigger = (name: string): void => {
    if (stopped || !controllers.has(name) || pending.has(name)) return;
    pending.add(name);
    setImmediate(() => {
      pending.delete(name);
      if (!paused && !stopped) runSafe(name);
    });
  };
  const watch = (def: ResourceDef, fn: (e: StorageEvent) => void): void => {
    const s = storage.subscribe(def.key, storage.resourceVersion, fn);
    if (s !== "expired") subs.push(s);
  };
  const queue: (() => void)[] = [];
  let queueScheduled = false;
  const drain = (): void => {
    queueScheduled = false;
    if (paused || stopped) return;
    while (queue.length) {
      const task = queue.shift()!;
      try {
        task();
      } catch (e) {
        rethrow(e);
      }
    }
  };
  const enqueue = (task: () => void): void => {
    queue.push(task);
    if (!queueScheduled) {
      queueScheduled = true;
      setImmediate(drain);
    }
  };
  const ctx: ControllerContext = { core, storage, watch, trigger, enqueue, recordEvent: eventRecorder(core) };

  startGarbageCollector(ctx);
  const enabled: Controller[] = [];
  if (cfg.scheduler !== false) enabled.push(createScheduler(ctx));
  if (cfg.endpointSlices !== false) enabled.push(createEndpointSliceController(ctx));
  if (cfg.nodeLifecycle !== false)
    enabled.push(createNodeLifecycleController(ctx, cfg.nodeMonitorGracePeriodSeconds));
  if (cfg.namespaces !== false) enabled.push(createNamespaceController(ctx, cfg.caPem));
  if (cfg.deployments !== false) {
    enabled.push(createReplicaSetController(ctx));
    enabled.push(createDeploymentController(ctx));
  }
  if (cfg.daemonSets !== false) enabled.push(createDaemonSetController(ctx));
  if (cfg.statefulSets !== false) enabled.push(createStatefulSetController(ctx));
  if (cfg.jobs !== false) enabled.push(createJobController(ctx));
  if (cfg.cronJobs !== false) enabled.push(createCronJobController(ctx));
  if (cfg.certificates !== false) {
    enabled.push(createCsrApprover(ctx));
    if (cfg.signCertificate) enabled.push(createCsrSigner(ctx, cfg.signCertificate));
  }
  for (const c of enabled) controllers.set(c.name, c);

  const timer = setInterval(() => {
    if (paused || stopped) return;
    for (const name of controllers.keys()) trigger(name);
  }, cfg.syncIntervalMs);
  timer.unref();
  for (const name of controllers.keys()) trigger(name);

  return {
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const c of controllers.values()) c.resume?.();
      for (const name of controllers.keys()) trigger(name);
      if (queue.length) setImmediate(drain);
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const s of subs) s.close();
    },
    async syncAll() {
      for (const name of controllers.keys()) runSafe(name);
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setImmediate(r));
        drain();
        for (const name of controllers.keys()) runSafe(name);
      }
    },
  };
}
