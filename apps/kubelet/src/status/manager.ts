// The status manager (upstream pkg/kubelet/status/status_manager.go): keeps the latest status of
// every pod with a version, patches pods/status with only the fields that differ from what the API
// holds, keeps unsent statuses through API outages (latest wins) and, once a deleted pod's terminal
// status has landed, deletes the pod with grace 0 and a UID precondition.
import {
  type Clock,
  createBackoff,
  type KubeClient,
  KubeError,
  type Logger,
  strategicMergePatch,
  type TimerHandle,
} from "@kubenode/kube";
import type { Pod, PodStatus } from "../api.js";
import { podDesc } from "../api.js";
import type { StatusSink } from "../workers/pod-workers.js";

/** Options of {@link createStatusManager}. */
export interface StatusManagerOptions {
  /** Absent: standalone, statuses are only kept locally. */
  client?: KubeClient | undefined;
  clock: Clock;
  logger: Logger;
  /** Periodic re-check of unsynced statuses, default 10 s (upstream syncPeriod). */
  syncPeriodMs?: number;
}

export interface StatusManager extends StatusSink {
  /**
   * The API's current view of a pod (from the pod source), used to compute the patch. `uid` is the
   * pod's own UID (for a static pod, the mirror pod's status is observed under the static pod's UID).
   */
  observeApiPod(pod: Pod, uid?: string): void;
  /** Resolves once every status is written to the API (or `signal` aborts). */
  flush(signal?: AbortSignal): Promise<void>;
  /** Status writes sent so far (for tests and benchmarks). */
  readonly patches: number;
  start(): void;
  stop(): Promise<void>;
}

// Top-level status fields the kubelet owns; others (nominatedNodeName, resize, …) are left alone.
const OWNED = [
  "phase",
  "conditions",
  "message",
  "reason",
  "hostIP",
  "hostIPs",
  "podIP",
  "podIPs",
  "startTime",
  "containerStatuses",
  "initContainerStatuses",
  "qosClass",
] as const;

interface Entry {
  pod: Pod;
  status: PodStatus;
  version: number;
  syncedVersion: number;
  /** What the API holds, as far as we know. */
  api: PodStatus | undefined;
  /** The pod finished terminating and has a deletionTimestamp: delete it once the status landed. */
  deleteWhenSynced: boolean;
  deleted: boolean;
  /** resourceVersions our own writes produced: their echoes from the watch are not news. */
  ownVersions: string[];
}

/** JSON with sorted keys and without null or undefined fields (the API drops them, so do we). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value)
            .filter(([, x]) => x !== null && x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : value,
  );
}

// Status lists the API merges by a key in a strategic merge patch (the rest are replaced whole).
const MERGE_KEYS: Partial<Record<(typeof OWNED)[number], string>> = {
  conditions: "type",
  podIPs: "ip",
  hostIPs: "ip",
};

/**
 * A strategic-merge list patch from `have` to `want` merged by `key`, as a two-way merge patch is:
 * the wanted items, fields they no longer carry set to null, and `$patch: delete` for items gone.
 */
function mergeListPatch(have: unknown, want: readonly Record<string, unknown>[], key: string): unknown[] {
  const old = new Map(
    (Array.isArray(have) ? (have as Record<string, unknown>[]) : []).map((item) => [item[key], item]),
  );
  const out: unknown[] = want.map((item) => {
    const prev = old.get(item[key]);
    const patch: Record<string, unknown> = { ...item };
    for (const field of Object.keys(prev ?? {})) if (!(field in item)) patch[field] = null;
    return patch;
  });
  const keep = new Set(want.map((item) => item[key]));
  for (const k of old.keys()) if (!keep.has(k)) out.push({ $patch: "delete", [key]: k });
  return out;
}

/**
 * The strategic merge patch of the status fields of `desired` that differ from `current`: fields
 * the kubelet owns but no longer sets become `null`, keyed lists (conditions, podIPs, hostIPs)
 * delete what is gone. Empty when nothing changed.
 */
export function statusDiff(current: PodStatus | undefined, desired: PodStatus): Record<string, unknown> {
  const diff: Record<string, unknown> = {};
  for (const key of OWNED) {
    const want = desired[key];
    const have = current?.[key];
    if (want === undefined) {
      if (have !== undefined && key !== "message" && key !== "reason") diff[key] = null;
      continue;
    }
    if (canonical(want) === canonical(have)) continue;
    const mergeKey = MERGE_KEYS[key];
    diff[key] =
      mergeKey && Array.isArray(want)
        ? mergeListPatch(have, want as Record<string, unknown>[], mergeKey)
        : want;
  }
  return diff;
}

function isMirrorOrStatic(pod: Pod): boolean {
  const a = pod.metadata.annotations ?? {};
  return (
    a["kubernetes.io/config.mirror"] !== undefined || (a["kubernetes.io/config.source"] ?? "api") !== "api"
  );
}

export function createStatusManager(options: StatusManagerOptions): StatusManager {
  const { client, clock } = options;
  const log = options.logger.withName("status");
  const entries = new Map<string, Entry>();
  const syncPeriodMs = options.syncPeriodMs ?? 10_000;
  const backoff = createBackoff({ initialMs: 500, maxMs: 10_000, jitter: 0.1 });
  let timer: TimerHandle | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  let patches = 0;
  const flushWaiters: (() => void)[] = [];

  function dirty(): boolean {
    for (const e of entries.values())
      if (e.version !== e.syncedVersion || (e.deleteWhenSynced && !e.deleted)) return true;
    return false;
  }

  let scheduled = false;
  function run(): void {
    running = syncAll().then((failed) => {
      running = undefined;
      // After a failure, wait for the backoff even if new statuses came in meanwhile (latest wins).
      if (failed) kick(backoff.next());
      else if (again) kick();
      again = false;
    });
  }

  /**
   * Schedules a sync: `delayMs` 0 (a new status) goes out at once, not on the next clock tick, as a
   * stepped clock would hold it back; retries after failures wait on the clock.
   */
  function kick(delayMs = 0): void {
    if (stopped || !client) return;
    if (running) {
      again = true;
      return;
    }
    if (delayMs > 0) {
      if (timer || scheduled) return;
      timer = clock.setTimeout(() => {
        timer = undefined;
        kick();
      }, delayMs);
      return;
    }
    if (timer) clock.clearTimeout(timer);
    timer = undefined;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (running) again = true;
      else if (!stopped) run();
    });
  }

  async function syncOne(e: Entry): Promise<void> {
    const pod = e.pod;
    const ns = pod.metadata.namespace ?? "default";
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod.metadata.name ?? "")}`;
    if (e.version !== e.syncedVersion) {
      const version = e.version;
      const diff = statusDiff(e.api, e.status);
      if (Object.keys(diff).length > 0) {
        // Static pods write to their mirror pod, which has its own UID: no UID precondition.
        const body = isMirrorOrStatic(pod)
          ? { status: diff }
          : { metadata: { uid: pod.metadata.uid }, status: diff };
        const updated = await strategicMergePatch<Pod>(client!, `${path}/status`, body);
        patches++;
        e.api = updated.status;
        const rv = (updated.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        if (rv) e.ownVersions = [...e.ownVersions.slice(-7), rv];
        log.v(3, "pod status patched", { pod: podDesc(pod), fields: Object.keys(diff).join(",") });
      }
      e.syncedVersion = version;
    }
    if (e.deleteWhenSynced && !e.deleted && e.version === e.syncedVersion) {
      // canBeDeleted: terminal status written, not a mirror pod -> DELETE grace 0, UID precondition.
      try {
        await client!.request({
          method: "DELETE",
          path,
          body: {
            kind: "DeleteOptions",
            apiVersion: "v1",
            gracePeriodSeconds: 0,
            preconditions: { uid: pod.metadata.uid },
          },
        });
        log.info("pod deleted from the API after termination", { pod: podDesc(pod) });
      } catch (err) {
        if (!(err instanceof KubeError && (err.code === "NotFound" || err.code === "Conflict"))) throw err;
      }
      e.deleted = true;
    }
  }

  /** Writes every unsynced status; resolves true when any write failed. */
  async function syncAll(): Promise<boolean> {
    let failed = false;
    for (const e of [...entries.values()]) {
      if (stopped) return false;
      if (e.version === e.syncedVersion && !(e.deleteWhenSynced && !e.deleted)) continue;
      try {
        await syncOne(e);
      } catch (err) {
        failed = true;
        const k = KubeError.from(err);
        if (k.code === "NotFound" || (isMirrorOrStatic(e.pod) && k.code === "Forbidden")) {
          // The pod is gone, or a static pod's mirror does not exist yet (a node may only write
          // status of pods that exist and are bound to it): retry later, latest wins.
          log.v(2, "pod not in the API (yet)", { pod: podDesc(e.pod), err: k.message });
        } else log.warn("writing pod status failed; will retry", { pod: podDesc(e.pod), err: k.message });
        if (k.code === "Conflict" || k.code === "Invalid") e.api = undefined;
      }
    }
    if (!failed) {
      backoff.reset();
      if (!dirty()) for (const r of flushWaiters.splice(0)) r();
    }
    return failed;
  }

  function periodic(): void {
    if (stopped) return;
    if (dirty()) kick();
    periodicTimer = clock.setTimeout(periodic, syncPeriodMs);
  }
  let periodicTimer: TimerHandle | undefined;

  return {
    get patches() {
      return patches;
    },
    setPodStatus(pod, status) {
      const uid = pod.metadata.uid!;
      let e = entries.get(uid);
      if (!e) {
        e = {
          pod,
          status,
          version: 0,
          syncedVersion: 0,
          api: pod.status,
          deleteWhenSynced: false,
          deleted: false,
          ownVersions: [],
        };
        entries.set(uid, e);
      }
      e.pod = pod;
      if (canonical(e.status) === canonical(status) && e.version > 0) return;
      e.status = status;
      e.version++;
      kick();
    },
    getPodStatus: (uid) => entries.get(uid)?.status,
    podTerminated(pod) {
      const e = entries.get(pod.metadata.uid!);
      if (!e) return;
      e.pod = pod;
      if (pod.metadata.deletionTimestamp && !isMirrorOrStatic(pod)) {
        e.deleteWhenSynced = true;
        kick();
      }
    },
    observeApiPod(pod, uid = pod.metadata.uid ?? "") {
      const e = entries.get(uid);
      if (!e) return;
      // The echo of one of our own writes (possibly an older one): what we wrote is already known.
      if (pod.metadata.resourceVersion && e.ownVersions.includes(pod.metadata.resourceVersion)) return;
      e.api = pod.status;
      if (uid === pod.metadata.uid)
        e.pod = { ...pod, metadata: { ...pod.metadata, annotations: e.pod.metadata.annotations ?? {} } };
      if (Object.keys(statusDiff(e.api, e.status)).length > 0 && e.version === e.syncedVersion) {
        // Someone else changed fields we own (or our write was lost): write ours again.
        e.version++;
        kick();
      }
    },
    forget(uid) {
      entries.delete(uid);
    },
    flush(signal) {
      if (!client || !dirty()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        flushWaiters.push(resolve);
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        kick();
      });
    },
    start() {
      stopped = false;
      periodicTimer = clock.setTimeout(periodic, syncPeriodMs);
      if (dirty()) kick();
    },
    async stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      if (periodicTimer) clock.clearTimeout(periodicTimer);
      timer = undefined;
      periodicTimer = undefined;
      await running;
    },
  };
}
