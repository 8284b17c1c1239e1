import { chmod, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { setVolumeOwnership, validFsGroup } from "./ownership.js";

// chown to another group needs root; elsewhere the test uses the caller's own group.
const GID = process.getuid?.() === 0 ? 2000 : (process.getgid?.() ?? 0);
const mode = async (p: string) => (await lstat(p)).mode & 0o7777;
const gid = async (p: string) => (await lstat(p)).gid;

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function volume(): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), "kn-fsgroup-"));
  await chmod(dir, 0o755);
  await mkdir(join(dir, "sub"), { mode: 0o700 });
  await writeFile(join(dir, "sub", "f"), "x", { mode: 0o600 });
  await chmod(join(dir, "sub", "f"), 0o600);
  await symlink("sub/f", join(dir, "link"));
  return dir;
}

describe("setVolumeOwnership", () => {
  it("gives a writable volume to the group: rw files, rwx+setgid directories, symlinks only re-grouped", async () => {
    const v = await volume();
    await setVolumeOwnership(v, GID, { readOnly: false });
    expect(await mode(v)).toBe(0o2775);
    expect(await mode(join(v, "sub"))).toBe(0o2770);
    expect(await mode(join(v, "sub", "f"))).toBe(0o660);
    for (const p of [v, join(v, "sub"), join(v, "sub", "f"), join(v, "link")]) expect(await gid(p)).toBe(GID);
  });

  it("gives only read (and search) to the group of a read-only volume", async () => {
    const v = await volume();
    await setVolumeOwnership(v, GID, { readOnly: true });
    expect(await mode(join(v, "sub"))).toBe(0o2750);
    expect(await mode(join(v, "sub", "f"))).toBe(0o640);
  });

  it("with OnRootMismatch, leaves a volume whose root is already right untouched", async () => {
    const v = await volume();
    await setVolumeOwnership(v, GID, { readOnly: false });
    await chmod(join(v, "sub", "f"), 0o600); // changed by the workload afterwards
    await setVolumeOwnership(v, GID, { readOnly: false, policy: "OnRootMismatch" });
    expect(await mode(join(v, "sub", "f"))).toBe(0o600);
    await setVolumeOwnership(v, GID, { readOnly: false, policy: "Always" });
    expect(await mode(join(v, "sub", "f"))).toBe(0o660);
  });

  it("refuses an fsGroup the API server would refuse", () => {
    for (const bad of [-1, 2 ** 31, 1.5, "2000", null])
      expect(() => validFsGroup(bad)).toThrow(/securityContext\.fsGroup .* must be between 0 and 2147483647/);
    expect(validFsGroup(0)).toBe(0);
  });
});
