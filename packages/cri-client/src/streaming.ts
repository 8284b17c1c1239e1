// Exec, attach and port-forward streams over WebSocket (`v4.channel.k8s.io`), the transport the
// runtime's streaming server offers besides SPDY. Framing, as in k8s.io/apimachinery wsstream:
// every binary message is one channel byte followed by payload. Exec/attach channels: 0 stdin,
// 1 stdout, 2 stderr, 3 status (a JSON metav1.Status when the process ends), 4 resize (JSON
// {Width, Height}). v5.channel.k8s.io adds a close message (255, channel) that ends stdin; it is
// offered first and used when the runtime picks it (containerd 1.6 only speaks v4).
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { Duplex, PassThrough, type Readable, Writable } from "node:stream";
import WebSocket from "ws";
import type { CriCallOptions, CriClient } from "./client.js";
import { CriError } from "./errors.js";
import type { AttachRequest, DeepPartial, ExecRequest } from "./gen/runtime/v1/api.js";

const V5 = "v5.channel.k8s.io";
const V4 = "v4.channel.k8s.io";
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;
const CLOSE = 255;

/** How the remote process ended. */
export interface StreamExit {
  /** The process's exit code (0 on success). */
  exitCode: number;
  /** The metav1.Status the runtime sent, when it sent one. */
  status?: StreamStatus;
}

/** The subset of metav1.Status the streaming server sends on the status channel. */
export interface StreamStatus {
  status?: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/** A running exec or attach session. */
export interface StreamSession {
  /** Writes go to the process's stdin (present when requested); writes after the session ended are dropped. */
  readonly stdin: Writable | undefined;
  /** The process's stdout (with a TTY: the terminal output). */
  readonly stdout: Readable;
  /** The process's stderr; stays empty with a TTY. */
  readonly stderr: Readable;
  /** The subprotocol the runtime chose (`v4.channel.k8s.io` or `v5.channel.k8s.io`). */
  readonly protocol: string;
  /** Resizes the TTY, in character cells. */
  resize(size: { width: number; height: number }): void;
  /**
   * Resolves when the process ended (with its exit code) and the connection closed; rejects with
   * CriError `StreamFailed` when the runtime reported an error other than an exit code.
   */
  readonly exit: Promise<StreamExit>;
  /** Closes the connection (with v4 this is the only way to end stdin). */
  close(): void;
}

/** Options of {@link connectStream}. */
export interface ConnectStreamOptions {
  /** Whether stdin was requested (creates {@link StreamSession.stdin}). */
  stdin?: boolean | undefined;
  /** Gives up on connecting or closes the session when aborted. */
  signal?: AbortSignal | undefined;
  /** How long to wait for the WebSocket handshake, in ms. Default 30 000. */
  handshakeTimeoutMs?: number | undefined;
}

function toWebSocketUrl(url: string): string {
  if (typeof url !== "string" || !/^(https?|wss?):\/\//.test(url)) {
    throw new CriError(
      "InvalidArgument",
      `streaming URL must be http(s):// or ws(s)://, got ${JSON.stringify(url)}`,
    );
  }
  return url.replace(/^http/, "ws");
}

function streamError(message: string, cause?: unknown): CriError {
  return new CriError("StreamFailed", message, cause === undefined ? {} : { cause });
}

type MessageHandler = (data: Buffer, isBinary: boolean) => void;

/**
 * Opens a WebSocket to a streaming URL; resolves once the handshake succeeded. Messages are passed
 * to `onMessage` from the start: the runtime sends some right after the handshake, before the
 * caller could attach a listener.
 */
function openSocket(
  url: string,
  protocols: string[],
  options: ConnectStreamOptions,
  onMessage: (ws: WebSocket) => MessageHandler,
): Promise<WebSocket> {
  const target = toWebSocketUrl(url);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new CriError("Cancelled", "stream: cancelled", { cause: options.signal.reason }));
      return;
    }
    const ws = new WebSocket(target, protocols, { handshakeTimeout: options.handshakeTimeoutMs ?? 30_000 });
    ws.on("message", onMessage(ws));
    const onAbort = () => {
      ws.terminate();
      reject(new CriError("Cancelled", "stream: cancelled", { cause: options.signal?.reason }));
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => options.signal?.removeEventListener("abort", onAbort);
    ws.once("open", () => {
      done();
      resolve(ws);
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 2048) body += chunk;
      });
      res.on("end", () => {
        done();
        ws.terminate();
        reject(
          streamError(
            `stream ${url}: the streaming server answered HTTP ${res.statusCode}${body ? `: ${body.trim()}` : ""}` +
              (res.statusCode === 404 ? " (the URL is single-use and valid for about a minute)" : ""),
          ),
        );
      });
    });
    ws.once("error", (error) => {
      done();
      reject(streamError(`stream ${url}: ${error.message}`, error));
    });
  });
}

function exitFromStatus(text: string): StreamExit {
  let status: StreamStatus;
  try {
    status = JSON.parse(text) as StreamStatus;
  } catch (error) {
    throw streamError(`unparseable status from the streaming server: ${text}`, error);
  }
  if (status.status === "Success") return { exitCode: 0, status };
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const exitCode = Number(cause?.message);
    if (Number.isInteger(exitCode)) return { exitCode, status };
  }
  throw streamError(`remote command failed: ${status.message ?? text}`);
}

/**
 * Connects to an exec or attach URL returned by the Exec/Attach RPC and returns the session.
 * The URL is single-use.
 */
export async function connectStream(url: string, options: ConnectStreamOptions = {}): Promise<StreamSession> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let statusText = "";
  const ws = await openSocket(url, [V5, V4], options, () => (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    const payload = data.subarray(1);
    switch (data[0]) {
      case STDOUT:
        if (payload.length) stdout.write(payload);
        break;
      case STDERR:
        if (payload.length) stderr.write(payload);
        break;
      case STATUS:
        statusText += payload.toString("utf8");
        break;
    }
  });
  const protocol = ws.protocol;
  const send = (channel: number, payload: Buffer, cb?: (error?: Error) => void) => {
    if (ws.readyState !== WebSocket.OPEN) {
      // The process is gone or the session closed: like writing to a closed pipe whose reader
      // has left, the data is dropped (the outcome is reported by `exit`).
      cb?.();
      return;
    }
    const frame = Buffer.allocUnsafe(payload.length + 1);
    frame[0] = channel;
    payload.copy(frame, 1);
    ws.send(frame, { binary: true }, cb);
  };
  const stdin = options.stdin
    ? new Writable({
        write(chunk: Buffer, _encoding, callback) {
          send(STDIN, chunk, callback);
        },
        final(callback) {
          // v5 can signal end-of-input; v4 cannot (close the session instead).
          if (protocol === V5) send(CLOSE, Buffer.from([STDIN]), () => callback());
          else callback();
        },
      })
    : undefined;
  const exit = new Promise<StreamExit>((resolve, reject) => {
    ws.once("close", () => {
      stdout.end();
      stderr.end();
      stdin?.destroy();
      options.signal?.removeEventListener("abort", onAbort);
      if (!statusText) {
        // Attach sessions and closed-by-us sessions end without a status.
        resolve({ exitCode: 0 });
        return;
      }
      try {
        resolve(exitFromStatus(statusText));
      } catch (error) {
        reject(error);
      }
    });
    ws.on("error", (error) => {
      stdout.destroy(streamError(`stream: ${error.message}`, error));
      reject(streamError(`stream: ${error.message}`, error));
    });
  });
  // A rejected exit with nobody awaiting it must not crash the process.
  exit.catch(() => {});
  const onAbort = () => ws.close();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  return {
    stdin,
    stdout,
    stderr,
    protocol,
    resize: ({ width, height }) => {
      if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
        throw new CriError("InvalidArgument", `resize: width and height must be non-negative integers`);
      }
      send(RESIZE, Buffer.from(JSON.stringify({ Width: width, Height: height })));
    },
    exit,
    close: () => ws.close(),
  };
}

/** Runs the Exec RPC and connects to the returned URL. */
export async function execStream(
  cri: Pick<CriClient, "exec">,
  request: DeepPartial<ExecRequest>,
  options: CriCallOptions = {},
): Promise<StreamSession> {
  const { url } = await cri.exec(request, options);
  return connectStream(url, { stdin: Boolean(request.stdin), signal: options.signal });
}

/** Runs the Attach RPC and connects to the returned URL. */
export async function attachStream(
  cri: Pick<CriClient, "attach">,
  request: DeepPartial<AttachRequest>,
  options: CriCallOptions = {},
): Promise<StreamSession> {
  const { url } = await cri.attach(request, options);
  return connectStream(url, { stdin: Boolean(request.stdin), signal: options.signal });
}

/**
 * Opens one TCP connection to `port` inside the pod sandbox, as a Duplex. Port-forward framing:
 * data on channel 0, errors on channel 1; the first message on each carries the port as two
 * little-endian bytes.
 */
export async function portForwardStream(
  cri: Pick<CriClient, "portForward">,
  podSandboxId: string,
  port: number,
  options: CriCallOptions = {},
): Promise<Duplex> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CriError("InvalidArgument", `port must be an integer in 1-65535, got ${port}`, {
      rpc: "PortForward",
    });
  }
  const { url } = await cri.portForward({ podSandboxId, port: [port] }, options);
  const target = new URL(url);
  target.searchParams.set("port", String(port));
  const seenPrefix = [false, false];
  let errorText = "";
  let socket: WebSocket | undefined;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (socket?.readyState !== WebSocket.OPEN) {
        callback(streamError(`port-forward ${port}: the connection is closed`));
        return;
      }
      const frame = Buffer.allocUnsafe(chunk.length + 1);
      frame[0] = 0;
      chunk.copy(frame, 1);
      socket.send(frame, { binary: true }, callback);
    },
    final(callback) {
      // The WebSocket protocol cannot half-close one channel: closing ends the connection.
      socket?.close();
      callback();
    },
    read() {
      socket?.resume();
    },
    destroy(error, callback) {
      socket?.terminate();
      callback(error);
    },
  });
  const ws = await openSocket(
    target.toString(),
    [V4],
    { signal: options.signal },
    (ws) => (data, isBinary) => {
      if (!isBinary || data.length === 0) return;
      const channel = data[0];
      if (channel !== 0 && channel !== 1) return;
      let payload = data.subarray(1);
      if (!seenPrefix[channel]) {
        // The first message of each channel starts with the port number.
        seenPrefix[channel] = true;
        payload = payload.subarray(2);
      }
      if (channel === 1) errorText += payload.toString("utf8");
      else if (payload.length && !duplex.push(payload)) ws.pause();
    },
  );
  socket = ws;
  ws.once("close", () => {
    if (errorText) duplex.destroy(streamError(`port-forward ${port}: ${errorText.trim()}`));
    else duplex.push(null);
  });
  ws.on("error", (error) => duplex.destroy(streamError(`port-forward ${port}: ${error.message}`, error)));
  return duplex;
}

/** A local TCP listener forwarding to a port inside a pod sandbox. */
export interface PortForwarder {
  /** The local port (on 127.0.0.1) that forwards. */
  readonly localPort: number;
  /** Stops listening and closes every forwarded connection. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (`localPort`, default: any free port) and forwards each accepted
 * connection to `port` in the pod sandbox, with a fresh PortForward URL per connection (they
 * are single-use), like `kubectl port-forward`.
 */
export async function forwardPort(
  cri: Pick<CriClient, "portForward">,
  podSandboxId: string,
  port: number,
  options: { localPort?: number; signal?: AbortSignal } = {},
): Promise<PortForwarder> {
  const sockets = new Set<Socket | Duplex>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    portForwardStream(cri, podSandboxId, port).then(
      (remote) => {
        sockets.add(remote);
        remote.once("close", () => sockets.delete(remote));
        socket.pipe(remote).pipe(socket);
        remote.on("error", () => socket.destroy());
        socket.on("error", () => remote.destroy());
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new CriError("StreamFailed", `port-forward: cannot listen on 127.0.0.1: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    server.listen(options.localPort ?? 0, "127.0.0.1", () => resolve());
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return { localPort: (server.address() as AddressInfo).port, close };
}
