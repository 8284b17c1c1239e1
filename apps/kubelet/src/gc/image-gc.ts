// Image garbage collection (images/image_gc_manager.go): when the image filesystem is used at or
// above the high threshold, remove unused images, least recently used first, until usage is back
// at the low threshold. Images any container uses (in any state), pinned images and images younger
// than the minimum age are never removed.
import type { Clock, Logger } from "@kubenode/kube";
import type { FsUsage, RuntimeImage, RuntimeImageService } from "../runtime/types.js";

/** Image GC policy (upstream ImageGCPolicy; KubeletConfiguration imageGC*). */
export interface ImageGcPolicy {
  /** Usage at or above which GC runs; upstream imageGCHighThresholdPercent, default 85. 100 disables it. */
  highThresholdPercent: number;
  /** Usage GC frees down to; upstream imageGCLowThresholdPercent, default 80. */
  lowThresholdPercent: number;
  /** Minimum time since an image was first seen before it may go; upstream imageMinimumGCAge, default 2 min. */
  minAgeMs: number;
}

export const DEFAULT_IMAGE_GC_POLICY: ImageGcPolicy = {
  highThresholdPercent: 85,
  lowThresholdPercent: 80,
  minAgeMs: 120_000,
};

/** Outcome of one image GC pass. */
export interface ImageGcResult {
  /** Image IDs removed. */
  removed: string[];
  freedBytes: number;
  /** Bytes the pass meant to free (0 when usage was below the high threshold). */
  targetBytes: number;
}

/** A node event image GC reports (FreeDiskSpaceFailed, InvalidDiskCapacity). */
export interface ImageGcEvent {
  type: "Warning";
  reason: "FreeDiskSpaceFailed" | "InvalidDiskCapacity";
  message: string;
}

/** Options of {@link createImageGc}. */
export interface ImageGcOptions {
  images: RuntimeImageService;
  /** IDs (and names) of the images containers use, running or not. */
  imagesInUse(): Promise<Set<string>>;
  /** Replaces the runtime's image filesystem usage (a node with its own disk accounting, tests). */
  imageFsUsage?: () => Promise<FsUsage | undefined>;
  policy?: Partial<ImageGcPolicy>;
  clock: Pick<Clock, "now">;
  logger: Logger;
  onEvent?: (event: ImageGcEvent) => void;
}

/** Image GC with its records of when each image was first seen and last used. */
export interface ImageGc {
  /** Reads the image list and records which images are in use (upstream detectImages, every 5 min). */
  detect(): Promise<void>;
  /** One threshold-driven pass (upstream GarbageCollect). Throws when it could not free enough. */
  garbageCollect(): Promise<ImageGcResult>;
  /** Removes every unused image old enough, whatever the usage (eviction's node-level reclaim). */
  deleteUnusedImages(): Promise<ImageGcResult>;
}

interface ImageRecord {
  firstDetectedMs: number;
  /** 0 = never seen in use. */
  lastUsedMs: number;
  sizeBytes: number;
  pinned: boolean;
}

/**
 * Validates a policy as upstream's kubelet config validation does.
 * @throws RangeError naming the bad field.
 */
export function validateImageGcPolicy(p: ImageGcPolicy): void {
  const pct = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 100)
      throw new RangeError(`${name} (${v}) must be an integer between 0 and 100, inclusive`);
  };
  pct("imageGCHighThresholdPercent", p.highThresholdPercent);
  pct("imageGCLowThresholdPercent", p.lowThresholdPercent);
  if (p.lowThresholdPercent >= p.highThresholdPercent && p.highThresholdPercent !== 100)
    throw new RangeError(
      `imageGCLowThresholdPercent (${p.lowThresholdPercent}) must be less than imageGCHighThresholdPercent (${p.highThresholdPercent})`,
    );
  if (!(p.minAgeMs >= 0))
    throw new RangeError(`imageMinimumGCAge must not be negative, got ${p.minAgeMs} ms`);
}

/** Creates image GC. Its first {@link ImageGc.detect} treats images already present as old. */
export function createImageGc(options: ImageGcOptions): ImageGc {
  const policy: ImageGcPolicy = { ...DEFAULT_IMAGE_GC_POLICY, ...options.policy };
  validateImageGcPolicy(policy);
  const { clock } = options;
  const log = options.logger.withName("image-gc");
  const records = new Map<string, ImageRecord>();
  let initialized = false;
  let running: Promise<unknown> = Promise.resolve();

  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = running.then(fn, fn);
    running = next.catch(() => undefined);
    return next;
  };

  async function detect(detectMs: number): Promise<Set<string>> {
    const [images, inUse] = await Promise.all([options.images.listImages(), options.imagesInUse()]);
    const nowMs = clock.now();
    const current = new Set<string>();
    for (const img of images) {
      current.add(img.id);
      let r = records.get(img.id);
      if (!r) {
        r = { firstDetectedMs: detectMs, lastUsedMs: 0, sizeBytes: 0, pinned: false };
        records.set(img.id, r);
      }
      if (isUsed(img, inUse)) r.lastUsedMs = nowMs;
      r.sizeBytes = img.sizeBytes;
      r.pinned = img.pinned;
    }
    for (const id of records.keys()) if (!current.has(id)) records.delete(id);
    initialized = true;
    return new Set(images.filter((img) => isUsed(img, inUse)).map((img) => img.id));
  }

  function isUsed(img: RuntimeImage, inUse: Set<string>): boolean {
    return inUse.has(img.id) || img.names.some((n) => inUse.has(n));
  }

  async function freeSpace(bytesToFree: number, freeMs: number): Promise<ImageGcResult> {
    const inUse = await detect(freeMs);
    const candidates = [...records]
      .filter(([id, r]) => !inUse.has(id) && !r.pinned)
      // Least recently used first, then first detected (byLastUsedAndDetected).
      .sort(([, a], [, b]) => a.lastUsedMs - b.lastUsedMs || a.firstDetectedMs - b.firstDetectedMs);
    const result: ImageGcResult = { removed: [], freedBytes: 0, targetBytes: bytesToFree };
    const errors: unknown[] = [];
    for (const [id, r] of candidates) {
      if (r.lastUsedMs >= freeMs) continue; // used during this pass
      if (freeMs - r.firstDetectedMs < policy.minAgeMs) continue;
      log.info("Removing image to free bytes", { imageID: id, size: r.sizeBytes });
      try {
        await options.images.removeImage(id);
      } catch (err) {
        errors.push(err);
        continue;
      }
      records.delete(id);
      result.removed.push(id);
      result.freedBytes += r.sizeBytes;
      if (result.freedBytes >= bytesToFree) break;
    }
    if (errors.length > 0 && result.freedBytes < bytesToFree)
      throw new AggregateError(errors, `removing ${errors.length} image(s) failed`);
    return result;
  }

  return {
    detect: () =>
      serialized(async () => {
        // The first pass dates images found at start-up to the epoch: they count as old at once.
        await detect(initialized ? clock.now() : 0);
      }),
    garbageCollect: () =>
      serialized(async () => {
        if (!initialized) await detect(0);
        const freeMs = clock.now();
        const none: ImageGcResult = { removed: [], freedBytes: 0, targetBytes: 0 };
        if (policy.highThresholdPercent >= 100) return none;
        const usage = await (options.imageFsUsage ?? options.images.imageFsUsage)();
        if (!usage) return none;
        const capacity = usage.capacityBytes;
        const available = Math.min(usage.availableBytes, capacity);
        if (capacity <= 0) {
          const message = "invalid capacity 0 on image filesystem";
          options.onEvent?.({ type: "Warning", reason: "InvalidDiskCapacity", message });
          throw new Error(message);
        }
        const usagePercent = 100 - Math.floor((available * 100) / capacity);
        if (usagePercent < policy.highThresholdPercent) return none;
        const amountToFree = Math.floor((capacity * (100 - policy.lowThresholdPercent)) / 100) - available;
        log.info(
          "Disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold",
          {
            usage: usagePercent,
            highThreshold: policy.highThresholdPercent,
            amountToFree,
            lowThreshold: policy.lowThresholdPercent,
          },
        );
        const result = await freeSpace(amountToFree, freeMs);
        if (result.freedBytes < amountToFree) {
          const message = `Failed to garbage collect required amount of images. Attempted to free ${amountToFree} bytes, but only found ${result.freedBytes} bytes eligible to free.`;
          options.onEvent?.({ type: "Warning", reason: "FreeDiskSpaceFailed", message });
          throw new Error(message);
        }
        return result;
      }),
    deleteUnusedImages: () =>
      serialized(async () => {
        if (!initialized) await detect(0);
        log.info("Attempting to delete unused images");
        return freeSpace(Number.MAX_SAFE_INTEGER, clock.now());
      }),
  };
}
