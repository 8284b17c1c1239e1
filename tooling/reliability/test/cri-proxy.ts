// A gRPC-aware forwarder on a unix socket in front of containerd's CRI socket, for runtime faults
// the real runtime cannot be asked to produce: selected calls held for seconds (a slow runtime), or
// answered by the proxy itself with garbage (wrong bytes, empty or huge messages, reset streams).
// It speaks HTTP/2 on both sides, so it sees each call's method (`:path`) and request message, and
// forwards headers, messages and trailers unchanged otherwise.
import http2 from "node:http2";
import { connect } from "node:net";

/** A CRI call as the proxy sees it. */
export interface CriCall {
  /** The gRPC method path, e.g. `/runtime.v1.RuntimeService/RunPodSandbox`. */
  path: string;
  /** The request's gRPC frames (5-byte prefix + protobuf), as sent. */
  body: Buffer;
}

/** What the proxy does with a call instead of forwarding it at once. */
export type CriFault =
  /** Forward after `ms` (also when the caller gave up meanwhile: a slow runtime still does the work). */
  | { kind: "delay"; ms: number }
  /** Answer with this message (protobuf bytes, framed by the proxy) and grpc-status 0. */
  | { kind: "message"; bytes: Buffer }
  /** Reset the stream without an answer. */
  | { kind: "reset" };

export interface CriProxy {
  /** `unix://` endpoint to give the kubelet. */
  readonly endpoint: string;
  /** Decides per call; undefined forwards it unchanged. Replaces the previous rule. */
  setFault(rule: ((call: CriCall) => CriFault | undefined) | undefined): void;
  /** Calls seen since start, by method name (`RunPodSandbox`). */
  readonly counts: ReadonlyMap<string, number>;
  /**
   * Delayed calls the caller gave up on (closed the stream) before the runtime answered: how long
   * after the call arrived, in ms. A client-side deadline shows here.
   */
  readonly abandoned: readonly { method: string; afterMs: number }[];
  close(): Promise<void>;
}

/** One gRPC length-prefixed message frame (uncompressed). */
export function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Strips HTTP/2 pseudo-headers and connection-level headers before re-sending. */
function forwardable(headers: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(":") || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

/** Starts the proxy on `socketPath`, forwarding to the CRI server at `upstreamSocket`. */
export async function startCriProxy(socketPath: string, upstreamSocket: string): Promise<CriProxy> {
  let rule: ((call: CriCall) => CriFault | undefined) | undefined;
  const counts = new Map<string, number>();
  const abandoned: { method: string; afterMs: number }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let upstream: http2.ClientHttp2Session | undefined;
  const session = () => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect("http://localhost", { createConnection: () => connect(upstreamSocket) });
      upstream.on("error", () => {});
    }
    return upstream;
  };

  function forward(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) {
    const req = session().request({
      ":method": "POST",
      ":path": headers[":path"] ?? "/",
      ...forwardable(headers),
    });
    req.on("error", () => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    let trailers: http2.OutgoingHttpHeaders = { "grpc-status": "0" };
    req.on("response", (h, flags) => {
      if (stream.closed) return;
      // A trailers-only answer (an error) ends the stream in its one HEADERS frame.
      const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      stream.respond(forwardable(h), endStream ? { endStream: true } : { waitForTrailers: true });
    });
    req.on("data", (d: Buffer) => {
      if (!stream.closed) stream.write(d);
    });
    req.on("trailers", (t) => {
      trailers = forwardable(t);
    });
    req.on("end", () => {
      if (!stream.closed && !stream.headersSent)
        stream.respond({ ":status": 200 }, { waitForTrailers: true });
      if (!stream.closed) stream.end();
    });
    stream.on("wantTrailers", () => stream.sendTrailers(trailers));
    stream.on("close", () => {
      if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
    });
    req.end(body);
  }

  // An oversized answer is buffered in the session until the caller resets its stream: Node's
  // default of 10 MB per session would answer every later call with ENHANCE_YOUR_CALM instead.
  const server = http2.createServer({ maxSessionMemory: 256 });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const chunks: Buffer[] = [];
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.on("end", () => {
      const call = { path: String(headers[":path"] ?? ""), body: Buffer.concat(chunks) };
      const method = call.path.split("/").at(-1) ?? "";
      counts.set(method, (counts.get(method) ?? 0) + 1);
      const fault = rule?.(call);
      if (!fault) return forward(stream, headers, call.body);
      if (fault.kind === "delay") {
        const arrivedAt = Date.now();
        let forwarded = false;
        stream.once("close", () => {
          if (!forwarded) abandoned.push({ method, afterMs: Date.now() - arrivedAt });
        });
        const t = setTimeout(() => {
          forwarded = true;
          timers.delete(t);
          forward(stream, headers, call.body);
        }, fault.ms);
        timers.add(t);
        return;
      }
      if (fault.kind === "reset") return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(grpcFrame(fault.bytes));
    });
  });
  server.on("sessionError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    endpoint: `unix://${socketPath}`,
    setFault(r) {
      rule = r;
    },
    counts,
    abandoned,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      upstream?.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open sessions (the kubelet's) would keep close() waiting.
        for (const s of sessions) s.destroy();
      });
    },
  };
}
