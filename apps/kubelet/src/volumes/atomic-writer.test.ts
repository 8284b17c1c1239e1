import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type FileProjection,
  InvalidPayloadPathError,
  validatePayloadPath,
  writeAtomic,
} from "./atomic-writer.js";

const file = (text: string, mode = 0o644): FileProjection => ({ data: Buffer.from(text), mode });
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

describe("writeAtomic", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "atomic-writer-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes a timestamped directory, ..data pointing at it, and a link per top-level name", async () => {
    const changed = await writeAtomic(
      dir,
      new Map([
        ["a", file("A")],
        ["sub/b", file("B", 0o400)],
      ]),
      T0,
    );
    expect(changed).toBe(true);
    const data = await readlink(join(dir, "..data"));
    expect(data).toMatch(/^\.\.2026_01_02_03_04_05\.[0-9a-f]{10}$/);
    expect(await readlink(join(dir, "a"))).toBe("..data/a");
    expect(await readlink(join(dir, "sub"))).toBe("..data/sub");
    expect(await readFile(join(dir, "sub/b"), "utf8")).toBe("B");
    expect((await stat(join(dir, "sub/b"))).mode & 0o777).toBe(0o400);
    expect((await stat(join(dir, "a"))).mode & 0o777).toBe(0o644);
  });

  it("swaps ..data on change, removing the old directory and names no longer in the payload", async () => {
    await writeAtomic(
      dir,
      new Map([
        ["a", file("1")],
        ["gone", file("x")],
      ]),
      T0,
    );
    const first = await readlink(join(dir, "..data"));
    expect(await writeAtomic(dir, new Map([["a", file("2")]]), T0 + 1000)).toBe(true);
    const second = await readlink(join(dir, "..data"));
    expect(second).not.toBe(first);
    expect(await readFile(join(dir, "a"), "utf8")).toBe("2");
    expect((await readdir(dir)).sort()).toEqual(["..data", second, "a"].sort());
  });

  it("leaves an unchanged payload alone", async () => {
    await writeAtomic(dir, new Map([["a", file("1")]]), T0);
    const first = await readlink(join(dir, "..data"));
    expect(await writeAtomic(dir, new Map([["a", file("1")]]), T0 + 1000)).toBe(false);
    expect(await readlink(join(dir, "..data"))).toBe(first);
    // A mode change alone is a change.
    expect(await writeAtomic(dir, new Map([["a", file("1", 0o600)]]), T0 + 2000)).toBe(true);
  });

  it("rejects hostile paths before writing anything", async () => {
    for (const bad of ["/etc/passwd", "../escape", "a/../../b", "..data/x", "..2026_01_01/x", ""]) {
      await expect(
        writeAtomic(
          dir,
          new Map([
            ["ok", file("1")],
            [bad, file("2")],
          ]),
          T0,
        ),
      ).rejects.toThrow(InvalidPayloadPathError);
    }
    expect(await readdir(dir)).toEqual([]);
    expect(() => validatePayloadPath("../x")).toThrow("invalid path: must not contain '..': ../x");
    expect(() => validatePayloadPath("/x")).toThrow("invalid path: must be relative path: /x");
    expect(() => validatePayloadPath("..x/y")).toThrow("invalid path: must not start with '..': ..x/y");
    expect(() => validatePayloadPath(`${"a".repeat(256)}`)).toThrow(/255/);
    expect(() => validatePayloadPath("a/..b/c")).not.toThrow();
  });

  it("removes leftovers of an interrupted write", async () => {
    await writeAtomic(dir, new Map([["a", file("1")]]), T0);
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "..2020_01_01_00_00_00.dead"));
    await writeAtomic(dir, new Map([["a", file("2")]]), T0 + 1000);
    const names = await readdir(dir);
    expect(names).not.toContain("..2020_01_01_00_00_00.dead");
    expect((await lstat(join(dir, "a"))).isSymbolicLink()).toBe(true);
  });
});
