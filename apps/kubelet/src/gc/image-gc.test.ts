import { createFakeClock, silentLogger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import type { FsUsage, RuntimeImage } from "../runtime/types.js";
import { createImageGc, type ImageGcEvent, validateImageGcPolicy } from "./image-gc.js";

const MiB = 2 ** 20;

/** An in-memory image store whose disk usage is the sum of its images plus `otherBytes`. */
function world(images: RuntimeImage[], capacityBytes: number, otherBytes = 0) {
  const store = new Map(images.map((i) => [i.id, i]));
  const inUse = new Set<string>();
  const removed: string[] = [];
  const used = () => otherBytes + [...store.values()].reduce((n, i) => n + i.sizeBytes, 0);
  return {
    inUse,
    removed,
    service: {
      listImages: async () => [...store.values()],
      async removeImage(id: string) {
        removed.push(id);
        store.delete(id);
      },
      imageFsUsage: async (): Promise<FsUsage> => ({ capacityBytes, availableBytes: capacityBytes - used() }),
    },
    imagesInUse: async () => new Set(inUse),
  };
}

const img = (id: string, sizeMiB: number, extra: Partial<RuntimeImage> = {}): RuntimeImage => ({
  id,
  names: [`example.test/${id}:1`],
  sizeBytes: sizeMiB * MiB,
  pinned: false,
  ...extra,
});

// Cases after upstream's image_gc_manager_test.go.
describe("image GC", () => {
  it("does nothing below the high threshold", async () => {
    const w = world([img("a", 10)], 100 * MiB, 70 * MiB); // 80 % used
    const gc = createImageGc({
      images: w.service,
      imagesInUse: w.imagesInUse,
      clock: createFakeClock(),
      logger: silentLogger,
    });
    expect(await gc.garbageCollect()).toEqual({ removed: [], freedBytes: 0, targetBytes: 0 });
    expect(w.removed).toEqual([]);
  });

  it("above the high threshold frees down to the low one, least recently used first, never in-use or pinned", async () => {
    const clock = createFakeClock(0);
    // 90 % used: capacity 100 MiB, target 80 % -> free 10 MiB.
    const w = world(
      [img("old", 6), img("newer", 6), img("busy", 6), img("pause", 6, { pinned: true })],
      100 * MiB,
      66 * MiB,
    );
    const gc = createImageGc({ images: w.service, imagesInUse: w.imagesInUse, clock, logger: silentLogger });
    // "newer" was used (by a container since removed) more recently than "old".
    w.inUse.add("example.test/newer:1");
    await gc.detect();
    w.inUse.clear();
    w.inUse.add("busy");
    await clock.step(5 * 60_000);
    const r = await gc.garbageCollect();
    expect(r.removed).toEqual(["old", "newer"]);
    expect(r.freedBytes).toBe(12 * MiB);
    expect(r.targetBytes).toBe(10 * MiB);
    expect(w.removed).not.toContain("busy");
    expect(w.removed).not.toContain("pause");
  });

  it("keeps images younger than the minimum age; images present at start count as old", async () => {
    const clock = createFakeClock(10 * 60_000);
    const w = world([img("preexisting", 10)], 100 * MiB, 80 * MiB);
    const gc = createImageGc({ images: w.service, imagesInUse: w.imagesInUse, clock, logger: silentLogger });
    await gc.detect();
    w.removed.length = 0;
    // An image pulled after start-up is first seen now: protected for 2 min.
    const w2Image = img("fresh", 10);
    const listBefore = w.service.listImages;
    w.service.listImages = async () => [...(await listBefore()), w2Image];
    await gc.detect();
    expect((await gc.deleteUnusedImages()).removed).toEqual(["preexisting"]);
    await clock.step(119_000);
    expect((await gc.deleteUnusedImages()).removed).toEqual([]);
    await clock.step(1_000);
    expect((await gc.deleteUnusedImages()).removed).toEqual(["fresh"]);
  });

  it("reports FreeDiskSpaceFailed when not enough is eligible, InvalidDiskCapacity for capacity 0", async () => {
    const events: ImageGcEvent[] = [];
    const w = world([img("busy", 5)], 100 * MiB, 90 * MiB);
    w.inUse.add("busy");
    const gc = createImageGc({
      images: w.service,
      imagesInUse: w.imagesInUse,
      clock: createFakeClock(),
      logger: silentLogger,
      onEvent: (e) => events.push(e),
    });
    await expect(gc.garbageCollect()).rejects.toThrow(
      `Failed to garbage collect required amount of images. Attempted to free ${15 * MiB} bytes, but only found 0 bytes eligible to free.`,
    );
    expect(events.map((e) => e.reason)).toEqual(["FreeDiskSpaceFailed"]);
    const zero = createImageGc({
      images: w.service,
      imagesInUse: w.imagesInUse,
      imageFsUsage: async () => ({ capacityBytes: 0, availableBytes: 0 }),
      clock: createFakeClock(),
      logger: silentLogger,
      onEvent: (e) => events.push(e),
    });
    await expect(zero.garbageCollect()).rejects.toThrow("invalid capacity 0 on image filesystem");
    expect(events.at(-1)?.reason).toBe("InvalidDiskCapacity");
  });

  it("is off at a high threshold of 100 and validates its policy", async () => {
    const w = world([img("a", 10)], 100 * MiB, 90 * MiB);
    const gc = createImageGc({
      images: w.service,
      imagesInUse: w.imagesInUse,
      policy: { highThresholdPercent: 100 },
      clock: createFakeClock(),
      logger: silentLogger,
    });
    expect((await gc.garbageCollect()).removed).toEqual([]);
    expect(() =>
      validateImageGcPolicy({ highThresholdPercent: 80, lowThresholdPercent: 80, minAgeMs: 0 }),
    ).toThrow("imageGCLowThresholdPercent (80) must be less than imageGCHighThresholdPercent (80)");
    expect(() =>
      validateImageGcPolicy({ highThresholdPercent: 101, lowThresholdPercent: 80, minAgeMs: 0 }),
    ).toThrow(/between 0 and 100/);
  });
});
