import type http from "node:http";
import { request } from "node:https";
import type { Duplex } from "node:stream";
import { connect } from "node:tls";
import type { ApiCore } from "./core.js";
import { findResource } from "./resources.js";
import { badRequest, notFound, StatusFailure } from "./status.js";
import type { Json } from "./types.js";

/** Client credentials the simulator presents to kubelets (like --kubelet-client-certificate). */
export interface KubeletClientCert {
  certPem: string;
  keyPem: string;
}

const LOG_PARAMS = [
  "follow",
  "previous",
  "sinceSeconds",
  "sinceTime",
  "timestamps",
  "tailLines",
  "limitBytes",
  "insecureSkipTLSVerifyBackend",
];

/** A node's kubelet endpoint as its Node object states it. */
export interface KubeletEndpoint {
  nodeName: string;
  address: string;
  port: number;
}

/**
 * Decides where the simulator connects for a node's kubelet: `{ host, port }` to dial, or
 * undefined to refuse. The default dials loopback addresses only. The simulator runs on the host,
 * and a node that lives in a test's network namespace (10.77.0.10, say) is not reachable from
 * there: dialling it would send the packets out through the host's default route, to a network
 * that is not the test's. Map such a node to a loopback port bridged into its namespace.
 */
export type KubeletDialer = (endpoint: KubeletEndpoint) => { host: string; port: number } | undefined;

const isLoopback = (address: string): boolean =>
  /^127\./.test(address) || address === "::1" || address === "localhost";

const loopbackOnly: KubeletDialer = ({ address, port }) =>
  isLoopback(address) ? { host: address, port } : undefined;

/**
 * Resolves where a pods/log|exec|attach|portforward request goes on the pod's kubelet, mirroring
 * kube-apiserver's pod REST "ResourceLocation" (node address InternalIP, then Hostname, then
 * ExternalIP; port from status.daemonEndpoints.kubeletEndpoint, default 10250).
 */
export function kubeletLocation(
  core: ApiCore,
  namespace: string,
  name: string,
  subresource: string,
  query: URLSearchParams,
  dial: KubeletDialer = loopbackOnly,
): URL {
  const pod = core.get(findResource("", "v1", "pods")!, namespace, name);
  const nodeName: string | undefined = pod.spec?.nodeName;
  if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  const node = core.find(findResource("", "v1", "nodes")!, "", nodeName);
  if (!node) throw notFound("nodes", "", nodeName);
  const host = kubeletHost(node, undefined, dial);
  const out = new URLSearchParams();
  if (subresource === "portforward") {
    for (const [k, v] of query) if (k === "ports") out.append(k, v);
    return new URL(`https://${host}/portForward/${namespace}/${name}${out.size ? `?${out}` : ""}`);
  }
  const containers: Json[] = pod.spec?.containers ?? [];
  let container = query.get("container") ?? "";
  if (!container) {
    const preferred = pod.metadata.annotations?.["kubectl.kubernetes.io/default-container"];
    if (containers.length === 1) container = containers[0].name;
    else if (preferred) container = preferred;
    else
      throw badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${containers.map((c) => c.name).join(" ")}]`,
      );
  }
  const all = [...containers, ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  if (!all.some((c) => c?.name === container))
    throw badRequest(`container ${container} is not valid for pod ${name}`);
  if (subresource === "log") {
    for (const [k, v] of query) if (LOG_PARAMS.includes(k)) out.append(k, v);
    return new URL(
      `https://${host}/containerLogs/${namespace}/${name}/${container}${out.size ? `?${out}` : ""}`,
    );
  }
  for (const [k, v] of query) if (k !== "container") out.append(k, v);
  const path = subresource === "exec" ? "exec" : "attach";
  return new URL(`https://${host}/${path}/${namespace}/${name}/${container}${out.size ? `?${out}` : ""}`);
}

/**
 * `host:port` to dial for a node's kubelet (or another of its ports), as kube-apiserver's node
 * "ResourceLocation" picks it: the node address InternalIP, then Hostname, then ExternalIP; the
 * port from status.daemonEndpoints.kubeletEndpoint (default 10250) unless one is asked for.
 */
function kubeletHost(node: Json, port: number | undefined, dial: KubeletDialer): string {
  const nodeName: string = node.metadata.name;
  const addrs: Json[] = node.status?.addresses ?? [];
  const addr = ["InternalIP", "Hostname", "ExternalIP"]
    .map((t) => addrs.find((a) => a.type === t)?.address)
    .find(Boolean);
  if (!addr)
    throw new StatusFailure(
      500,
      "InternalError",
      `Internal error occurred: no preferred addresses found; known addresses: []`,
    );
  const kubeletPort = port ?? (node.status?.daemonEndpoints?.kubeletEndpoint?.Port || 10250);
  const target = dial({ nodeName, address: addr, port: kubeletPort });
  if (!target)
    throw new StatusFailure(
      500,
      "InternalError",
      `error dialing backend: the simulator reaches kubelets on loopback addresses only, not ${addr}:${kubeletPort} (node ${nodeName}); map the node with startApiServer's kubeletDialer option`,
    );
  return `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
}

/**
 * Where `/api/v1/nodes/{name}/proxy/{path}` goes (the node REST's proxy "ResourceLocation"): the
 * name is `node`, `node:port` or `scheme:node:port` (net.SplitSchemeNamePort); by default https to
 * the kubelet port. Only https is spoken: the simulator presents its kubelet client certificate,
 * like kube-apiserver's kubelet transport.
 */
export function nodeProxyLocation(
  core: ApiCore,
  name: string,
  path: string,
  query: URLSearchParams,
  dial: KubeletDialer = loopbackOnly,
): URL {
  const parts = name.split(":");
  const [scheme, nodeName, port] =
    parts.length === 3 ? parts : parts.length === 2 ? ["", parts[0], parts[1]] : ["", parts[0], ""];
  if (!nodeName || (port !== "" && !/^\d{1,5}$/.test(port ?? "")) || parts.length > 3)
    throw badRequest(`invalid node request ${JSON.stringify(name)}`);
  if (scheme !== "" && scheme !== "https")
    throw badRequest(`the simulator proxies to nodes over https only, not ${JSON.stringify(scheme)}`);
  const node = core.find(findResource("", "v1", "nodes")!, "", nodeName);
  if (!node) throw notFound("nodes", "", nodeName);
  const host = kubeletHost(node, port ? Number(port) : undefined, dial);
  const target = new URL(`https://${host}/`);
  target.pathname = path;
  target.search = query.toString();
  return target;
}

// Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded in either direction.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "authorization",
  "proxy-authorization",
]);

/**
 * Proxies one HTTP request (nodes/proxy) to the kubelet with the simulator's kubelet client
 * certificate: method, headers (less the client's credentials and hop-by-hop ones) and body go up,
 * the status, headers and body come back as they are. Resolves with the status code.
 */
export function proxyRequest(
  target: URL,
  cert: KubeletClientCert | undefined,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<number> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers))
      if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    const up = request(
      target,
      {
        method: req.method ?? "GET",
        headers,
        rejectUnauthorized: false,
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
      },
      (upRes) => {
        const code = upRes.statusCode ?? 502;
        const back: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(upRes.headers))
          if (!HOP_BY_HOP.has(k) && v !== undefined) back[k] = v;
        res.writeHead(code, back);
        upRes.pipe(res);
        upRes.on("end", () => resolve(code));
        res.on("close", () => up.destroy());
      },
    );
    up.on("error", (e) => {
      if (!res.headersSent) {
        const f = new StatusFailure(503, "ServiceUnavailable", `error trying to reach service: ${e.message}`);
        const body = JSON.stringify(f.toStatus());
        res.writeHead(503, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
        res.end(body);
      } else res.destroy();
      resolve(503);
    });
    req.pipe(up);
  });
}

/** Streams a plain GET (pods/log) from the kubelet to the client. */
export function proxyGet(
  target: URL,
  cert: KubeletClientCert | undefined,
  res: http.ServerResponse,
): Promise<number> {
  return new Promise((resolve) => {
    const up = request(
      target,
      {
        method: "GET",
        // like kube-apiserver without --kubelet-certificate-authority, the kubelet's serving cert is not verified
        rejectUnauthorized: false,
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
      },
      (upRes) => {
        const code = upRes.statusCode ?? 502;
        res.writeHead(code, {
          "Content-Type": upRes.headers["content-type"] ?? "text/plain",
          "Cache-Control": "no-cache, private",
        });
        upRes.pipe(res);
        upRes.on("end", () => resolve(code));
        res.on("close", () => up.destroy());
      },
    );
    up.on("error", (e) => {
      if (!res.headersSent) {
        const f = new StatusFailure(500, "InternalError", `Get "${target.href}": ${e.message}`);
        const body = JSON.stringify(f.toStatus());
        res.writeHead(500, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
        res.end(body);
      } else res.destroy();
      resolve(500);
    });
    up.end();
  });
}

/** Pipes an upgraded connection (exec/attach/portforward over WebSocket or SPDY) to the kubelet. */
export function proxyUpgrade(
  target: URL,
  cert: KubeletClientCert | undefined,
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const up = connect({
    host: target.hostname.replace(/^\[|\]$/g, ""),
    port: Number(target.port),
    rejectUnauthorized: false,
    ALPNProtocols: ["http/1.1"],
    ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
  });
  up.on("secureConnect", () => {
    const lines = [
      `${req.method ?? "GET"} ${target.pathname}${target.search} HTTP/1.1`,
      `Host: ${target.host}`,
    ];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!;
      if (/^(host|authorization)$/i.test(k)) continue;
      lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
    }
    up.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  const fail = (e: Error): void => {
    if (!socket.destroyed && socket.writable && !up.readableFlowing) {
      const body = JSON.stringify(
        new StatusFailure(500, "InternalError", `error dialing backend: ${e.message}`).toStatus(),
      );
      socket.end(
        `HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    } else socket.destroy();
  };
  up.on("error", fail);
  socket.on("error", () => up.destroy());
  socket.on("close", () => up.destroy());
  up.on("close", () => socket.destroy());
}
