// /containerLogs/{namespace}/{pod}/{container}: the CRI log file of a container, with the options
// of upstream's PodLogOptions as the API server passes them on (follow, previous, tailLines,
// sinceSeconds, sinceTime, timestamps, limitBytes).
import type { ServerResponse } from "node:http";
import { ContainerState, type CriClient, readCriLog } from "@kubenode/cri-client";
import type { RuntimeContainer } from "../runtime/types.js";

/** A rejected log request: `code` and a plain-text message. */
export class LogRequestError extends Error {
  override readonly name = "LogRequestError";
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface LogQuery {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  sinceTime?: Date;
}

function nonNegativeInt(q: URLSearchParams, name: string, min: number): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new LogRequestError(
      400,
      `${name}: invalid value ${JSON.stringify(raw)}: must be an integer >= ${min}`,
    );
  return n;
}

/** Parses and validates the query as upstream's PodLogOptions validation does. */
export function parseLogQuery(q: URLSearchParams, nowMs: number): LogQuery {
  const bool = (name: string) => q.get(name) === "true" || q.get(name) === "1";
  const tailLines = nonNegativeInt(q, "tailLines", 0);
  const limitBytes = nonNegativeInt(q, "limitBytes", 1);
  const sinceSeconds = nonNegativeInt(q, "sinceSeconds", 1);
  const sinceTimeRaw = q.get("sinceTime");
  if (sinceSeconds !== undefined && sinceTimeRaw)
    throw new LogRequestError(400, "at most one of sinceTime or sinceSeconds may be specified");
  let sinceTime: Date | undefined;
  if (sinceSeconds !== undefined) sinceTime = new Date(nowMs - sinceSeconds * 1000);
  else if (sinceTimeRaw) {
    const t = Date.parse(sinceTimeRaw);
    if (Number.isNaN(t))
      throw new LogRequestError(400, `sinceTime: invalid RFC3339 time ${JSON.stringify(sinceTimeRaw)}`);
    sinceTime = new Date(t);
  }
  return {
    follow: bool("follow"),
    previous: bool("previous"),
    timestamps: bool("timestamps"),
    ...(tailLines !== undefined ? { tailLines } : {}),
    ...(limitBytes !== undefined ? { limitBytes } : {}),
    ...(sinceTime ? { sinceTime } : {}),
  };
}

/**
 * Picks the container instance whose log is wanted: the newest one named `container`, or with
 * `previous` the one before it, with upstream's messages when there is none
 * (validateContainerLogStatus).
 */
export function pickContainer(
  containers: readonly RuntimeContainer[],
  podName: string,
  container: string,
  previous: boolean,
): RuntimeContainer {
  const named = containers.filter((c) => c.name === container).sort((a, b) => b.createdAtMs - a.createdAtMs);
  if (previous) {
    const prev = named[1];
    if (!prev)
      throw new LogRequestError(
        400,
        `previous terminated container "${container}" in pod "${podName}" not found`,
      );
    return prev;
  }
  const current = named[0];
  if (!current)
    throw new LogRequestError(
      400,
      `container "${container}" in pod "${podName}" is waiting to start: ContainerCreating`,
    );
  return current;
}

/** Streams `containerId`'s log to `res` (text/plain). Ends when done or when the client goes away. */
export async function streamContainerLog(
  cri: CriClient,
  containerId: string,
  query: LogQuery,
  res: ServerResponse,
): Promise<void> {
  const { status } = await cri.containerStatus({ containerId });
  if (!status?.logPath) throw new LogRequestError(404, `container ${containerId} has no log file`);
  const abort = new AbortController();
  res.once("close", () => abort.abort());
  const isRunning = async () => {
    try {
      const { status: s } = await cri.containerStatus({ containerId });
      return s?.state === ContainerState.CONTAINER_RUNNING || s?.state === ContainerState.CONTAINER_CREATED;
    } catch {
      return false;
    }
  };
  const lines = readCriLog(status.logPath, {
    follow: query.follow,
    signal: abort.signal,
    isRunning,
    ...(query.tailLines !== undefined ? { tailLines: query.tailLines } : {}),
    ...(query.sinceTime ? { sinceTime: query.sinceTime } : {}),
  });
  res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "no-cache, private" });
  const limited = query.limitBytes !== undefined;
  let budget = query.limitBytes ?? 0;
  // Lines are gathered into writes of up to 64 KiB, flushed at once when the reader has to wait
  // (a follower at the end of the file) so a slow container's lines still arrive promptly.
  let batch: string[] = [];
  let batched = 0;
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (batch.length === 0 || res.destroyed) return;
    res.write(batch.length === 1 ? batch[0]! : batch.join(""));
    batch = [];
    batched = 0;
  };
  try {
    for await (const line of lines) {
      let text = query.timestamps ? `${line.timestamp} ${line.content}\n` : `${line.content}\n`;
      if (limited) {
        const size = Buffer.byteLength(text);
        if (size > budget) text = Buffer.from(text).subarray(0, budget).toString();
        budget -= Math.min(size, budget);
      }
      batch.push(text);
      batched += text.length;
      if (limited && budget <= 0) break;
      if (batched >= 64 * 1024) {
        flush();
        if (res.writableNeedDrain)
          await new Promise<void>((r) => {
            const done = () => {
              res.off("drain", done);
              res.off("close", done);
              r();
            };
            res.on("drain", done);
            res.on("close", done);
          });
      } else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    }
  } finally {
    abort.abort();
  }
  flush();
  res.end();
}
