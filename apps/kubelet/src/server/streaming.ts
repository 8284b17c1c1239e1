// /exec, /attach and /portForward: ask the runtime for a one-time streaming URL (CRI Exec, Attach,
// PortForward) and relay the client's upgrade request (WebSocket or SPDY) to it byte for byte, as
// upstream's kubelet does without redirects (proxyStream with an upgrade-aware proxy).
import type { IncomingMessage } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import type { CriClient } from "@kubenode/cri-client";

/** A failed stream request, answered with `code` and a plain-text `message` before the upgrade. */
export class StreamRequestError extends Error {
  override readonly name = "StreamRequestError";
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const TRUE = new Set(["1", "true"]);

/** Whether a boolean query parameter is on, under upstream's name (`input`) or kubectl's (`stdin`). */
function flag(q: URLSearchParams, upstream: string, alias: string): boolean {
  return TRUE.has(q.get(upstream) ?? "") || TRUE.has(q.get(alias) ?? "");
}

/** Exec/attach stream options from the query (remotecommand.NewOptions: input, output, error, tty = "1"). */
export function streamOptions(q: URLSearchParams): {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
} {
  const o = {
    stdin: flag(q, "input", "stdin"),
    stdout: flag(q, "output", "stdout"),
    stderr: flag(q, "error", "stderr"),
    tty: flag(q, "tty", "tty"),
  };
  // A TTY merges stderr into stdout (upstream clears stderr for tty sessions).
  if (o.tty) o.stderr = false;
  if (!o.stdin && !o.stdout && !o.stderr)
    throw new StreamRequestError(400, "you must specify at least 1 of stdin, stdout, stderr");
  return o;
}

/** The streaming URL for an exec request. */
export async function execUrl(cri: CriClient, containerId: string, q: URLSearchParams): Promise<string> {
  const cmd = q.getAll("command");
  if (cmd.length === 0)
    throw new StreamRequestError(400, "you must specify at least one command for the container");
  const o = streamOptions(q);
  const { url } = await cri.exec({ containerId, cmd, ...o });
  return url;
}

/** The streaming URL for an attach request. */
export async function attachUrl(cri: CriClient, containerId: string, q: URLSearchParams): Promise<string> {
  const o = streamOptions(q);
  const { url } = await cri.attach({ containerId, ...o });
  return url;
}

/** The streaming URL for a port-forward request; WebSocket clients name ports in `?port=` (kubectl: `ports`). */
export async function portForwardUrl(
  cri: CriClient,
  podSandboxId: string,
  q: URLSearchParams,
): Promise<string> {
  const { url } = await cri.portForward({ podSandboxId, port: [] });
  const ports = [...q.getAll("port"), ...q.getAll("ports").flatMap((p) => p.split(","))].filter(Boolean);
  if (ports.length === 0) return url;
  const u = new URL(url);
  for (const p of ports) u.searchParams.append("port", p);
  return u.href;
}

const HOP_BY_HOP = /^(host|authorization|content-length)$/i;

/**
 * Relays an upgrade request to the runtime's streaming server at `url` and pipes both directions
 * until either side closes. The runtime's own answer (101, or an error) reaches the client as is.
 */
export function relayUpgrade(url: string, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const target = new URL(url);
  if (target.protocol !== "http:")
    throw new StreamRequestError(500, `unsupported streaming URL scheme ${JSON.stringify(target.protocol)}`);
  return new Promise((resolve) => {
    const up = connect({ host: target.hostname.replace(/^\[|\]$/g, ""), port: Number(target.port || 80) });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      up.destroy();
      socket.destroy();
      resolve();
    };
    up.once("connect", () => {
      const lines = [
        `${req.method ?? "GET"} ${target.pathname}${target.search} HTTP/1.1`,
        `Host: ${target.host}`,
      ];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        if (!HOP_BY_HOP.test(name)) lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
      }
      up.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.once("error", (err) => {
      if (!up.readableFlowing && !socket.destroyed) {
        const body = `error dialing the runtime's streaming server: ${err.message}`;
        done = true;
        socket.end(
          `HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        resolve();
        return;
      }
      finish();
    });
    up.once("close", finish);
    socket.once("close", finish);
    socket.once("error", finish);
  });
}
