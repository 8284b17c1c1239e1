// tmpfs mounts for memory-backed volumes, through mount(8)/umount(8) with argument arrays.
import { execFile } from "node:child_process";
import { readFile, realpath } from "node:fs/promises";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The mount operations the volume manager needs (replaceable in tests or on non-Linux nodes). */
export interface Mounter {
  /** Mounts a tmpfs on `dir` (mode 0777 like upstream's memory-medium emptyDir), `size=` when given. */
  mountTmpfs(dir: string, sizeBytes?: number): Promise<void>;
  unmount(dir: string): Promise<void>;
  /** Mount points at or under `dir` (deepest first). */
  mountPointsUnder(dir: string): Promise<string[]>;
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
const unescapeOctal = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** Mount points listed in a mountinfo text (field 5). */
export function parseMountInfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    if (fields.length > 5) out.push(unescapeOctal(fields[4]!));
  }
  return out;
}

export function createHostMounter(): Mounter {
  return {
    async mountTmpfs(dir, sizeBytes) {
      const opts = ["mode=0777", ...(sizeBytes !== undefined ? [`size=${sizeBytes}`] : [])].join(",");
      try {
        await exec("mount", ["-t", "tmpfs", "-o", opts, "tmpfs", dir]);
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`mount -t tmpfs on ${dir} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
      }
    },
    async unmount(dir) {
      try {
        await exec("umount", [dir]);
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`umount ${dir} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
      }
    },
    async mountPointsUnder(dir) {
      let real: string;
      try {
        real = await realpath(dir);
      } catch {
        return [];
      }
      const points = parseMountInfo(await readFile("/proc/self/mountinfo", "utf8"));
      return [...new Set(points.filter((p) => p === real || p.startsWith(`${real}/`)))].sort(
        (a, b) => b.length - a.length,
      );
    },
  };
}
