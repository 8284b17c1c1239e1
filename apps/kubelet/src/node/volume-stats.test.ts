import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PodStatsSource } from "@kubenode/eviction";
import { afterEach, expect, it } from "vitest";
import { diskUsage, withEmptyDirUsage } from "./volume-stats.js";

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

const UID = "3f0c1a2b-0000-4000-8000-000000000001";

it("measures allocated bytes and inodes like du", async () => {
  root = await mkdtemp(join(tmpdir(), "kn-du-"));
  await mkdir(join(root, "d"));
  await writeFile(join(root, "d", "f"), Buffer.alloc(64 * 1024, 1));
  const u = await diskUsage(root);
  expect(u.inodesUsed).toBe(3);
  expect(u.usedBytes).toBeGreaterThanOrEqual(64 * 1024);
});

it("adds each pod's disk emptyDir volumes to its stats and to its ephemeral-storage use", async () => {
  root = await mkdtemp(join(tmpdir(), "kn-du-"));
  const vol = join(root, "pods", UID, "volumes", "kubernetes.io~empty-dir", "scratch");
  await mkdir(vol, { recursive: true });
  await writeFile(join(vol, "data"), Buffer.alloc(128 * 1024, 1));
  const inner: PodStatsSource = {
    podStats: async () => [
      { uid: UID, ephemeralStorageUsedBytes: 4096 },
      { uid: "other", ephemeralStorageUsedBytes: 1 },
    ],
  };
  const [mine, other] = await withEmptyDirUsage(inner, root).podStats();
  const scratch = mine?.volumes?.find((v) => v.name === "scratch");
  expect(scratch?.usedBytes).toBeGreaterThanOrEqual(128 * 1024);
  expect(mine?.ephemeralStorageUsedBytes).toBe(4096 + (scratch?.usedBytes ?? 0));
  expect(other).toEqual({ uid: "other", ephemeralStorageUsedBytes: 1 });
});
