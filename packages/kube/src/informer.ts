import type { BackoffOptions } from "./backoff.js";
import { createBackoff } from "./backoff.js";
import type { KubeClient, WatchEvent } from "./client.js";
import type { Clock, TimerHandle } from "./clock.js";
import { createRealClock } from "./clock.js";
import { KubeError, type KubeStatus } from "./errors.js";

/** The part of any Kubernetes object the informer relies on. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
}

/** Maps an object to the index values it is filed under. */
export type IndexFunc<T> = (obj: T) => string[];

/** Files objects by `metadata.namespace`. */
export const indexByNamespace: IndexFunc<KubeObject> = (obj) =>
  obj.metadata?.namespace ? [obj.metadata.namespace] : [];

/** Files objects by `spec.nodeName` (pods bound to a node). */
export const indexByNodeName: IndexFunc<KubeObject> = (obj) => {
  const nodeName = (obj as { spec?: { nodeName?: unknown } }).spec?.nodeName;
  return typeof nodeName === "string" && nodeName.length > 0 ? [nodeName] : [];
};

/** Events an informer emits, each typed. */
export interface InformerEvents<T> {
  /** An object appeared (from the initial list, a relist, or a watch). */
  add: (obj: T) => void;
  /** An object changed (its resourceVersion moved). */
  update: (obj: T, old: T) => void;
  /** An object went away; `obj` is the last state seen. */
  delete: (obj: T) => void;
  /** A list or watch failed; the informer retries on its own after a backoff. */
  error: (err: KubeError) => void;
  /** The first complete list has been applied to the cache. */
  synced: () => void;
}

/** The informer's local cache. */
export interface InformerStore<T> {
  /** By key: `namespace/name`, or `name` for cluster-scoped objects. */
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
  /** Objects filed under `value` by indexer `index` (built in: `namespace`, `nodeName`). */
  byIndex(index: string, value: string): T[];
  readonly size: number;
}

/** Options of {@link createInformer}. */
export interface InformerOptions<T> {
  client: KubeClient;
  /** Collection path, e.g. `/api/v1/pods` or `/api/v1/namespaces/default/pods`. */
  path: string;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Extra indexers beside the built-in `namespace` and `nodeName`. */
  indexers?: Record<string, IndexFunc<T>> | undefined;
  clock?: Clock | undefined;
  /** Page size of list calls; default 500. */
  pageSize?: number | undefined;
  /**
   * Server-side watch timeout base: each watch asks for a random value in [x, 2x) seconds,
   * like client-go's reflector (default 300 s).
   */
  watchTimeoutSeconds?: number | undefined;
  /**
   * A watch that delivers nothing (not even a bookmark) for this long is assumed dead (half-open
   * TCP) and reopened. Default: twice the watch timeout plus 30 s.
   */
  inactivityTimeoutMs?: number | undefined;
  /** Retry backoff after failures; default 800 ms doubling to 30 s with full jitter (reflector's). */
  backoff?: Partial<BackoffOptions> | undefined;
  random?: (() => number) | undefined;
}

/** A list+watch cache of one kind of object. */
export interface Informer<T> {
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends keyof InformerEvents<T>>(event: E, handler: InformerEvents<T>[E]): () => void;
  /** Starts listing and watching. Calling it twice is an error. */
  start(): void;
  /** Stops the loop and closes the watch; no event is emitted after this resolves. */
  stop(): Promise<void>;
  /** True once the first list has been applied. */
  isSynced(): boolean;
  /** Resolves when synced; rejects if `signal` aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  readonly store: InformerStore<T>;
  /** The resourceVersion the next watch resumes from. */
  readonly resourceVersion: string | undefined;
}

interface ListResponse<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/** `namespace/name` or `name`. */
export function objectKey(obj: KubeObject): string {
  const name = obj.metadata?.name;
  if (!name) throw new KubeError("InvalidArgument", "object has no metadata.name");
  return obj.metadata?.namespace ? `${obj.metadata.namespace}/${name}` : name;
}

/**
 * Creates a list+watch informer: lists (paginated), then watches from the list's
 * resourceVersion with bookmarks; on errors retries with jittered backoff and resumes from the
 * last resourceVersion seen; on 410 Gone relists and emits the difference (adds, updates,
 * deletes) so handlers neither miss nor see duplicate events across outages.
 */
export function createInformer<T extends KubeObject>(options: InformerOptions<T>): Informer<T> {
  const { client, path } = options;
  if (!path.startsWith("/"))
    throw new KubeError("InvalidArgument", `informer path must start with "/": ${path}`);
  const clock = options.clock ?? createRealClock();
  const random = options.random ?? Math.random;
  const pageSize = options.pageSize ?? 500;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
  if (!(watchTimeoutSeconds > 0))
    throw new KubeError("InvalidArgument", `watchTimeoutSeconds must be > 0, got ${watchTimeoutSeconds}`);
  const inactivityTimeoutMs = options.inactivityTimeoutMs ?? watchTimeoutSeconds * 2000 + 30_000;
  // Field by field: an option given as undefined means "the default", not "none".
  const b = options.backoff ?? {};
  const backoff = createBackoff({
    initialMs: b.initialMs ?? 800,
    maxMs: b.maxMs ?? 30_000,
    factor: b.factor ?? 2,
    jitter: b.jitter ?? 1,
    random: b.random ?? random,
  });
  const indexers: Record<string, IndexFunc<T>> = {
    namespace: indexByNamespace,
    nodeName: indexByNodeName,
    ...options.indexers,
  };

  const items = new Map<string, T>();
  const indices = new Map<string, Map<string, Set<string>>>();
  for (const name of Object.keys(indexers)) indices.set(name, new Map());
  const handlers: { [E in keyof InformerEvents<T>]: Set<InformerEvents<T>[E]> } = {
    add: new Set(),
    update: new Set(),
    delete: new Set(),
    error: new Set(),
    synced: new Set(),
  };

  let resourceVersion: string | undefined;
  let started = false;
  let stopped = false;
  let synced = false;
  let loop: Promise<void> | undefined;
  const stopController = new AbortController();
  let syncWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  function emit<E extends keyof InformerEvents<T>>(
    event: E,
    ...args: Parameters<InformerEvents<T>[E]>
  ): void {
    if (stopped) return;
    for (const h of handlers[event]) {
      try {
        (h as (...a: unknown[]) => void)(...args);
      } catch {
        // A throwing handler must not break the informer for the others.
      }
    }
  }

  function unindex(key: string, obj: T): void {
    for (const [name, fn] of Object.entries(indexers)) {
      const index = indices.get(name)!;
      for (const v of fn(obj)) {
        const set = index.get(v);
        set?.delete(key);
        if (set && set.size === 0) index.delete(v);
      }
    }
  }

  function reindex(key: string, obj: T): void {
    for (const [name, fn] of Object.entries(indexers)) {
      const index = indices.get(name)!;
      for (const v of fn(obj)) {
        let set = index.get(v);
        if (!set) {
          set = new Set();
          index.set(v, set);
        }
        set.add(key);
      }
    }
  }

  function upsert(obj: T): void {
    const key = objectKey(obj);
    const old = items.get(key);
    if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) {
      items.set(key, obj);
      return; // already seen: no duplicate event
    }
    if (old) unindex(key, old);
    items.set(key, obj);
    reindex(key, obj);
    if (old) emit("update", obj, old);
    else emit("add", obj);
  }

  function remove(obj: T): void {
    const key = objectKey(obj);
    const old = items.get(key);
    if (!old) return;
    unindex(key, old);
    items.delete(key);
    emit("delete", obj);
  }

  async function listAll(signal: AbortSignal): Promise<ListResponse<T>> {
    const collected: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    let limit: number | undefined = pageSize;
    for (;;) {
      let page: ListResponse<T>;
      try {
        page = await client.request<ListResponse<T>>({
          method: "GET",
          path,
          query: {
            labelSelector: options.labelSelector,
            fieldSelector: options.fieldSelector,
            limit,
            continue: cont,
          },
          signal,
        });
      } catch (err) {
        // An expired continue token: start again with one unpaginated list (as client-go does).
        if (KubeError.from(err).code === "Gone" && cont !== undefined) {
          collected.length = 0;
          cont = undefined;
          limit = undefined;
          continue;
        }
        throw err;
      }
      collected.push(...(page.items ?? []));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
      if (!cont) break;
    }
    return { metadata: rv ? { resourceVersion: rv } : {}, items: collected };
  }

  async function relist(signal: AbortSignal): Promise<void> {
    const list = await listAll(signal);
    if (stopped) return;
    const seen = new Set<string>();
    for (const obj of list.items ?? []) {
      seen.add(objectKey(obj));
      upsert(obj);
    }
    for (const [key, obj] of [...items]) if (!seen.has(key)) remove(obj);
    resourceVersion = list.metadata?.resourceVersion;
    backoff.reset();
    if (!synced) {
      synced = true;
      for (const w of syncWaiters) w.resolve();
      syncWaiters = [];
      emit("synced");
    }
  }

  async function watchOnce(): Promise<void> {
    const ac = new AbortController();
    const onStop = () => ac.abort();
    stopController.signal.addEventListener("abort", onStop, { once: true });
    let watchdog: TimerHandle | undefined;
    let inactive = false;
    const arm = () => {
      if (watchdog) clock.clearTimeout(watchdog);
      watchdog = clock.setTimeout(() => {
        inactive = true;
        ac.abort();
      }, inactivityTimeoutMs);
    };
    arm();
    try {
      const timeoutSeconds = Math.floor(watchTimeoutSeconds * (1 + random()));
      const events = client.watch<T>(
        path,
        {
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
        },
        ac.signal,
      );
      for await (const event of events as AsyncIterable<WatchEvent<T>>) {
        if (stopped) return;
        arm();
        if (event.type === "ERROR") {
          const status = event.object as unknown as KubeStatus;
          throw KubeError.fromResponse(status.code ?? 500, status, `WATCH ${path}`);
        }
        const obj = event.object;
        const rv = obj?.metadata?.resourceVersion;
        if (event.type === "BOOKMARK") {
          if (rv) resourceVersion = rv;
          continue;
        }
        if (event.type === "ADDED" || event.type === "MODIFIED") upsert(obj);
        else if (event.type === "DELETED") remove(obj);
        if (rv) resourceVersion = rv;
        backoff.reset();
      }
      if (inactive) {
        throw new KubeError("Timeout", `WATCH ${path}: no event for ${inactivityTimeoutMs} ms, reconnecting`);
      }
    } finally {
      if (watchdog) clock.clearTimeout(watchdog);
      stopController.signal.removeEventListener("abort", onStop);
    }
  }

  async function run(): Promise<void> {
    const signal = stopController.signal;
    while (!stopped) {
      try {
        if (resourceVersion === undefined) await relist(signal);
        if (stopped) break;
        await watchOnce();
      } catch (err) {
        if (stopped) break;
        const k = KubeError.from(err);
        if (k.code === "Gone") {
          // The resourceVersion is too old for the server: relist and emit the difference.
          resourceVersion = undefined;
          continue;
        }
        emit("error", k);
        try {
          await clock.sleep(backoff.next(), signal);
        } catch {
          break;
        }
      }
    }
  }

  const store: InformerStore<T> = {
    get: (key) => items.get(key),
    list: () => [...items.values()],
    keys: () => [...items.keys()],
    byIndex(index, value) {
      const idx = indices.get(index);
      if (!idx)
        throw new KubeError(
          "InvalidArgument",
          `unknown index "${index}" (known: ${[...indices.keys()].join(", ")})`,
        );
      return [...(idx.get(value) ?? [])].map((k) => items.get(k)!).filter(Boolean);
    },
    get size() {
      return items.size;
    },
  };

  return {
    on(event, handler) {
      const set = handlers[event] as Set<typeof handler>;
      set.add(handler);
      return () => set.delete(handler);
    },
    start() {
      if (started) throw new KubeError("InvalidArgument", `informer for ${path} already started`);
      started = true;
      loop = run();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopController.abort();
      for (const w of syncWaiters)
        w.reject(new KubeError("Aborted", `informer for ${path} stopped before sync`));
      syncWaiters = [];
      await loop;
    },
    isSynced: () => synced,
    waitForSync(signal) {
      if (synced) return Promise.resolve();
      if (stopped)
        return Promise.reject(new KubeError("Aborted", `informer for ${path} stopped before sync`));
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          resolve: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
          reject,
        };
        const onAbort = () => {
          syncWaiters = syncWaiters.filter((w) => w !== waiter);
          reject(
            new KubeError("Aborted", `waiting for ${path} to sync was aborted`, { cause: signal?.reason }),
          );
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        syncWaiters.push(waiter);
      });
    },
    store,
    get resourceVersion() {
      return resourceVersion;
    },
  };
}
