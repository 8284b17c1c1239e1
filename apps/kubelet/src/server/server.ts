// The kubelet's API server (upstream pkg/kubelet/server): HTTPS on :10250 with authentication and
// authorization in front of every handler, and plain-HTTP /healthz on 127.0.0.1:10248.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { CriClient } from "@kubenode/cri-client";
import { type Clock, KubeError, type Logger } from "@kubenode/kube";
import type { Pod } from "../api.js";
import type { PodRuntime, RuntimePod } from "../runtime/types.js";
import { forbiddenMessage, type KubeletAuth, nodeRequestAttributes, type UserInfo } from "./auth.js";
import { LogRequestError, parseLogQuery, pickContainer, streamContainerLog } from "./container-logs.js";
import { attachUrl, execUrl, portForwardUrl, relayUpgrade, StreamRequestError } from "./streaming.js";

/** What the server reads from the kubelet. */
export interface ServerKubelet {
  /** Pods bound to this node (API and static), with the kubelet's latest status. */
  pods(): Pod[];
  readonly runtime: PodRuntime;
}

/** Extra GET handlers (metrics, stats), by exact path. */
export type ExtraHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/** Options of {@link createKubeletServer}. */
export interface KubeletServerOptions {
  kubelet: ServerKubelet;
  /** CRI client for logs and streaming; without it those endpoints answer 501. */
  cri?: CriClient;
  auth: KubeletAuth;
  /**
   * Serving certificate and key (PEM). Undefined while a certificate is still being requested
   * (serverTLSBootstrap): the port is open but every TLS handshake fails, as upstream's does, until
   * {@link KubeletServer.setCertificate} gives one.
   */
  tls?: { certPem: string; keyPem: string } | undefined;
  /** Client CA bundle (PEM): client certificates are requested and verified against it. */
  clientCAPem?: string;
  /** Bind address (upstream `address`, default 0.0.0.0) and port (`port`, default 10250; 0 = any free port). */
  address?: string;
  port?: number;
  /** Plain-HTTP /healthz (upstream healthzBindAddress 127.0.0.1, healthzPort 10248; null = off). */
  healthzBindAddress?: string;
  healthzPort?: number | null;
  /** The configuration /configz shows (upstream `{"kubeletconfig": ...}`). */
  configz?: () => unknown;
  /** Additional GET endpoints by path (e.g. `/metrics`, `/stats/summary`). */
  handlers?: Record<string, ExtraHandler>;
  clock: Clock;
  logger: Logger;
}

/** A running kubelet server. */
export interface KubeletServer {
  start(): Promise<void>;
  /** Closes the listeners and every open connection (log follows, exec sessions). */
  stop(): Promise<void>;
  /** The port the HTTPS server listens on (after start). */
  readonly port: number;
  /** The port of the healthz server (after start), if enabled. */
  readonly healthzPort: number | undefined;
  /**
   * Serves a new certificate and key from now on: new connections get it, open ones (a log
   * follow, an exec session) keep theirs. No restart, no dropped connection. `undefined` withdraws
   * the certificate: new handshakes fail until the next one.
   */
  setCertificate(tls: { certPem: string; keyPem: string } | undefined): void;
}

function sendText(res: ServerResponse, code: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(code, {
    "Content-Type": "text/plain; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function rawResponse(socket: Duplex, code: number, reason: string, text: string): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  500: "Internal Server Error",
  501: "Not Implemented",
};

/** A pod of the runtime as upstream's /runningpods/ shows it (name, namespace, uid, containers). */
function runningPodObject(p: RuntimePod): Record<string, unknown> {
  const running = p.containers.filter((c) => c.state === "running");
  return {
    metadata: { name: p.name, namespace: p.namespace, uid: p.uid, creationTimestamp: null },
    spec: { containers: running.map((c) => ({ name: c.name, image: c.image, resources: {} })) },
    status: {},
  };
}

type Route =
  | { kind: "logs"; namespace: string; pod: string; container: string }
  | { kind: "exec" | "attach"; namespace: string; pod: string; uid?: string; container: string }
  | { kind: "portForward"; namespace: string; pod: string; uid?: string };

/** Parses the streaming and log paths: /exec/{ns}/{pod}[/{uid}]/{container}, /portForward/{ns}/{pod}[/{uid}]. */
export function parseRoute(path: string): Route | undefined {
  let parts: string[];
  try {
    parts = path.split("/").slice(1).map(decodeURIComponent);
  } catch {
    return undefined; // malformed %-escapes: no such route
  }
  const [head, ns, pod, a, b] = parts;
  if (!ns || !pod) return undefined;
  switch (head) {
    case "containerLogs":
      return parts.length === 4 && a ? { kind: "logs", namespace: ns, pod, container: a } : undefined;
    case "exec":
    case "attach":
      if (parts.length === 4 && a) return { kind: head, namespace: ns, pod, container: a };
      if (parts.length === 5 && a && b) return { kind: head, namespace: ns, pod, uid: a, container: b };
      return undefined;
    case "portForward":
      if (parts.length === 3) return { kind: "portForward", namespace: ns, pod };
      if (parts.length === 4 && a) return { kind: "portForward", namespace: ns, pod, uid: a };
      return undefined;
    default:
      return undefined;
  }
}

/** Creates the kubelet's HTTPS API server and its healthz listener. */
export function createKubeletServer(options: KubeletServerOptions): KubeletServer {
  const { kubelet, cri, auth, clock } = options;
  const log = options.logger.withName("server");
  const sockets = new Set<Duplex>();
  let port = 0;
  let healthzPort: number | undefined;

  function findPod(namespace: string, name: string, uid?: string): Pod {
    const pod = kubelet
      .pods()
      .find(
        (p) =>
          p.metadata.namespace === namespace && p.metadata.name === name && (!uid || p.metadata.uid === uid),
      );
    if (!pod) throw new LogRequestError(404, `pod "${name}" in namespace "${namespace}" not found`);
    return pod;
  }

  async function runtimePod(pod: Pod): Promise<RuntimePod | undefined> {
    return kubelet.runtime.getPod(pod.metadata.uid ?? "");
  }

  /** Authenticates and authorizes; returns an error answer or the user. */
  async function guard(
    req: IncomingMessage,
    path: string,
  ): Promise<{ code: number; text: string } | UserInfo> {
    let user: UserInfo | undefined;
    try {
      user = await auth.authenticate(req);
    } catch (err) {
      log.warn("Unable to authenticate the request due to an error", { err: KubeError.from(err).message });
      return { code: 401, text: "Unauthorized" };
    }
    if (!user) return { code: 401, text: "Unauthorized" };
    const attrs = nodeRequestAttributes(req.method ?? "GET", path);
    try {
      if (await auth.authorize(user, attrs)) return user;
    } catch (err) {
      log.warn("Authorization error", { user: user.username, err: KubeError.from(err).message });
      return {
        code: 500,
        text: `Authorization error (user=${user.username}, verb=${attrs.verb}, resource=nodes, subresource(s)=[${attrs.subresources.join(" ")}])`,
      };
    }
    log.v(2, "Forbidden", { user: user.username, verb: attrs.verb, subresources: attrs.subresources });
    return { code: 403, text: forbiddenMessage(user, attrs) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://kubelet");
    const path = url.pathname;
    const g = await guard(req, path);
    if ("code" in g) return sendText(res, g.code, g.text);
    const extra = options.handlers?.[path];
    if (extra) {
      if (req.method !== "GET") return sendText(res, 405, "405: Method Not Allowed");
      return extra(req, res);
    }
    switch (path) {
      case "/healthz":
        return sendText(res, 200, "ok");
      case "/pods":
        return sendJson(res, { kind: "PodList", apiVersion: "v1", metadata: {}, items: kubelet.pods() });
      case "/runningpods/": {
        const pods = await kubelet.runtime.listPods();
        return sendJson(res, {
          kind: "PodList",
          apiVersion: "v1",
          metadata: {},
          items: pods.filter((p) => p.containers.some((c) => c.state === "running")).map(runningPodObject),
        });
      }
      case "/configz":
        if (!options.configz) break;
        return sendJson(res, { kubeletconfig: options.configz() });
    }
    const route = parseRoute(path);
    if (route?.kind === "logs") {
      if (!cri) return sendText(res, 501, "container logs need a CRI runtime");
      const query = parseLogQuery(url.searchParams, clock.now());
      const pod = findPod(route.namespace, route.pod);
      const rp = await runtimePod(pod);
      const c = pickContainer(rp?.containers ?? [], route.pod, route.container, query.previous);
      return streamContainerLog(cri, c.id, query, res);
    }
    if (route) {
      // exec/attach/portForward without an upgrade: upstream answers 400 as well
      return sendText(res, 400, "Upgrade request required");
    }
    sendText(res, 404, "404 page not found\n");
  }

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? "/", "https://kubelet");
    const g = await guard(req, url.pathname);
    if ("code" in g) return rawResponse(socket, g.code, REASONS[g.code] ?? "Error", g.text);
    const route = parseRoute(url.pathname);
    if (!route || route.kind === "logs") return rawResponse(socket, 404, "Not Found", "404 page not found\n");
    if (!cri) return rawResponse(socket, 501, "Not Implemented", "streaming needs a CRI runtime");
    const pod = findPod(route.namespace, route.pod, route.uid);
    const rp = await runtimePod(pod);
    let streamUrl: string;
    if (route.kind === "portForward") {
      const sandbox = rp?.sandboxes.find((s) => s.state === "ready");
      if (!sandbox) throw new StreamRequestError(400, `pod "${route.pod}" has no running sandbox`);
      streamUrl = await portForwardUrl(cri, sandbox.id, url.searchParams);
    } else {
      const c = rp?.containers.find((x) => x.name === route.container && x.state === "running");
      if (!c) throw new StreamRequestError(404, `container not found ("${route.container}")`);
      streamUrl =
        route.kind === "exec"
          ? await execUrl(cri, c.id, url.searchParams)
          : await attachUrl(cri, c.id, url.searchParams);
    }
    await relayUpgrade(streamUrl, req, socket, head);
  }

  const track = (s: Duplex) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  };

  let hasCertificate = options.tls !== undefined;
  const https = createHttpsServer(
    {
      ...(options.tls ? { cert: options.tls.certPem, key: options.tls.keyPem } : {}),
      ...(options.clientCAPem
        ? { ca: options.clientCAPem, requestCert: true, rejectUnauthorized: false }
        : {}),
      // go-restful's server speaks HTTP/1.1 for upgrades; so do we.
      ALPNProtocols: ["http/1.1"],
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        const code = err instanceof LogRequestError || err instanceof StreamRequestError ? err.code : 500;
        if (code === 500) log.warn("request failed", { path: req.url, err: String(err) });
        sendText(res, code, err instanceof Error ? err.message : String(err));
      });
    },
  );
  https.on("connection", track);
  https.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    track(socket);
    handleUpgrade(req, socket, head).catch((err: unknown) => {
      const code = err instanceof LogRequestError || err instanceof StreamRequestError ? err.code : 500;
      if (code === 500) log.warn("stream request failed", { path: req.url, err: String(err) });
      rawResponse(socket, code, REASONS[code] ?? "Error", err instanceof Error ? err.message : String(err));
    });
  });
  https.on("tlsClientError", (err, socket) => {
    // Upstream's GetCertificate answers "no serving certificate available for the kubelet" and Go
    // logs the failed handshake: here OpenSSL fails it (no certificate to sign with).
    if (!hasCertificate)
      log.info("http: TLS handshake error", {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
        err: "no serving certificate available for the kubelet",
      });
    else log.v(4, "TLS handshake failed", { err: err.message });
  });

  let healthz: Server | undefined;
  if (options.healthzPort !== null && options.healthzPort !== undefined) {
    healthz = createHttpServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://kubelet").pathname;
      if (path === "/healthz") return sendText(res, 200, "ok");
      sendText(res, 404, "404 page not found\n");
    });
    healthz.on("connection", track);
  }

  const listen = (server: Server, p: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, host, () => {
        server.off("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  return {
    get port() {
      return port;
    },
    get healthzPort() {
      return healthzPort;
    },
    setCertificate(tls) {
      // Only the certificate and key change; the client CA and the other options stay.
      https.setSecureContext({
        ...(tls ? { cert: tls.certPem, key: tls.keyPem } : {}),
        ...(options.clientCAPem ? { ca: options.clientCAPem } : {}),
      });
      hasCertificate = tls !== undefined;
    },
    async start() {
      const address = options.address ?? "0.0.0.0";
      port = await listen(https, options.port ?? 10250, address);
      if (healthz) {
        try {
          healthzPort = await listen(
            healthz,
            options.healthzPort ?? 10248,
            options.healthzBindAddress ?? "127.0.0.1",
          );
        } catch (err) {
          await close(https);
          throw err;
        }
      }
      log.info("Starting to listen", { address, port });
    },
    async stop() {
      const closing = [close(https), ...(healthz ? [close(healthz)] : [])];
      for (const s of sockets) s.destroy();
      await Promise.all(closing);
    },
  };
}
