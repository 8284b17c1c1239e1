// The kubelet's garbage collection loops (kubelet.go StartGarbageCollection): container GC every
// minute, image GC every 5 minutes, and the same passes on demand for eviction's node-level reclaim.
import type { Clock, Logger, TimerHandle } from "@kubenode/kube";
import type { FsUsage, PodRuntime } from "../runtime/types.js";
import {
  type ContainerGcPlan,
  type ContainerGcPolicy,
  DEFAULT_CONTAINER_GC_POLICY,
  planContainerGc,
} from "./container-gc.js";
import {
  createImageGc,
  type ImageGc,
  type ImageGcEvent,
  type ImageGcPolicy,
  type ImageGcResult,
} from "./image-gc.js";

export {
  type ContainerGcPlan,
  type ContainerGcPolicy,
  DEFAULT_CONTAINER_GC_POLICY,
  planContainerGc,
} from "./container-gc.js";
export {
  createImageGc,
  DEFAULT_IMAGE_GC_POLICY,
  type ImageGc,
  type ImageGcEvent,
  type ImageGcPolicy,
  type ImageGcResult,
  validateImageGcPolicy,
} from "./image-gc.js";

/** Upstream ContainerGCPeriod and ImageGCPeriod. */
export const CONTAINER_GC_PERIOD_MS = 60_000;
export const IMAGE_GC_PERIOD_MS = 300_000;

/** What GC needs to know about pods from the pod workers. */
export interface GcPodState {
  /** The pod was deleted (or is unknown once every source synced): all of its runtime state may go. */
  contentRemovable(uid: string): boolean;
  /** The pod is finished (terminated, not deleted): its dead containers may go under disk pressure. */
  runtimeRemovable(uid: string): boolean;
}

/** Settings of the GC loops (KubeletConfiguration imageGC*, imageMinimumGCAge; container GC flags). */
export interface GcSettings {
  container?: Partial<ContainerGcPolicy>;
  image?: Partial<ImageGcPolicy>;
  containerPeriodMs?: number;
  imagePeriodMs?: number;
  /** Replaces the runtime's image filesystem usage (a node with its own disk accounting, tests). */
  imageFsUsage?: () => Promise<FsUsage | undefined>;
}

/** Options of {@link createGarbageCollector}. */
export interface GarbageCollectorOptions extends GcSettings {
  runtime: Pick<PodRuntime, "listPods" | "removeContainer" | "removeSandbox" | "images">;
  podState: GcPodState;
  clock: Clock;
  logger: Logger;
  /** Node events (FreeDiskSpaceFailed, InvalidDiskCapacity). */
  onEvent?: (event: ImageGcEvent) => void;
}

/** The running GC loops. Its two `delete…` methods are eviction's reclaim hooks. */
export interface GarbageCollector {
  start(): void;
  /** Stops the loops; resolves once a pass in progress finished. */
  stop(): Promise<void>;
  /** One container GC pass; returns what it removed. */
  collectContainers(): Promise<ContainerGcPlan>;
  /** One threshold-driven image GC pass; undefined when the runtime has no image service. */
  collectImages(): Promise<ImageGcResult | undefined>;
  /** Container GC that also removes every dead container of finished pods (DeleteAllUnusedContainers). */
  deleteAllUnusedContainers(): Promise<void>;
  /** Removes every unused image old enough (DeleteUnusedImages). */
  deleteUnusedImages(): Promise<void>;
}

/** Creates the GC loops; nothing runs until {@link GarbageCollector.start}. */
export function createGarbageCollector(options: GarbageCollectorOptions): GarbageCollector {
  const { runtime, podState, clock } = options;
  const log = options.logger.withName("gc");
  const containerPolicy: ContainerGcPolicy = { ...DEFAULT_CONTAINER_GC_POLICY, ...options.container };
  const imageGc: ImageGc | undefined = runtime.images
    ? createImageGc({
        images: runtime.images,
        async imagesInUse() {
          // Every container the runtime holds, running or dead, keeps its image (detectImages).
          const used = new Set<string>();
          for (const p of await runtime.listPods())
            for (const c of p.containers) {
              if (c.imageRef) used.add(c.imageRef);
              if (c.image) used.add(c.image);
            }
          return used;
        },
        ...(options.imageFsUsage ? { imageFsUsage: options.imageFsUsage } : {}),
        ...(options.image ? { policy: options.image } : {}),
        clock,
        logger: options.logger,
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      })
    : undefined;

  let containerPass: Promise<ContainerGcPlan> | undefined;
  async function containerGc(evictFinished: boolean): Promise<ContainerGcPlan> {
    // One pass at a time; a caller arriving during a pass waits for it and runs its own.
    while (containerPass) await containerPass.catch(() => undefined);
    const pass = (async () => {
      const removable = evictFinished
        ? (uid: string) => podState.contentRemovable(uid) || podState.runtimeRemovable(uid)
        : (uid: string) => podState.contentRemovable(uid);
      const plan = planContainerGc(await runtime.listPods(), removable, containerPolicy, clock.now());
      const errors: unknown[] = [];
      for (const c of plan.containers) {
        log.v(4, "Removing container", { containerID: c.id, name: c.name });
        await runtime.removeContainer(c.id).catch((err) => errors.push(err));
      }
      for (const sb of plan.sandboxes) {
        log.v(4, "Removing sandbox", { podSandboxID: sb.id });
        await runtime.removeSandbox(sb.id).catch((err) => errors.push(err));
      }
      if (errors.length > 0) throw new AggregateError(errors, "container garbage collection failed");
      return plan;
    })();
    containerPass = pass;
    try {
      return await pass;
    } finally {
      containerPass = undefined;
    }
  }

  let stopped = false;
  let started = false;
  const timers = new Set<TimerHandle>();
  const inFlight = new Set<Promise<unknown>>();
  function loop(name: string, periodMs: number, pass: () => Promise<unknown>): void {
    const tick = () => {
      if (stopped) return;
      const run = pass()
        .catch((err) => log.error(`${name} garbage collection failed`, err))
        .finally(() => {
          inFlight.delete(run);
          if (stopped) return;
          const t = clock.setTimeout(() => {
            timers.delete(t);
            tick();
          }, periodMs);
          timers.add(t);
        });
      inFlight.add(run);
    };
    tick();
  }

  return {
    start() {
      if (started) throw new Error("garbage collector already started");
      started = true;
      loop("Container", options.containerPeriodMs ?? CONTAINER_GC_PERIOD_MS, () => containerGc(false));
      if (imageGc) {
        loop("Image", options.imagePeriodMs ?? IMAGE_GC_PERIOD_MS, async () => {
          await imageGc.detect();
          await imageGc.garbageCollect();
        });
      }
    },
    async stop() {
      stopped = true;
      for (const t of timers) clock.clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
    collectContainers: () => containerGc(false),
    collectImages: async () => imageGc?.garbageCollect(),
    async deleteAllUnusedContainers() {
      await containerGc(true);
    },
    async deleteUnusedImages() {
      await imageGc?.deleteUnusedImages();
    },
  };
}
