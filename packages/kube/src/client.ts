import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { KubeError } from "./errors.js";
import type { KubeConnection } from "./kubeconfig.js";

/** HTTP methods the API server speaks. */
export type KubeMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One API call. */
export interface KubeRequest {
  method: KubeMethod;
  /** Absolute API path, e.g. `/api/v1/nodes/node-a/status`. */
  path: string;
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | boolean | undefined> | undefined;
  /** JSON-serialised unless already a string or Buffer. */
  body?: unknown;
  /** Content type of the body; default `application/json`. */
  contentType?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Whole-request timeout; default the client's `requestTimeoutMs`. */
  timeoutMs?: number | undefined;
}

/** One event of a watch stream. */
export interface WatchEvent<T = unknown> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

/** Options of {@link createKubeClient}. */
export interface KubeClientOptions {
  /** Timeout of non-watch requests; default 30 000 ms. */
  requestTimeoutMs?: number | undefined;
  /** Most sockets kept open to the server; default 16. Fleet mode sets this to its concurrency. */
  maxSockets?: number | undefined;
  /** User-Agent header; default `kubenode`. */
  userAgent?: string | undefined;
}

/** Counters exposed for tests and metrics. */
export interface KubeClientStats {
  /** Requests sent (watches included). */
  requests: number;
  /** Requests that ended with a non-2xx status or a transport error. */
  failures: number;
}

/**
 * A small JSON-over-HTTP(S) client for the Kubernetes API with keep-alive connections. It loads
 * in a few MiB (versus ~90 MiB for @kubernetes/client-node's root import), which is what lets one
 * process keep thousands of node leases fresh.
 */
export interface KubeClient {
  readonly connection: KubeConnection;
  readonly stats: KubeClientStats;
  /** Sends a request; resolves with the parsed JSON body, throws {@link KubeError} on failure. */
  request<T = unknown>(req: KubeRequest): Promise<T>;
  /**
   * Opens a watch (`watch=true` is added) and yields its events until the server closes the
   * stream or `signal` aborts (then the iterator just ends).
   */
  watch<T = unknown>(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    signal?: AbortSignal,
  ): AsyncIterable<WatchEvent<T>>;
  /**
   * Destroys every socket, idle or in use: open watches and requests end with a Network error.
   * The client stays usable; later requests open new connections (upstream's closeAllConns).
   */
  close(): void;
}

function buildPath(path: string, query?: KubeRequest["query"]): string {
  if (!path.startsWith("/"))
    throw new KubeError("InvalidArgument", `request path must start with "/": ${path}`);
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

/** Creates a client for one connection (one identity). */
export function createKubeClient(connection: KubeConnection, options: KubeClientOptions = {}): KubeClient {
  let url: URL;
  try {
    url = new URL(connection.server);
  } catch (err) {
    throw new KubeError("InvalidConfig", `server ${JSON.stringify(connection.server)} is not a URL`, {
      cause: err,
    });
  }
  const isHttps = url.protocol === "https:";
  if (!isHttps && url.protocol !== "http:") {
    throw new KubeError("InvalidConfig", `server ${connection.server} must be http:// or https://`);
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 16, keepAliveMsecs: 30_000 };
  const agent = isHttps
    ? new https.Agent({
        ...agentOptions,
        ...(connection.caPem ? { ca: connection.caPem } : {}),
        ...(connection.certPem ? { cert: connection.certPem } : {}),
        ...(connection.keyPem ? { key: connection.keyPem } : {}),
        rejectUnauthorized: !connection.skipTLSVerify,
        ...(connection.tlsServerName ? { servername: connection.tlsServerName } : {}),
      })
    : new http.Agent(agentOptions);
  const transport = isHttps ? https : http;
  const userAgent = options.userAgent ?? "kubenode";
  const stats: KubeClientStats = { requests: 0, failures: 0 };
  let tokenCache: { value: string; readAtMs: number } | undefined;

  function bearer(): string | undefined {
    if (connection.token) return connection.token;
    if (!connection.tokenFile) return undefined;
    // Projected tokens rotate: re-read at most once a minute (client-go does the same).
    if (!tokenCache || Date.now() - tokenCache.readAtMs > 60_000) {
      try {
        tokenCache = { value: readFileSync(connection.tokenFile, "utf8").trim(), readAtMs: Date.now() };
      } catch (err) {
        throw new KubeError("InvalidConfig", `cannot read token file ${connection.tokenFile}`, {
          cause: err,
        });
      }
    }
    return tokenCache.value;
  }

  function open(
    method: KubeMethod,
    pathAndQuery: string,
    payload: Buffer | undefined,
    contentType: string | undefined,
    accept: string,
  ): http.ClientRequest {
    const headers: http.OutgoingHttpHeaders = { accept, "user-agent": userAgent };
    const token = bearer();
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload) {
      headers["content-type"] = contentType ?? "application/json";
      headers["content-length"] = payload.length;
    }
    stats.requests++;
    return transport.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port || (isHttps ? 443 : 80),
      method,
      path: (url.pathname === "/" ? "" : url.pathname.replace(/\/+$/, "")) + pathAndQuery,
      headers,
      agent,
    });
  }

  function encode(body: unknown): Buffer | undefined {
    if (body === undefined) return undefined;
    if (Buffer.isBuffer(body)) return body;
    return Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  }

  async function request<T>(req: KubeRequest): Promise<T> {
    const pathAndQuery = buildPath(req.path, req.query);
    const context = `${req.method} ${req.path}`;
    const payload = encode(req.body);
    if (req.signal?.aborted)
      throw KubeError.from(req.signal.reason ?? new DOMException("aborted", "AbortError"));
    return new Promise<T>((resolve, reject) => {
      let r: http.ClientRequest;
      let settled = false;
      const finish = (err: KubeError | undefined, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
        if (err) {
          stats.failures++;
          reject(err);
        } else resolve(value as T);
      };
      const onAbort = () => {
        r.destroy();
        finish(new KubeError("Aborted", `${context}: aborted`, { cause: req.signal?.reason }));
      };
      const timeoutMs = req.timeoutMs ?? requestTimeoutMs;
      const timer = setTimeout(() => {
        r.destroy();
        finish(new KubeError("Timeout", `${context}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      req.signal?.addEventListener("abort", onAbort, { once: true });
      const send = (mayRetry: boolean) => {
        r = open(req.method, pathAndQuery, payload, req.contentType, "application/json");
        r.on("error", (err) => {
          // Node's keep-alive race (its http docs): the server closed an idle connection just as
          // this request went out on it, so the server never read it. Once, on a new connection.
          if (
            mayRetry &&
            !settled &&
            r.reusedSocket &&
            (err as NodeJS.ErrnoException).code === "ECONNRESET"
          ) {
            send(false);
            return;
          }
          const k = KubeError.from(err);
          finish(
            new KubeError(k.code === "Unknown" ? "Network" : k.code, `${context}: ${k.message}`, {
              cause: err,
            }),
          );
        });
        r.on("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (err) =>
            finish(new KubeError("Network", `${context}: ${err.message}`, { cause: err })),
          );
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              finish(KubeError.fromResponse(status, text, context));
              return;
            }
            if (text.length === 0) {
              finish(undefined, undefined as T);
              return;
            }
            try {
              finish(undefined, JSON.parse(text) as T);
            } catch (err) {
              finish(new KubeError("Unknown", `${context}: response is not JSON`, { cause: err }));
            }
          });
        });
        r.end(payload);
      };
      send(true);
    });
  }

  async function* watch<T>(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent<T>> {
    if (signal?.aborted) return;
    const pathAndQuery = buildPath(path, { ...query, watch: true });
    const context = `WATCH ${path}`;
    const r = open("GET", pathAndQuery, undefined, undefined, "application/json");
    const onAbort = () => r.destroy();
    signal?.addEventListener("abort", onAbort, { once: true });
    let streamDone = false;
    const completed = () => streamDone;
    // The stream may stay quiet for minutes, but its response headers come at once: a watch whose
    // headers do not arrive within the request timeout went to a server (or a half-open
    // connection) that will never answer, as client-go's TLS handshake timeout also catches.
    const headersTimer = setTimeout(
      () => r.destroy(new KubeError("Timeout", `no response headers within ${requestTimeoutMs} ms`)),
      requestTimeoutMs,
    );
    headersTimer.unref();
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        r.on("response", resolve);
        r.on("error", reject);
        r.end();
      })
        .finally(() => clearTimeout(headersTimer))
        .catch((err: unknown) => {
          if (signal?.aborted) return undefined;
          stats.failures++;
          const k = KubeError.from(err);
          throw new KubeError(k.code === "Unknown" ? "Network" : k.code, `${context}: ${k.message}`, {
            cause: err,
          });
        });
      if (!res) return;
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        stats.failures++;
        throw KubeError.fromResponse(status, Buffer.concat(chunks).toString("utf8"), context);
      }
      let buffered = "";
      let ended = false;
      try {
        for await (const chunk of res) {
          buffered += (chunk as Buffer).toString("utf8");
          let nl = buffered.indexOf("\n");
          while (nl >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line.length > 0) {
              let event: WatchEvent<T>;
              try {
                event = JSON.parse(line) as WatchEvent<T>;
              } catch (err) {
                throw new KubeError("Unknown", `${context}: undecodable watch event`, { cause: err });
              }
              yield event;
            }
            nl = buffered.indexOf("\n");
          }
        }
        ended = true;
        streamDone = true;
      } catch (err) {
        if (signal?.aborted) return;
        if (err instanceof KubeError) throw err;
        stats.failures++;
        throw new KubeError("Network", `${context}: stream broke: ${(err as Error).message}`, { cause: err });
      }
      const rest = buffered.trim();
      if (ended && rest.length > 0 && !signal?.aborted) {
        try {
          yield JSON.parse(rest) as WatchEvent<T>;
        } catch {
          // A partial line at the end of a broken stream carries nothing usable.
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      // A watch abandoned mid-stream must not leave its socket open; a finished one is reusable.
      if (!completed()) r.destroy();
    }
  }

  return {
    connection,
    stats,
    request,
    watch,
    close() {
      agent.destroy();
    },
  };
}
