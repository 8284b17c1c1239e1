import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCriLogLine, readCriLog } from "./logs.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function logFile(content = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "kn-cri-logs-"));
  dirs.push(dir);
  const path = join(dir, "0.log");
  writeFileSync(path, content);
  return path;
}

const T = (s: number) => `2026-11-27T10:00:${String(s).padStart(2, "0")}.123456789Z`;
const entry = (s: number, stream: string, tag: string, content: string) =>
  `${T(s)} ${stream} ${tag} ${content}\n`;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("parseCriLogLine", () => {
  it("parses timestamp, stream, tag and content (which may contain spaces)", () => {
    const e = parseCriLogLine(`${T(1)} stderr F hello  world`);
    expect(e).toEqual({
      timestamp: T(1),
      stream: "stderr",
      partial: false,
      content: Buffer.from("hello  world"),
    });
    expect(parseCriLogLine(`${T(1)} stdout P:x part`).partial).toBe(true);
    expect(parseCriLogLine(`${T(1)} stdout F`).content.length).toBe(0);
  });

  it("names what is wrong with a malformed line", () => {
    expect(() => parseCriLogLine("garbage")).toThrow(/malformed CRI log line/);
    expect(() => parseCriLogLine(`${T(1)} stdin F x`)).toThrow(/unknown stream "stdin"/);
    expect(() => parseCriLogLine(`yesterday stdout F x`)).toThrow(/bad timestamp/);
    expect(() => parseCriLogLine(`${T(1)} stdout Q x`)).toThrow(/unknown tag/);
  });
});

describe("readCriLog", () => {
  const content =
    entry(1, "stdout", "F", "one") +
    entry(2, "stdout", "P", "tw") +
    entry(2, "stderr", "F", "oops") +
    entry(3, "stdout", "F", "o") +
    entry(4, "stdout", "F", "three");

  it("joins partial entries per stream", async () => {
    const lines = await collect(readCriLog(logFile(content)));
    expect(lines.map((l) => `${l.stream}:${l.content}`)).toEqual([
      "stdout:one",
      "stderr:oops",
      "stdout:two",
      "stdout:three",
    ]);
    expect(lines[2]?.timestamp).toBe(T(2));
    expect(lines[0]?.time.toISOString()).toBe("2026-11-27T10:00:01.123Z");
  });

  it("filters by stream, time, tail and byte limit", async () => {
    const path = logFile(content);
    expect((await collect(readCriLog(path, { stream: "stderr" }))).map((l) => l.content)).toEqual(["oops"]);
    expect((await collect(readCriLog(path, { sinceTime: new Date(T(3)) }))).map((l) => l.content)).toEqual([
      "three",
    ]);
    expect((await collect(readCriLog(path, { tailLines: 2 }))).map((l) => l.content)).toEqual([
      "two",
      "three",
    ]);
    expect((await collect(readCriLog(path, { limitBytes: 5 }))).map((l) => l.content)).toEqual(["one", "oo"]);
  });

  it("rejects a missing file and bad options clearly", async () => {
    await expect(collect(readCriLog("/nonexistent/0.log"))).rejects.toMatchObject({ code: "NotFound" });
    await expect(collect(readCriLog(logFile(), { tailLines: -1 }))).rejects.toThrow(/tailLines/);
  });

  it("follows appended lines, rotation and truncation until aborted", async () => {
    const path = logFile(entry(1, "stdout", "F", "before"));
    const ac = new AbortController();
    const lines = readCriLog(path, { follow: true, signal: ac.signal, pollIntervalMs: 20 });
    expect((await lines.next()).value?.content).toBe("before");

    appendFileSync(path, entry(2, "stdout", "P", "app"));
    appendFileSync(path, entry(2, "stdout", "F", "ended"));
    expect((await lines.next()).value?.content).toBe("appended");

    // Rotation as the kubelet does it: rename, then the runtime reopens (creates) the path.
    appendFileSync(path, entry(3, "stdout", "F", "last of old file"));
    renameSync(path, `${path}.20261127-100003`);
    writeFileSync(path, entry(4, "stderr", "F", "first of new file"));
    expect((await lines.next()).value?.content).toBe("last of old file");
    expect((await lines.next()).value?.content).toBe("first of new file");

    // copytruncate
    truncateSync(path, 0);
    appendFileSync(path, entry(5, "stdout", "F", "after truncate"));
    expect((await lines.next()).value?.content).toBe("after truncate");

    ac.abort();
    expect((await lines.next()).done).toBe(true);
  });

  it("reads every line exactly once while a writer appends as fast as it can", async () => {
    // The runtime appends while the follower polls: growth between two looks at the file must
    // never be mistaken for a truncation (which re-reads the file from the start).
    const path = logFile();
    const ac = new AbortController();
    const lines = readCriLog(path, { follow: true, signal: ac.signal, pollIntervalMs: 1 });
    const total = 2000;
    let written = 0;
    const writer = setInterval(() => {
      for (let k = 0; k < 20 && written < total; k++, written++) {
        appendFileSync(path, entry(1, "stdout", "P", `${written}-`) + entry(1, "stdout", "F", "end"));
      }
      if (written === total) clearInterval(writer);
    }, 0);
    const seen: string[] = [];
    for await (const line of lines) {
      seen.push(line.content);
      if (seen.length === total) break;
    }
    clearInterval(writer);
    ac.abort();
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `${i}-end`));
  });

  it("stops following once the container is no longer running, after draining", async () => {
    const path = logFile(entry(1, "stdout", "F", "a"));
    let running = true;
    const lines = readCriLog(path, { follow: true, isRunning: () => running, pollIntervalMs: 20 });
    expect((await lines.next()).value?.content).toBe("a");
    appendFileSync(path, entry(2, "stdout", "F", "b"));
    running = false;
    expect((await lines.next()).value?.content).toBe("b");
    expect((await lines.next()).done).toBe(true);
  });
});
