// fsGroup ownership of a pod's volumes (pkg/volume/volume_linux.go SetVolumeOwnership): every file
// and directory under the volume gets group fsGroup and group read (and write, unless the volume is
// read-only) permission; directories get group search and setgid, so files created later inherit
// the group. Symlinks are re-grouped but keep their mode. With fsGroupChangePolicy OnRootMismatch
// the walk is skipped when the volume's root already looks right.
import type { Stats } from "node:fs";
import { chmod, lchown, lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;
/** IsValidGroupID: 0 to 2^31-1. */
const MAX_GROUP_ID = 2 ** 31 - 1;

export type FsGroupChangePolicy = "Always" | "OnRootMismatch";

export interface OwnershipOptions {
  /** The volume is mounted read-only (configMap, secret, downwardAPI, projected). */
  readOnly: boolean;
  /** spec.securityContext.fsGroupChangePolicy, default Always. */
  policy?: FsGroupChangePolicy | undefined;
}

/** Checks a pod's fsGroup as the API server does, since it reaches chown. */
export function validFsGroup(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_GROUP_ID)
    throw new Error(
      `securityContext.fsGroup ${JSON.stringify(value)} must be between 0 and ${MAX_GROUP_ID}, inclusive`,
    );
  return value;
}

function wantedMode(st: Stats, readOnly: boolean): number {
  let mask = readOnly ? RO_MASK : RW_MASK;
  if (st.isDirectory()) mask |= SETGID | EXEC_MASK;
  return (st.mode & 0o7777) | mask;
}

/** requiresPermissionChange: the root directory is not yet in the fsGroup's hands. */
async function rootNeedsChange(dir: string, fsGroup: number, readOnly: boolean): Promise<boolean> {
  const st = await lstat(dir);
  return st.gid !== fsGroup || (st.mode & 0o7777) !== wantedMode(st, readOnly);
}

/** Applies fsGroup ownership under `dir` (the volume's host directory). */
export async function setVolumeOwnership(
  dir: string,
  fsGroup: number,
  options: OwnershipOptions,
): Promise<void> {
  const gid = validFsGroup(fsGroup);
  if (options.policy === "OnRootMismatch" && !(await rootNeedsChange(dir, gid, options.readOnly))) return;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    await lchown(path, -1, gid);
    if (st.isSymbolicLink()) return; // a symlink has no mode of its own to change
    await chmod(path, wantedMode(st, options.readOnly));
    if (st.isDirectory()) for (const entry of await readdir(path)) await visit(join(path, entry));
  };
  await visit(dir);
}
