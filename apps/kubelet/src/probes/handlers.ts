// The four probe handlers: exec, httpGet, tcpSocket and grpc (upstream pkg/probe/{exec,http,tcp,grpc}
// and pkg/kubelet/prober/prober.go). Each answers success, failure or unknown with the output
// upstream puts into the Unhealthy event; lifecycle hooks reuse the transports.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, isIP } from "node:net";
import { Client, credentials, status as GrpcStatus, Metadata } from "@grpc/grpc-js";
import type { Clock } from "@kubenode/kube";
import type { Container, GRPCAction, HTTPGetAction, IntOrString, TCPSocketAction } from "../api.js";
import { ExecTimeoutError, type PodRuntime } from "../runtime/types.js";
import { goDuration } from "../workers/backoff.js";

/** A probe's verdict (upstream probe.Result; a Warning counts as success, its text kept). */
export type ProbeVerdict = "success" | "failure" | "unknown";

export interface ProbeOutcome {
  result: ProbeVerdict;
  /** A success with a warning (a redirect to another host): event ProbeWarning. */
  warning?: boolean;
  /** What the handler saw: the failure text of the Unhealthy event, a body, an error. */
  output: string;
}

/**
 * Upstream sends `kube-probe/<major>.<minor>` of the kubelet's version; this kubelet reports the
 * Kubernetes release whose behaviour it mirrors.
 */
export const PROBE_USER_AGENT = "kube-probe/1.33";
// Upstream reads at most 10 KiB of a probe's response body and follows at most 10 redirects.
const MAX_BODY_BYTES = 10 * 1024;
const MAX_REDIRECTS = 10;

/** Thrown for a probe or hook that names something the pod does not have (a port name, no host). */
export class ProbeConfigError extends Error {
  override readonly name = "ProbeConfigError";
}

/**
 * A port number from a probe's `port`: a number, or the name of one of the container's ports
 * (upstream findPortByName). Throws {@link ProbeConfigError} for unknown names and out-of-range numbers.
 */
export function resolvePort(port: IntOrString, container: Container): number {
  let n: number;
  if (typeof port === "number") n = port;
  else if (/^\d+$/.test(port)) n = Number(port);
  else {
    const found = (container.ports ?? []).find((p) => p.name === port);
    if (!found) throw new ProbeConfigError(`couldn't find port: ${port} in ${container.name}`);
    n = found.containerPort;
  }
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ProbeConfigError(`invalid port number: ${n}`);
  return n;
}

function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The URL an httpGet action targets (upstream formatURL): the path may carry a query. */
export function httpGetUrl(action: HTTPGetAction, host: string, port: number): URL {
  const scheme = (action.scheme ?? "HTTP").toLowerCase();
  if (scheme !== "http" && scheme !== "https")
    throw new ProbeConfigError(`unsupported scheme: ${action.scheme}`);
  const path = action.path ?? "";
  const url = new URL(`${scheme}://${hostPort(host, port)}`);
  const q = path.indexOf("?");
  url.pathname = q >= 0 ? path.slice(0, q) : path;
  if (q >= 0) url.search = path.slice(q);
  return url;
}

/** Request headers of an httpGet probe: upstream's User-Agent and Accept unless the spec sets them. */
export function httpGetHeaders(action: HTTPGetAction): Record<string, string> {
  const headers: Record<string, string> = {};
  const set = new Set<string>();
  for (const h of action.httpHeaders ?? []) {
    // Header names and values reach the wire: reject what Node (and Go) would refuse, by name.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.name))
      throw new ProbeConfigError(`invalid HTTP header name ${JSON.stringify(h.name)}`);
    if (/[\r\n\0]/.test(h.value))
      throw new ProbeConfigError(`invalid value of HTTP header ${JSON.stringify(h.name)}`);
    const key = h.name.toLowerCase();
    set.add(key);
    headers[key] = key in headers ? `${headers[key]}, ${h.value}` : h.value;
  }
  if (!set.has("user-agent")) headers["user-agent"] = PROBE_USER_AGENT;
  if (!set.has("accept")) headers.accept = "*/*";
  return headers;
}

interface HttpAnswer {
  status: number;
  location: string | undefined;
  body: string;
}

function getOnce(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const { host, ...rest } = headers;
    const req = send(
      url,
      {
        method: "GET",
        headers: { ...rest, ...(host ? { host } : {}) },
        // Upstream's probe transport: no keep-alive, no certificate checks.
        agent: false,
        rejectUnauthorized: false,
        signal,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < MAX_BODY_BYTES) chunks.push(c.subarray(0, MAX_BODY_BYTES - size));
          size += c.length;
          if (size >= MAX_BODY_BYTES) res.destroy();
        });
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        res.on("end", done);
        res.on("close", done);
        res.on("error", (err) => (size >= MAX_BODY_BYTES ? done() : reject(err)));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Go's net error texts for what Node reports, so outputs read like upstream's. */
function netErrorText(err: unknown, timedOut: boolean): string {
  if (timedOut) return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
  const code = (err as { code?: string }).code;
  if (code === "ECONNREFUSED") return "connect: connection refused";
  if (code === "EHOSTUNREACH") return "connect: no route to host";
  if (code === "ENETUNREACH") return "connect: network is unreachable";
  if (code === "ECONNRESET") return "read: connection reset by peer";
  return err instanceof Error ? err.message : String(err);
}

/**
 * GETs `url` (upstream DoHTTPProbe): 200-399 is success, anything else failure with
 * "HTTP probe failed with statuscode: N". Redirects are followed on the same host only; a redirect
 * elsewhere ends the probe as a success with a warning, as upstream does.
 */
export async function httpProbe(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  clock: Clock,
): Promise<ProbeOutcome> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = clock.setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  let current = url;
  try {
    for (let hop = 0; ; hop++) {
      let answer: HttpAnswer;
      try {
        answer = await getOnce(current, headers, controller.signal);
      } catch (err) {
        return { result: "failure", output: `Get "${current.href}": ${netErrorText(err, timedOut)}` };
      }
      const redirect = answer.status >= 300 && answer.status < 400 && answer.location;
      if (redirect) {
        const next = new URL(answer.location!, current);
        if (next.hostname !== url.hostname)
          return {
            result: "success",
            warning: true,
            output: `Probe terminated redirects, Response body: ${answer.body}`,
          };
        if (hop >= MAX_REDIRECTS)
          return {
            result: "failure",
            output: `Get "${next.href}": stopped after ${MAX_REDIRECTS} redirects`,
          };
        current = next;
        continue;
      }
      if (answer.status >= 200 && answer.status < 400) return { result: "success", output: answer.body };
      return { result: "failure", output: `HTTP probe failed with statuscode: ${answer.status}` };
    }
  } finally {
    clock.clearTimeout(timer);
  }
}

/** Opens and closes a TCP connection (upstream DoTCPProbe). */
export function tcpProbe(host: string, port: number, timeoutMs: number, clock: Clock): Promise<ProbeOutcome> {
  const target = hostPort(host, port);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = clock.setTimeout(() => {
      socket.destroy();
      resolve({ result: "failure", output: `dial tcp ${target}: i/o timeout` });
    }, timeoutMs);
    socket.once("connect", () => {
      clock.clearTimeout(timer);
      socket.destroy();
      resolve({ result: "success", output: "" });
    });
    socket.once("error", (err) => {
      clock.clearTimeout(timer);
      socket.destroy();
      resolve({ result: "failure", output: `dial tcp ${target}: ${netErrorText(err, false)}` });
    });
  });
}

/**
 * Runs `command` in the container (upstream exec prober over CRI ExecSync): exit 0 is success; a
 * non-zero exit or the timeout is failure; a runtime error is unknown.
 */
export async function execProbe(
  runtime: PodRuntime,
  containerId: string,
  command: readonly string[],
  timeoutMs: number,
): Promise<ProbeOutcome> {
  if (!runtime.execSync) return { result: "unknown", output: "the container runtime does not support exec" };
  try {
    const r = await runtime.execSync(containerId, command, timeoutMs);
    return { result: r.exitCode === 0 ? "success" : "failure", output: r.output };
  } catch (err) {
    if (err instanceof ExecTimeoutError) return { result: "failure", output: err.message };
    return { result: "unknown", output: err instanceof Error ? err.message : String(err) };
  }
}

// grpc.health.v1 HealthCheckResponse.ServingStatus names.
const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** HealthCheckRequest { string service = 1; } in protobuf wire format. */
function encodeHealthRequest(service: string): Buffer {
  const bytes = Buffer.from(service, "utf8");
  if (bytes.length === 0) return Buffer.alloc(0);
  const len: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), bytes]);
}

/** The `status` field (1, varint) of a HealthCheckResponse; other fields are skipped. */
export function decodeHealthStatus(buf: Buffer): number {
  let i = 0;
  let status = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error("truncated HealthCheckResponse");
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (key >>> 3 === 1) status = v;
    } else if (wire === 2) {
      const len = varint();
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire} in HealthCheckResponse`);
  }
  return status;
}

/** grpc.health.v1.Health/Check on `host:port` (upstream pkg/probe/grpc): SERVING is success. */
export function grpcProbe(
  host: string,
  action: GRPCAction,
  timeoutMs: number,
  clock: Clock,
): Promise<ProbeOutcome> {
  const target = hostPort(host, action.port);
  const within = goDuration(timeoutMs);
  const client = new Client(target, credentials.createInsecure(), {
    "grpc.user_agent": PROBE_USER_AGENT,
    "grpc.enable_retries": 0,
  });
  let timedOut = false;
  let timer: ReturnType<Clock["setTimeout"]> | undefined;
  return new Promise<ProbeOutcome>((resolve) => {
    const call = client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (service: string) => encodeHealthRequest(service),
      (buf: Buffer) => decodeHealthStatus(buf),
      action.service ?? "",
      new Metadata(),
      {},
      (err, status) => {
        if (err) {
          if (timedOut) {
            resolve({ result: "failure", output: `timeout: health rpc did not complete within ${within}` });
            return;
          }
          if (err.code === GrpcStatus.UNIMPLEMENTED)
            resolve({
              result: "failure",
              output: `this server does not implement the grpc health protocol (grpc.health.v1.Health): ${err.details}`,
            });
          else if (err.code === GrpcStatus.UNAVAILABLE)
            resolve({
              result: "failure",
              output: `timeout: failed to connect service ${JSON.stringify(target)} within ${within}: ${err.details}`,
            });
          else if (err.code === GrpcStatus.DEADLINE_EXCEEDED)
            resolve({ result: "failure", output: `timeout: health rpc did not complete within ${within}` });
          else resolve({ result: "failure", output: `error: health rpc probe failed: ${err.message}` });
          return;
        }
        if (status !== 1)
          resolve({
            result: "failure",
            output: `service unhealthy (responded with ${JSON.stringify(SERVING_STATUS[status ?? 0] ?? String(status))})`,
          });
        else resolve({ result: "success", output: "service healthy" });
      },
    );
    // The deadline on the kubelet's clock: the call is cancelled when it passes.
    timer = clock.setTimeout(() => {
      timedOut = true;
      call.cancel();
    }, timeoutMs);
  }).finally(() => {
    if (timer) clock.clearTimeout(timer);
    client.close();
  });
}

/** Where a probe or hook runs: the pod's IP (or the node's for host-network pods) and the container. */
export interface HandlerTarget {
  runtime: PodRuntime;
  /** Timeouts run on this clock. */
  clock: Clock;
  container: Container;
  containerId: string;
  podIP: string | undefined;
}

function defaultHost(target: HandlerTarget, host: string | undefined): string {
  const h = host || target.podIP;
  if (!h) throw new ProbeConfigError("the pod has no IP yet");
  return h;
}

/** Runs an httpGet action against the target (default host: the pod IP). */
export function runHttpGet(
  target: HandlerTarget,
  action: HTTPGetAction,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const port = resolvePort(action.port, target.container);
  const url = httpGetUrl(action, defaultHost(target, action.host), port);
  return httpProbe(url, httpGetHeaders(action), timeoutMs, target.clock);
}

/** Runs a tcpSocket action against the target. */
export function runTcpSocket(
  target: HandlerTarget,
  action: TCPSocketAction,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  return tcpProbe(
    defaultHost(target, action.host),
    resolvePort(action.port, target.container),
    timeoutMs,
    target.clock,
  );
}

/** Runs a gRPC health check against the pod IP (gRPC probes have no host field). */
export function runGrpc(target: HandlerTarget, action: GRPCAction, timeoutMs: number): Promise<ProbeOutcome> {
  resolvePort(action.port, target.container);
  return grpcProbe(defaultHost(target, undefined), action, timeoutMs, target.clock);
}
