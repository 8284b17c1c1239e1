import type { KubeObject } from "./types.js";

/** One change to a stored object, delivered to watchers in resourceVersion order. */
export interface StorageEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** The resource key (`group/plural`). */
  resource: string;
  /** The resourceVersion of this change. */
  rv: number;
  object: KubeObject;
  /** The object before this change (MODIFIED and DELETED). */
  prev?: KubeObject;
  /** Serialisation cache shared by every watcher that receives the event unchanged. */
  cache?: Map<string, string>;
}

/** A live subscription to one resource's changes. */
export interface StorageSubscription {
  close(): void;
}

/**
 * The storage contract of the simulator: a revisioned key-value store of objects per resource,
 * with a bounded per-resource change history for watches. The in-memory implementation is the
 * default; a persistent backend implements the same interface.
 */
export interface ApiStorage {
  /** The current (highest) resourceVersion. */
  readonly resourceVersion: number;
  get(resource: string, namespace: string, name: string): KubeObject | undefined;
  /** Objects sorted by namespace then name (etcd key order); all namespaces if `namespace` is undefined. */
  list(resource: string, namespace?: string): readonly KubeObject[];
  count(resource: string): number;
  /**
   * Writes `object` (a fresh object owned by the caller from now on), assigning the next
   * resourceVersion into its metadata. `type` says whether it is a create, an update or a delete.
   */
  write(resource: string, type: StorageEvent["type"], object: KubeObject, prev?: KubeObject): KubeObject;
  /**
   * Subscribes to changes after `fromRv` (replaying retained history first). Returns "expired"
   * when history after `fromRv` was already compacted away.
   */
  subscribe(
    resource: string,
    fromRv: number,
    listener: (event: StorageEvent) => void,
  ): StorageSubscription | "expired";
  /**
   * The lowest resourceVersion a watch of the resource can still resume from: one below the
   * oldest retained event once events were dropped (kube-apiserver's watch cache window).
   */
  oldestResumable(resource: string): number;
  /**
   * Drops the retained change history of one resource (or of all) and advances the
   * resourceVersion by one, as if the watch cache had just been re-initialised from a list:
   * resuming from any older resourceVersion is 410 Expired afterwards, a new list is not.
   * Optional for custom backends.
   */
  compact?(resource?: string): void;
  /** Every resource key that holds objects. */
  resources(): string[];
}

interface Bucket {
  objects: Map<string, KubeObject>;
  sorted: KubeObject[] | undefined;
  history: StorageEvent[];
  historyStart: number;
  /** Resuming from a resourceVersion below this is impossible (410 Expired). */
  compactedRv: number;
  listeners: Set<(event: StorageEvent) => void>;
}

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ""}/${name}`;

/** Options of the in-memory storage. */
export interface MemoryStorageOptions {
  /** Events retained per resource for watch resumption (like the watch cache capacity). Default 5000. */
  historyPerResource?: number | undefined;
}

/** Creates the default in-memory storage. */
export function createMemoryStorage(options: MemoryStorageOptions = {}): ApiStorage {
  const capacity = Math.max(1, options.historyPerResource ?? 5000);
  const buckets = new Map<string, Bucket>();
  let rv = 1;
  /** Window start of resources without history yet (set by compact() of all resources). */
  let floorRv = 0;
  const bucket = (resource: string): Bucket => {
    let b = buckets.get(resource);
    if (!b) {
      b = {
        objects: new Map(),
        sorted: undefined,
        history: [],
        historyStart: 0,
        compactedRv: floorRv,
        listeners: new Set(),
      };
      buckets.set(resource, b);
    }
    return b;
  };
  return {
    get resourceVersion() {
      return rv;
    },
    get(resource, namespace, name) {
      return buckets.get(resource)?.objects.get(keyOf(namespace, name));
    },
    list(resource, namespace) {
      const b = buckets.get(resource);
      if (!b) return [];
      if (!b.sorted) {
        const keys = [...b.objects.keys()].sort();
        b.sorted = keys.map((k) => b.objects.get(k)!);
      }
      if (namespace === undefined) return b.sorted;
      return b.sorted.filter((o) => o.metadata.namespace === namespace);
    },
    count(resource) {
      return buckets.get(resource)?.objects.size ?? 0;
    },
    write(resource, type, object, prev) {
      const b = bucket(resource);
      rv += 1;
      object.metadata.resourceVersion = String(rv);
      const key = keyOf(object.metadata.namespace, object.metadata.name);
      if (type === "DELETED") {
        b.objects.delete(key);
        b.sorted = undefined;
      } else {
        if (type === "ADDED" || !b.objects.has(key)) b.sorted = undefined;
        else if (b.sorted) {
          // keep the sorted snapshot valid without re-sorting (readers iterate synchronously)
          const i = b.sorted.indexOf(b.objects.get(key)!);
          if (i >= 0) b.sorted[i] = object;
          else b.sorted = undefined;
        }
        b.objects.set(key, object);
      }
      const event: StorageEvent = { type, resource, rv, object };
      if (prev) event.prev = prev;
      b.history.push(event);
      if (b.history.length - b.historyStart > capacity) {
        b.historyStart += 1;
        // watch_cache.go: a resourceVersion below (oldest retained event - 1) is too old
        b.compactedRv = b.history[b.historyStart]!.rv - 1;
        if (b.historyStart > 1024 && b.historyStart * 2 > b.history.length) {
          b.history = b.history.slice(b.historyStart);
          b.historyStart = 0;
        }
      }
      for (const l of b.listeners) l(event);
      return object;
    },
    subscribe(resource, fromRv, listener) {
      const b = bucket(resource);
      if (fromRv < b.compactedRv) return "expired";
      for (let i = b.historyStart; i < b.history.length; i++) {
        const e = b.history[i]!;
        if (e.rv > fromRv) listener(e);
      }
      b.listeners.add(listener);
      return { close: () => b.listeners.delete(listener) };
    },
    oldestResumable(resource) {
      return buckets.get(resource)?.compactedRv ?? 0;
    },
    compact(resource) {
      // the revision moves on, as the constant writes of a live cluster make it do: a watcher at
      // the previous revision is now outside the window, a fresh list is inside it
      rv += 1;
      if (resource === undefined) floorRv = rv;
      const targets = resource === undefined ? [...buckets.values()] : [bucket(resource)];
      for (const b of targets) {
        b.history = [];
        b.historyStart = 0;
        b.compactedRv = rv;
      }
    },
    resources() {
      return [...buckets.keys()];
    },
  };
}
