// Atomic writes of a volume's files (upstream pkg/volume/util/atomic_writer.go): the payload lives
// in a timestamped directory `..<time>.<random>`, `..data` is a symlink to it, and each top-level
// name the user sees is a symlink `<name> -> ..data/<name>`. An update writes a new timestamped
// directory and swaps `..data` with one rename(2), so a reader sees either the old or the new set
// of files, never a mix.
import { randomBytes } from "node:crypto";
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { dirname, isAbsolute, join, posix } from "node:path";

/** One file of a volume's payload. */
export interface FileProjection {
  data: Buffer;
  /** Permission bits (e.g. 0o644). */
  mode: number;
}

/** A payload path that could escape the volume or collide with the writer's own names. */
export class InvalidPayloadPathError extends Error {
  override readonly name = "InvalidPayloadPathError";
}

const DATA_DIR = "..data";
const DATA_DIR_TMP = "..data_tmp";
const MAX_PATH_LENGTH = 4096;
const MAX_FILE_NAME_LENGTH = 255;

/**
 * Checks a payload path as upstream's validatePath does: relative, no `..` element, no first element
 * starting with `..` (the writer's own names), at most 4096 bytes and 255 per element.
 */
export function validatePayloadPath(path: string): void {
  if (path.length === 0) throw new InvalidPayloadPathError("invalid path: must not be empty");
  if (Buffer.byteLength(path) > MAX_PATH_LENGTH)
    throw new InvalidPayloadPathError(
      `invalid path: must be less than or equal to ${MAX_PATH_LENGTH} characters`,
    );
  if (isAbsolute(path) || path.startsWith("/"))
    throw new InvalidPayloadPathError(`invalid path: must be relative path: ${path}`);
  const items = path.split("/");
  for (const item of items) {
    if (item === "..") throw new InvalidPayloadPathError(`invalid path: must not contain '..': ${path}`);
    if (Buffer.byteLength(item) > MAX_FILE_NAME_LENGTH)
      throw new InvalidPayloadPathError(
        `invalid path: filenames must be less than or equal to ${MAX_FILE_NAME_LENGTH} characters`,
      );
  }
  if (items[0]!.startsWith("..") && items[0]!.length > 2)
    throw new InvalidPayloadPathError(`invalid path: must not start with '..': ${path}`);
}

/** Validates and normalises a payload (`a//b/` -> `a/b`). */
function cleanPayload(payload: ReadonlyMap<string, FileProjection>): Map<string, FileProjection> {
  const out = new Map<string, FileProjection>();
  for (const [path, file] of payload) {
    validatePayloadPath(path);
    const clean = posix.normalize(path).replace(/\/+$/, "");
    if (clean === "." || clean === "") throw new InvalidPayloadPathError(`invalid path: ${path}`);
    out.set(clean, file);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readPayload(dir: string, prefix = ""): Promise<Map<string, FileProjection>> {
  const out = new Map<string, FileProjection>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      for (const [k, v] of await readPayload(full, rel)) out.set(k, v);
    } else if (entry.isFile()) {
      const st = await lstat(full);
      out.set(rel, { data: await readFile(full), mode: st.mode & 0o7777 });
    }
  }
  return out;
}

function samePayload(
  a: ReadonlyMap<string, FileProjection>,
  b: ReadonlyMap<string, FileProjection>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const o = b.get(k);
    if (!o || o.mode !== v.mode || !o.data.equals(v.data)) return false;
  }
  return true;
}

function timestampedName(nowMs: number): string {
  // upstream: `..` + time.Now().UTC().Format("2006_01_02_15_04_05.") + a random suffix
  const d = new Date(nowMs);
  const p = (n: number) => String(n).padStart(2, "0");
  const ts = `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
  return `..${ts}.${randomBytes(5).toString("hex")}`;
}

/**
 * Writes `payload` into `targetDir` atomically. Returns false when the payload equals what is
 * there (nothing written). Throws {@link InvalidPayloadPathError} for a hostile path, before
 * anything is written.
 */
export async function writeAtomic(
  targetDir: string,
  payload: ReadonlyMap<string, FileProjection>,
  nowMs: number = Date.now(),
  /** Runs once the new files are written, before `..data` points at them (upstream's setPerms). */
  beforeSwap?: () => Promise<void>,
): Promise<boolean> {
  const clean = cleanPayload(payload);
  const dataLink = join(targetDir, DATA_DIR);
  let oldTsName: string | undefined;
  try {
    oldTsName = await readlink(dataLink);
  } catch {
    oldTsName = undefined;
  }
  if (oldTsName !== undefined && (await exists(join(targetDir, oldTsName)))) {
    const current = await readPayload(join(targetDir, oldTsName));
    if (samePayload(current, clean)) {
      await ensureUserLinks(targetDir, clean);
      return false;
    }
  }
  const tsName = timestampedName(nowMs);
  const tsDir = join(targetDir, tsName);
  await mkdir(tsDir, { mode: 0o755 });
  await chmod(tsDir, 0o755);
  for (const [path, file] of clean) {
    const full = join(tsDir, path);
    await mkdir(dirname(full), { recursive: true, mode: 0o755 });
    await writeFile(full, file.data, { mode: file.mode });
    await chmod(full, file.mode); // the umask narrows writeFile's mode
  }
  await beforeSwap?.();
  const tmpLink = join(targetDir, DATA_DIR_TMP);
  await rm(tmpLink, { force: true });
  await symlink(tsName, tmpLink);
  await rename(tmpLink, dataLink);
  await ensureUserLinks(targetDir, clean);
  if (oldTsName !== undefined && oldTsName !== tsName)
    await rm(join(targetDir, oldTsName), { recursive: true, force: true });
  return true;
}

/** Creates `<top> -> ..data/<top>` for every top-level name and removes the ones no longer in the payload. */
async function ensureUserLinks(
  targetDir: string,
  payload: ReadonlyMap<string, FileProjection>,
): Promise<void> {
  const tops = new Set([...payload.keys()].map((p) => p.split("/")[0]!));
  for (const top of tops) {
    const link = join(targetDir, top);
    const want = join(DATA_DIR, top);
    let have: string | undefined;
    try {
      have = await readlink(link);
    } catch {
      have = undefined;
    }
    if (have === want) continue;
    await rm(link, { recursive: true, force: true });
    await symlink(want, link);
  }
  for (const entry of await readdir(targetDir)) {
    if (entry.startsWith("..") || tops.has(entry)) continue;
    await rm(join(targetDir, entry), { recursive: true, force: true });
  }
  // Leftover timestamped directories of an interrupted write.
  let current: string | undefined;
  try {
    current = await readlink(join(targetDir, DATA_DIR));
  } catch {
    current = undefined;
  }
  for (const entry of await readdir(targetDir)) {
    if (entry === DATA_DIR || entry === current || !entry.startsWith("..") || entry === DATA_DIR_TMP)
      continue;
    await rm(join(targetDir, entry), { recursive: true, force: true });
  }
}
