// Reader and follower for CRI container log files, the format runtimes write for the kubelet:
//   <RFC3339Nano timestamp> <stdout|stderr> <tags> <content>\n
// where the first tag is P (partial: the line continues in the next entry) or F (full).
// Mirrors the kubelet's kuberuntime/logs reader: partial entries are joined, tail/since/limit
// options, and follow mode survives rotation (the kubelet renames the file and asks the runtime to
// ReopenContainerLog) and copytruncate.
import { watch } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { CriError } from "./errors.js";

/** One entry of a CRI log file, as written. */
export interface CriLogEntry {
  /** The timestamp as written (RFC3339 with nanoseconds). */
  timestamp: string;
  stream: "stdout" | "stderr";
  /** P: the line continues in the next entry of the same stream. */
  partial: boolean;
  /** The content, without the trailing newline. */
  content: Buffer;
}

/** One container output line (partial entries joined). */
export interface CriLogLine {
  /** Timestamp of the line's first entry (RFC3339 with nanoseconds). */
  timestamp: string;
  /** The same as a Date (millisecond precision). */
  time: Date;
  stream: "stdout" | "stderr";
  /** The line without its newline. */
  content: string;
}

/** Parses one line of a CRI log file (without its newline). Throws CriError InvalidArgument if malformed. */
export function parseCriLogLine(line: Buffer | string): CriLogEntry {
  const buf = typeof line === "string" ? Buffer.from(line) : line;
  const s1 = buf.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : buf.indexOf(0x20, s1 + 1);
  const s3 = s2 < 0 ? -1 : buf.indexOf(0x20, s2 + 1);
  const malformed = (why: string) =>
    new CriError(
      "InvalidArgument",
      `malformed CRI log line (${why}): ${JSON.stringify(buf.subarray(0, 80).toString())}`,
    );
  if (s2 < 0) throw malformed("expected <timestamp> <stream> <tag> <content>");
  const timestamp = buf.subarray(0, s1).toString("latin1");
  if (Number.isNaN(Date.parse(timestamp))) throw malformed("bad timestamp");
  const stream = buf.subarray(s1 + 1, s2).toString("latin1");
  if (stream !== "stdout" && stream !== "stderr") throw malformed(`unknown stream ${JSON.stringify(stream)}`);
  const tags = buf.subarray(s2 + 1, s3 < 0 ? buf.length : s3).toString("latin1");
  const first = tags.split(":")[0];
  if (first !== "P" && first !== "F") throw malformed(`unknown tag ${JSON.stringify(tags)}`);
  return {
    timestamp,
    stream,
    partial: first === "P",
    content: s3 < 0 ? Buffer.alloc(0) : buf.subarray(s3 + 1),
  };
}

/** Options of {@link readCriLog}. */
export interface ReadCriLogOptions {
  /** Keep reading as the container writes; ends when `signal` aborts or `isRunning` says it exited. */
  follow?: boolean | undefined;
  /** Only the last N lines (before following). */
  tailLines?: number | undefined;
  /** Only lines at or after this time. */
  sinceTime?: Date | undefined;
  /** Only one stream. Default both. */
  stream?: "stdout" | "stderr" | undefined;
  /** Stop after this many bytes of content. */
  limitBytes?: number | undefined;
  signal?: AbortSignal | undefined;
  /**
   * While following: called at end of file; once it returns false the reader drains what is left
   * and ends (the kubelet stops following a container that exited).
   */
  isRunning?: (() => boolean | Promise<boolean>) | undefined;
  /** While following, how often to look for new data and rotation when no change was signalled, in ms. Default 250. */
  pollIntervalMs?: number | undefined;
}

const CHUNK = 64 * 1024;

interface Source {
  handle: FileHandle;
  ino: number;
  position: number;
}

async function openSource(path: string): Promise<Source | undefined> {
  try {
    const handle = await open(path, "r");
    const s = await handle.stat();
    return { handle, ino: s.ino, position: 0 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw CriError.from(error);
  }
}

async function statPath(path: string): Promise<{ ino: number; size: number } | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

/**
 * Reads a CRI log file as lines, joining partial entries. With `follow`, keeps reading new data,
 * across rotation and truncation, until the signal aborts or `isRunning` returns false.
 */
export async function* readCriLog(path: string, options: ReadCriLogOptions = {}): AsyncGenerator<CriLogLine> {
  const { follow = false, signal, sinceTime, stream, limitBytes, tailLines } = options;
  if (tailLines !== undefined && (!Number.isInteger(tailLines) || tailLines < 0)) {
    throw new CriError("InvalidArgument", `tailLines must be a non-negative integer, got ${tailLines}`);
  }
  let source = await openSource(path);
  if (!source && !follow) throw new CriError("NotFound", `log file ${path} does not exist`);
  const pending = new Map<string, { timestamp: string; parts: Buffer[] }>();
  let carry: Buffer = Buffer.alloc(0);
  let bytes = 0;
  const since = sinceTime?.getTime();

  /** Turns one file line into a complete output line, or undefined while partial. */
  const toLine = (raw: Buffer): CriLogLine | undefined => {
    const entry = parseCriLogLine(raw);
    const open = pending.get(entry.stream);
    if (entry.partial) {
      if (open) open.parts.push(entry.content);
      else pending.set(entry.stream, { timestamp: entry.timestamp, parts: [entry.content] });
      return undefined;
    }
    pending.delete(entry.stream);
    const content = open ? Buffer.concat([...open.parts, entry.content]) : entry.content;
    const timestamp = open?.timestamp ?? entry.timestamp;
    return { timestamp, time: new Date(timestamp), stream: entry.stream, content: content.toString("utf8") };
  };
  const wanted = (line: CriLogLine) =>
    (!stream || line.stream === stream) && (since === undefined || line.time.getTime() >= since);

  /** Reads what is available from `source`, returning complete lines. */
  const drain = async (src: Source): Promise<CriLogLine[]> => {
    const out: CriLogLine[] = [];
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await src.handle.read(buf, 0, CHUNK, src.position);
      if (bytesRead === 0) return out;
      src.position += bytesRead;
      let data = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      let nl = data.indexOf(0x0a);
      while (nl >= 0) {
        const raw = data.subarray(0, nl);
        if (raw.length > 0) {
          const line = toLine(Buffer.from(raw));
          if (line && wanted(line)) out.push(line);
        }
        data = data.subarray(nl + 1);
        nl = data.indexOf(0x0a);
      }
      carry = Buffer.from(data);
    }
  };

  let emittedAll = false;
  const emit = function* (lines: CriLogLine[]): Generator<CriLogLine> {
    for (const line of lines) {
      if (limitBytes !== undefined) {
        if (bytes >= limitBytes) {
          emittedAll = true;
          return;
        }
        const room = limitBytes - bytes;
        const size = Buffer.byteLength(line.content);
        if (size > room) {
          bytes = limitBytes;
          emittedAll = true;
          yield { ...line, content: Buffer.from(line.content).subarray(0, room).toString("utf8") };
          return;
        }
        bytes += size;
      }
      yield line;
    }
  };

  let wake: (() => void) | undefined;
  const watcher = follow
    ? watch(dirname(path), { persistent: false }, (_event, name) => {
        if (!name || name.toString().startsWith(basename(path))) wake?.();
      })
    : undefined;
  watcher?.on("error", () => {});
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort);
  try {
    if (source) {
      let first = await drain(source);
      if (tailLines !== undefined) first = tailLines === 0 ? [] : first.slice(-tailLines);
      yield* emit(first);
    }
    if (!follow) return;
    let running = true;
    while (!signal?.aborted && !emittedAll) {
      if (!running) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollIntervalMs ?? 250);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      if (signal?.aborted) return;
      if (options.isRunning) running = await options.isRunning();
      if (source) {
        yield* emit(await drain(source));
        // Look at the path only after reading to the end: the file only grows while we read, so a
        // size below our position now means it was truncated, not that it grew meanwhile.
        const current = await statPath(path);
        if (current && current.ino !== source.ino) {
          // Rotated: finish what reached the old file before the runtime reopened the path, then
          // continue with the new file from its start.
          yield* emit(await drain(source));
          await source.handle.close();
          source = undefined;
        } else if (current && current.size < source.position) {
          // Truncated in place (copytruncate): what was pending belonged to the old content.
          source.position = 0;
          carry = Buffer.alloc(0);
          pending.clear();
        }
      }
      if (!source) {
        source = await openSource(path);
        carry = Buffer.alloc(0);
        if (source) yield* emit(await drain(source));
      }
    }
  } catch (error) {
    throw CriError.from(error);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    watcher?.close();
    await source?.handle.close();
  }
}
