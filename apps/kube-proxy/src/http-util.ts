import http from "node:http";
import type { AddressInfo } from "node:net";

/** A listening HTTP server that can be closed, dropping open connections. */
export interface RunningServer {
  /** The address actually bound (port resolved when 0 was asked). */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Splits "host:port" / "[v6]:port" (validated by the config) into parts. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`not host:port: ${address}`);
  return { host: m[1] ?? m[2] ?? "", port: Number(m[3]) };
}

/** Starts an HTTP server on host:port; rejects (EADDRINUSE ...) when it cannot bind. */
export function listen(
  host: string,
  port: number,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<RunningServer> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: host === "" ? undefined : host, port }, () => {
      server.off("error", reject);
      const addr = server.address() as AddressInfo;
      resolve({
        host: addr.address,
        port: addr.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Writes a JSON body with the headers kube-proxy sets. */
export function sendJson(
  res: http.ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Writes a text body. */
export function sendText(
  res: http.ServerResponse,
  code: number,
  text: string,
  contentType = "text/plain; charset=utf-8",
): void {
  res.writeHead(code, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
