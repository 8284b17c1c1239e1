/*
 * createKubelet(): the composition root of the kubelet.
 *
 * Contract for callers (main.ts, the node module, library users):
 *
 *   const kubelet = createKubelet({ nodeName, client, criEndpoint, podManifestPath, ... });
 *   kubelet.addAdmitHandler((pod, others) => ({ admit: false, reason: "OutOfpods", message: "..." }));
 *   await kubelet.start();   // runtime connected, sources watching, PLEG relisting, workers syncing
 *   kubelet.activePods();    // pods admitted and not yet terminal, for eviction ranking / admission
 *   kubelet.pods();          // every pod bound to this node (API and static) with its latest status
 *   kubelet.plegHealth();    // { healthy, message } for the node's Ready condition
 *   await kubelet.killPod(pod, { gracePeriodSeconds, status });   // eviction's pod killer
 *   kubelet.runtime;         // the PodRuntime in use (version, health, for node status providers)
 *   kubelet.gc;              // container + image GC; its delete* methods are eviction's reclaim hooks
 *   await kubelet.stop();    // loops stopped; running containers are left running (adopted next start)
 *
 * - `client` absent = standalone mode: static pods from `podManifestPath` only, no API writes.
 * - `runtime` replaces the CRI runtime module (a virtual node passes its own PodRuntime);
 *   otherwise `criEndpoint` is required.
 * - Admission handlers run for every new pod before anything of it starts, in the order added;
 *   the first rejection wins: the pod is never started and its status becomes phase Failed with
 *   the handler's reason and message (upstream's rejectPod).
 * - A rejected pod also gets a Warning Event with the handler's reason and message.
 * - `killPod` resolves once the pod's containers are stopped and its status (e.g. Evicted) is
 *   recorded; the pod worker then finishes termination (API pods stay until deleted by their owner).
 */
import { networkInterfaces } from "node:os";
import {
  type Clock,
  createRealClock,
  type KubeClient,
  KubeError,
  type Logger,
  silentLogger,
  type TimerHandle,
} from "@kubenode/kube";
import { type Pod, type PodStatus, podDesc } from "./api.js";
import { resolveContainerEnv } from "./env/container-env.js";
import { createKubeletEventRecorder, noEvents } from "./events.js";
import { createGarbageCollector, type GarbageCollector, type GcSettings } from "./gc/index.js";
import { createApiObjectSource, type ObjectSource } from "./object-source.js";
import { createPleg } from "./pleg/pleg.js";
import type { PodEventRecorder } from "./probes/events.js";
import { createProber } from "./probes/prober.js";
import { createCriRuntime } from "./runtime/cri-runtime.js";
import { type PodCgroupSettings, sweepPodCgroups } from "./runtime/pod-cgroups.js";
import type { PodRuntime, RuntimePod } from "./runtime/types.js";
import type { KubeletMetrics } from "./server/metrics.js";
import { createApiPodSource } from "./sources/api-source.js";
import { createMirrorPodManager, type MirrorPodManager } from "./sources/mirror-pods.js";
import { createStaticPodSource } from "./sources/static-source.js";
import type { PodSource } from "./sources/types.js";
import { createStatusManager } from "./status/manager.js";
import type { Mounter } from "./volumes/mounter.js";
import { createVolumeManager, type PodVolumes, VolumeSetupError } from "./volumes/volume-manager.js";
import { createPodWorkers, type PodSetup } from "./workers/pod-workers.js";

/** What an admission handler decides for a new pod. */
export type AdmitResult = { admit: true } | { admit: false; reason: string; message: string };

/**
 * Decides whether a new pod may run on this node, given the pods already admitted (upstream's
 * PodAdmitHandler). Runs before the pod's sandbox is created.
 */
export type AdmitHandler = (pod: Pod, activePods: readonly Pod[]) => AdmitResult | Promise<AdmitResult>;

/** PLEG health for the node's Ready condition. */
export interface PlegHealth {
  healthy: boolean;
  /** Why unhealthy, in upstream's words ("PLEG is not healthy: pleg was last seen active 3m10s ago; threshold is 3m0s"). */
  message?: string;
}

/** Options of {@link createKubelet}. */
export interface KubeletOptions {
  /** This node's name: API pods with `spec.nodeName` equal to it are run here. */
  nodeName: string;
  /** API client with the node's identity. Absent: standalone, static pods only. */
  client?: KubeClient;
  /** The runtime module. Default: the CRI runtime on `criEndpoint`. */
  runtime?: PodRuntime;
  /** CRI socket, `unix:///run/containerd/containerd.sock`; required unless `runtime` is given. */
  criEndpoint?: string;
  /** Directory (or single file) of static pod manifests. */
  podManifestPath?: string;
  /** How often the manifest directory is re-read (upstream fileCheckFrequency 20 s). */
  fileCheckFrequencyMs?: number;
  /** Kubelet state directory (upstream `--root-dir`, default /var/lib/kubelet). */
  rootDir?: string;
  /** Where container logs go (upstream podLogsDir, default /var/log/pods). */
  podLogsDir?: string;
  /** Cluster DNS server IPs for ClusterFirst pods (upstream clusterDNS). */
  clusterDNS?: string[];
  /** Cluster domain (upstream clusterDomain, e.g. `cluster.local`). */
  clusterDomain?: string;
  /** Host resolver config for dnsPolicy Default (upstream resolvConf, default /etc/resolv.conf). */
  resolvConf?: string;
  /** Per-call CRI deadline (upstream `--runtime-request-timeout`, default 2 min). */
  runtimeRequestTimeoutMs?: number;
  /** The node's IPs, written as pods' hostIP(s). Default: the first non-loopback address. */
  nodeIPs?: string[];
  logger?: Logger;
  clock?: Clock;
  /** Crash-loop and image-pull backoff: first delay (default 10 000 ms) and cap (default 300 000 ms). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** PLEG relist period, default 1000 ms. */
  relistPeriodMs?: number;
  /** Where relist, pod start and eviction observations go (served on /metrics). */
  metrics?: KubeletMetrics;
  /**
   * Container and image garbage collection (upstream defaults: containers every 1 min keeping 1
   * dead instance per container; images every 5 min, 85 % / 80 % of the image filesystem, min age 2 min).
   */
  gc?: GcSettings;
  /**
   * Pod-level cgroups (upstream cgroupsPerQOS with cgroupDriver and cgroupRoot): sandboxes get
   * `<root>/kubepods[/burstable|/besteffort]/pod<uid>` as cgroup parent, and with the cgroupfs
   * driver the kubelet removes pod cgroups of pods no longer running. Pass the same value to a
   * CRI runtime you create yourself. Absent: the runtime's default cgroup parent.
   */
  podCgroups?: PodCgroupSettings;
  /**
   * How often a running pod is synced again (upstream syncFrequency, default 60 000 ms): volumes
   * are refreshed then, so configMap/secret changes and token refreshes reach pods within it.
   */
  syncFrequencyMs?: number;
  /** Where configMaps, secrets, services and tokens come from. Default: the API through `client`. */
  objects?: ObjectSource;
  /** tmpfs mount/unmount for memory-backed volumes. Default: mount(8)/umount(8). */
  mounter?: Mounter;
}

/** A running kubelet. */
export interface Kubelet {
  /** Starts the runtime, pod sources, PLEG, workers and the status manager. */
  start(): Promise<void>;
  /** Stops every loop and closes connections; running containers keep running. */
  stop(): Promise<void>;
  /** The runtime module in use. */
  readonly runtime: PodRuntime;
  /** Pods admitted on this node that are not terminal and not being terminated. */
  activePods(): Pod[];
  /**
   * Every pod bound to this node that a source still holds (API pods and static pods, terminal ones
   * included), with the status the kubelet last computed (upstream GetPods, for `/pods`).
   */
  pods(): Pod[];
  /**
   * Stops a pod with the given grace period and records `status` (merged over the computed one,
   * e.g. phase Failed, reason Evicted). Resolves when the pod's containers are stopped.
   */
  killPod(pod: Pod, options: { gracePeriodSeconds: number; status?: PodStatus }): Promise<void>;
  /** PLEG health (relist seen within 3 min). */
  plegHealth(): PlegHealth;
  /** Resolves once every pod status recorded so far is written to the API (or `signal` aborts). */
  flushStatuses(signal?: AbortSignal): Promise<void>;
  /**
   * Adds an admission check for new pods. Handlers run in the order added; a handler that throws
   * rejects the pod with reason UnexpectedAdmissionError (as upstream does when allocation fails).
   */
  addAdmitHandler(handler: AdmitHandler): void;
  /** Container and image GC; `deleteAllUnusedContainers`/`deleteUnusedImages` are eviction's reclaim hooks. */
  readonly gc: GarbageCollector;
}

/**
 * The eviction signal of an eviction message ("The node was low on resource: memory. ..."), for
 * kubelet_evictions. Disk pressure reads as nodefs.available (imagefs evictions are counted there too).
 */
function evictionSignal(message: string | undefined): string {
  const resource = /low on resource: ([\w-]+)/.exec(message ?? "")?.[1];
  if (resource === "memory") return "memory.available";
  if (resource === "pids") return "pid.available";
  if (resource === "ephemeral-storage") return "nodefs.available";
  return resource ?? "unknown";
}

/** The first non-loopback IPv4 address (else IPv6, else 127.0.0.1): the default node IP. */
function defaultNodeIPs(): string[] {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const pick = all.find((a) => !a.internal && a.family === "IPv4") ?? all.find((a) => !a.internal);
  return [pick?.address ?? "127.0.0.1"];
}

// Housekeeping (orphan cleanup) at most every 2 s (upstream housekeepingPeriod).
const HOUSEKEEPING_MS = 2000;
const MIRROR_RESYNC_MS = 10_000;

/** Creates a kubelet from its modules. */
export function createKubelet(options: KubeletOptions): Kubelet {
  if (!options.nodeName) throw new TypeError("createKubelet: nodeName is required");
  if (!options.runtime && !options.criEndpoint) {
    throw new TypeError("createKubelet: pass criEndpoint (a CRI socket) or a runtime module");
  }
  const clock = options.clock ?? createRealClock();
  const logger = (options.logger ?? silentLogger).withName("kubelet");
  const client = options.client;
  const nodeIPs = options.nodeIPs ?? defaultNodeIPs();
  const runtime: PodRuntime =
    options.runtime ??
    createCriRuntime({
      endpoint: options.criEndpoint!,
      ...(options.runtimeRequestTimeoutMs !== undefined
        ? { requestTimeoutMs: options.runtimeRequestTimeoutMs }
        : {}),
      ...(options.podLogsDir !== undefined ? { podLogsDir: options.podLogsDir } : {}),
      ...(options.rootDir !== undefined ? { rootDir: options.rootDir } : {}),
      ...(options.podCgroups !== undefined ? { podCgroups: options.podCgroups } : {}),
      ...(options.clusterDNS !== undefined ? { clusterDNS: options.clusterDNS } : {}),
      ...(options.clusterDomain !== undefined ? { clusterDomain: options.clusterDomain } : {}),
      ...(options.resolvConf !== undefined ? { resolvConf: options.resolvConf } : {}),
      logger,
    });
  const admitHandlers: AdmitHandler[] = [];
  const events = client ? createKubeletEventRecorder(client, options.nodeName, clock, logger) : noEvents;
  const status = createStatusManager({ client, clock, logger });
  const staticPods = new Map<string, Pod>();
  // Every pod the sources hold, by UID (what /pods lists).
  const sourcePods = new Map<string, Pod>();

  const metrics = options.metrics;
  // First time each pod was seen, for kubelet_pod_start_duration_seconds (until it runs).
  const firstSeenMs = new Map<string, number>();
  const statusSink: typeof status = metrics
    ? Object.assign(Object.create(status) as typeof status, {
        setPodStatus(pod: Pod, s: PodStatus) {
          const uid = pod.metadata.uid!;
          const seen = firstSeenMs.get(uid);
          if (seen !== undefined && s.phase === "Running") {
            firstSeenMs.delete(uid);
            metrics.observePodStart((clock.now() - seen) / 1000);
          }
          status.setPodStatus(pod, s);
        },
      })
    : status;
  const seePod = (pod: Pod) => {
    const uid = pod.metadata.uid!;
    if (metrics && !sourcePods.has(uid) && pod.status?.phase !== "Running") firstSeenMs.set(uid, clock.now());
  };

  const ownsRootDir = options.rootDir !== undefined || options.runtime === undefined;
  const objects = options.objects ?? (client ? createApiObjectSource(client) : undefined);
  const volumeManager = createVolumeManager({
    rootDir: options.rootDir ?? "/var/lib/kubelet",
    ...(objects ? { objects } : {}),
    ...(options.mounter ? { mounter: options.mounter } : {}),
    clock,
    logger,
  });
  const setup: PodSetup = {
    setupVolumes: (pod) =>
      pod.spec.volumes?.length
        ? volumeManager.setupPod(pod, { podIPs: [], hostIPs: nodeIPs })
        : Promise.resolve(new Map()),
    async prepareContainer(pod, container, podIPs, volumes) {
      const env = await resolveContainerEnv(pod, container, {
        objects,
        downward: { podIPs, hostIPs: nodeIPs },
        warn: (w) => events.pod(pod, "Warning", w.reason, w.message),
      });
      const mounts = await volumeManager.containerMounts(pod, container, volumes as PodVolumes, env);
      return { env, mounts };
    },
    teardown: (uid) => volumeManager.teardownPod(uid),
    reportVolumeFailure(pod, err) {
      if (!(err instanceof VolumeSetupError)) return;
      for (const f of err.failures)
        events.pod(
          pod,
          "Warning",
          "FailedMount",
          `MountVolume.SetUp failed for volume "${f.volume}" : ${f.message}`,
        );
    },
  };
  // The prober and the lifecycle hooks report container events through the same recorder.
  const containerEvents: PodEventRecorder = {
    record: (pod, e) => events.pod(pod, e.type, e.reason, e.message, e.fieldPath),
  };
  // Probe results feed the pod workers: readiness changes recompute the status at once, liveness
  // and startup failures make the worker kill the container.
  const prober = createProber({
    runtime,
    clock,
    logger,
    podStatus: (uid) => status.getPodStatus(uid),
    onChange: (uid) => workers.sync(uid),
    ...(client ? { events: containerEvents } : {}),
    ...(metrics ? { metrics: metrics.probes } : {}),
  });

  const workers = createPodWorkers({
    runtime,
    setup,
    ...(options.syncFrequencyMs !== undefined ? { resyncIntervalMs: options.syncFrequencyMs } : {}),
    status: statusSink,
    prober,
    ...(client ? { events: containerEvents } : {}),
    clock,
    logger,
    nodeIPs,
    ...(options.backoffInitialMs !== undefined ? { backoffInitialMs: options.backoffInitialMs } : {}),
    ...(options.backoffMaxMs !== undefined ? { backoffMaxMs: options.backoffMaxMs } : {}),
    pullSecrets: (pod) => pullSecrets(pod),
    async admit(pod) {
      const others = activePods().filter((p) => p.metadata.uid !== pod.metadata.uid);
      for (const h of admitHandlers) {
        let r: AdmitResult;
        try {
          r = await h(pod, others);
        } catch (err) {
          // A handler that fails rejects the pod rather than leaving it Pending without a word:
          // upstream's admission does the same when a resource allocation errors
          // (lifecycle/predicate.go, reason UnexpectedAdmissionError).
          r = {
            admit: false,
            reason: "UnexpectedAdmissionError",
            message: `Admission failed due to ${err instanceof Error ? err.message : String(err)}, which is unexpected`,
          };
        }
        if (!r.admit) {
          // rejectPod: a Warning event with the handler's reason and message.
          events.pod(pod, "Warning", r.reason, r.message);
          return r;
        }
      }
      return { admit: true };
    },
  });

  async function pullSecrets(pod: Pod): Promise<string[]> {
    if (!client) return [];
    const out: string[] = [];
    for (const ref of pod.spec.imagePullSecrets ?? []) {
      if (!ref.name) continue;
      try {
        const secret = await client.request<{ type?: string; data?: Record<string, string> }>({
          method: "GET",
          path: `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace ?? "default")}/secrets/${encodeURIComponent(ref.name)}`,
        });
        const raw = secret.data?.[".dockerconfigjson"] ?? secret.data?.[".dockercfg"];
        if (raw) out.push(Buffer.from(raw, "base64").toString("utf8"));
      } catch (err) {
        // Upstream warns (FailedToRetrieveImagePullSecret) and pulls without that secret.
        logger.warn("image pull secret unavailable; pulling without it", {
          pod: podDesc(pod),
          secret: ref.name,
          err: KubeError.from(err).message,
        });
      }
    }
    return out;
  }

  const mirrors: MirrorPodManager | undefined = client
    ? createMirrorPodManager({ client, nodeName: options.nodeName, logger })
    : undefined;
  let mirrorTimer: TimerHandle | undefined;
  let mirrorRun: Promise<void> | undefined;
  let mirrorAgain = false;
  function reconcileMirrors(): void {
    if (!mirrors || stopped) return;
    if (mirrorRun) {
      mirrorAgain = true;
      return;
    }
    mirrorRun = mirrors
      .reconcile([...staticPods.values()])
      .catch((err) => logger.warn("mirror pods not in sync; will retry", { err: String(err) }))
      .finally(() => {
        mirrorRun = undefined;
        if (mirrorAgain) {
          mirrorAgain = false;
          reconcileMirrors();
        }
      });
  }
  function mirrorLoop(): void {
    if (stopped) return;
    reconcileMirrors();
    mirrorTimer = clock.setTimeout(mirrorLoop, MIRROR_RESYNC_MS);
  }

  const sources: PodSource[] = [];
  if (client) {
    sources.push(
      createApiPodSource({
        client,
        nodeName: options.nodeName,
        clock,
        logger,
        handler: {
          upsert: (pod) => {
            seePod(pod);
            sourcePods.set(pod.metadata.uid!, pod);
            workers.update(pod);
          },
          remove: (uid) => {
            sourcePods.delete(uid);
            firstSeenMs.delete(uid);
            workers.remove(uid);
          },
        },
        onApiPod: (pod) => status.observeApiPod(pod),
        onMirror(mirror, removed) {
          mirrors?.observe(mirror, removed);
          const key = `${mirror.metadata.namespace}/${mirror.metadata.name}`;
          for (const s of staticPods.values()) {
            if (`${s.metadata.namespace}/${s.metadata.name}` !== key) continue;
            if (!removed) status.observeApiPod(mirror, s.metadata.uid);
          }
          if (removed || mirror.metadata.deletionTimestamp) reconcileMirrors();
        },
      }),
    );
  }
  if (options.podManifestPath) {
    sources.push(
      createStaticPodSource({
        path: options.podManifestPath,
        nodeName: options.nodeName,
        clock,
        logger,
        ...(options.fileCheckFrequencyMs !== undefined
          ? { checkIntervalMs: options.fileCheckFrequencyMs }
          : {}),
        handler: {
          upsert(pod) {
            staticPods.set(pod.metadata.uid!, pod);
            seePod(pod);
            sourcePods.set(pod.metadata.uid!, pod);
            workers.update(pod);
            reconcileMirrors();
          },
          remove(uid) {
            staticPods.delete(uid);
            sourcePods.delete(uid);
            firstSeenMs.delete(uid);
            workers.remove(uid);
            reconcileMirrors();
          },
        },
      }),
    );
  }

  let lastHousekeepingMs = 0;
  let housekeeping: Promise<void> | undefined;
  function onRelist(pods: readonly RuntimePod[]): void {
    if (housekeeping || clock.now() - lastHousekeepingMs < HOUSEKEEPING_MS) return;
    // Orphans can only be told apart once every source delivered its complete set.
    if (!sources.every((s) => s.synced())) return;
    lastHousekeepingMs = clock.now();
    const known = workers.knownUids();
    const orphans = pods.filter((p) => !known.has(p.uid));
    const cgroups = options.podCgroups;
    housekeeping = (async () => {
      if (orphans.length > 0)
        await workers
          .cleanupOrphans(orphans)
          .catch((err) => logger.warn("orphan cleanup incomplete; will retry", { err: String(err) }));
      // Directories of pods no worker knows (left by a kubelet restart or a failed teardown),
      // once their containers are gone (upstream cleanupOrphanedPodDirs).
      const running = new Set(orphans.map((p) => p.uid));
      const keep = new Set([...workers.knownUids(), ...running]);
      // Only in a root dir this kubelet owns: a custom runtime on the default root dir must not
      // remove another kubelet's pod directories.
      if (ownsRootDir)
        await volumeManager
          .cleanupOrphans(keep)
          .catch((err) => logger.warn("pod directory cleanup incomplete; will retry", { err: String(err) }));
      if (cgroups) {
        // cleanupOrphanedPodCgroups: pods with a running sandbox or still active keep theirs.
        const keepCgroups = new Set(
          pods.filter((p) => p.sandboxes.some((s) => s.state === "ready")).map((p) => p.uid),
        );
        for (const p of workers.activePods()) keepCgroups.add(p.metadata.uid!);
        const removed = await sweepPodCgroups(keepCgroups, cgroups).catch((err) => {
          logger.warn("pod cgroup cleanup incomplete; will retry", { err: String(err) });
          return [];
        });
        if (removed.length > 0) logger.v(2, "removed pod cgroups", { pods: removed.join(",") });
      }
    })().finally(() => {
      housekeeping = undefined;
    });
  }

  const pleg = createPleg({
    runtime: metrics
      ? {
          async listPods() {
            const t0 = clock.now();
            const pods = await runtime.listPods();
            metrics.observeRelist((clock.now() - t0) / 1000, pods);
            return pods;
          },
        }
      : runtime,
    clock,
    logger,
    onPodChanged: (uid) => workers.sync(uid),
    onRelist,
    ...(options.relistPeriodMs !== undefined ? { relistPeriodMs: options.relistPeriodMs } : {}),
  });

  /**
   * Admitted pods that still hold resources: upstream's filterOutInactivePods drops pods whose
   * worker finished them and pods in a terminal phase (Succeeded/Failed; their containers are done
   * for good), so a finished Job pod no longer counts against maxPods or eviction ranking.
   */
  const activePods = (): Pod[] =>
    workers.activePods().filter((p) => {
      const phase = status.getPodStatus(p.metadata.uid!)?.phase ?? p.status?.phase;
      return phase !== "Succeeded" && phase !== "Failed";
    });

  const gc = createGarbageCollector({
    runtime,
    podState: {
      // Unknown pods can only be told apart once every source delivered its complete set.
      contentRemovable: (uid) => sources.every((s) => s.synced()) && !workers.knownUids().has(uid),
      // Finished: terminated by the worker, or in a terminal phase (all containers done for good).
      runtimeRemovable: (uid) => {
        if (!workers.knownUids().has(uid)) return false;
        const phase = status.getPodStatus(uid)?.phase;
        return (
          phase === "Succeeded" ||
          phase === "Failed" ||
          !workers.activePods().some((p) => p.metadata.uid === uid)
        );
      },
    },
    clock,
    logger,
    ...(client ? { onEvent: (e) => events.node(e.type, e.reason, e.message) } : {}),
    ...options.gc,
  });

  let started = false;
  let stopped = false;
  return {
    runtime,
    gc,
    async start() {
      if (started) throw new Error("kubelet already started");
      started = true;
      await runtime.start();
      status.start();
      for (const s of sources) await s.start();
      pleg.start();
      gc.start();
      if (mirrors) mirrorLoop();
      logger.info("kubelet started", { node: options.nodeName, standalone: !client, runtime: runtime.name });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown> | undefined) => {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      };
      if (mirrorTimer) clock.clearTimeout(mirrorTimer);
      await step(() => pleg.stop());
      await step(() => gc.stop());
      prober.stop();
      for (const s of sources) await step(() => s.stop());
      await step(() => workers.stop());
      await step(() => housekeeping);
      await step(() => mirrorRun);
      await step(() => status.stop());
      await step(() => runtime.stop());
      if (errors.length > 0) throw new AggregateError(errors, "stopping the kubelet failed");
    },
    activePods,
    pods: () =>
      [...sourcePods.values()].map((pod) => {
        const latest = status.getPodStatus(pod.metadata.uid!);
        return latest ? { ...pod, status: latest } : pod;
      }),
    killPod: (pod, o) => {
      if (metrics && o.status?.reason === "Evicted")
        metrics.observeEviction(evictionSignal(o.status.message));
      return workers.kill(pod, {
        gracePeriodSeconds: o.gracePeriodSeconds,
        ...(o.status ? { status: o.status } : {}),
      });
    },
    plegHealth: () => pleg.health(),
    flushStatuses: (signal) => status.flush(signal),
    addAdmitHandler(handler) {
      admitHandlers.push(handler);
    },
  };
}
