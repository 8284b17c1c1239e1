import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import {
  Server as GrpcServer,
  status as GrpcStatus,
  type handleUnaryCall,
  ServerCredentials,
} from "@grpc/grpc-js";
import { createFakeClock, createRealClock } from "@kubenode/kube";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Container, Pod } from "../api.js";
import type { PodRuntime } from "../runtime/types.js";
import {
  decodeHealthStatus,
  grpcProbe,
  httpGetHeaders,
  httpGetUrl,
  PROBE_USER_AGENT,
  resolvePort,
  runHttpGet,
  tcpProbe,
} from "./handlers.js";
import { runHook } from "./hooks.js";

const container: Container = { name: "app", ports: [{ name: "http", containerPort: 8080 }] };

describe("probe targets", () => {
  it("resolves ports by number or by the container port's name", () => {
    expect(resolvePort(8081, container)).toBe(8081);
    expect(resolvePort("http", container)).toBe(8080);
    expect(resolvePort("9000", container)).toBe(9000);
    expect(() => resolvePort("metrics", container)).toThrow("couldn't find port: metrics in app");
    expect(() => resolvePort(0, container)).toThrow("invalid port number: 0");
    expect(() => resolvePort(70000, container)).toThrow("invalid port number: 70000");
  });

  it("builds the URL from scheme, host, port and a path that may carry a query", () => {
    expect(httpGetUrl({ port: 80, path: "/healthz?full=1" }, "10.1.2.3", 80).href).toBe(
      "http://10.1.2.3/healthz?full=1",
    );
    expect(httpGetUrl({ port: 8443, scheme: "HTTPS" }, "fd00::5", 8443).href).toBe("https://[fd00::5]:8443/");
  });

  it("sends kube-probe's User-Agent and Accept unless the spec sets them, and refuses bad headers", () => {
    expect(httpGetHeaders({ port: 1 })).toEqual({ "user-agent": PROBE_USER_AGENT, accept: "*/*" });
    expect(httpGetHeaders({ port: 1, httpHeaders: [{ name: "User-Agent", value: "mine" }] })).toEqual({
      "user-agent": "mine",
      accept: "*/*",
    });
    expect(() => httpGetHeaders({ port: 1, httpHeaders: [{ name: "X Bad", value: "v" }] })).toThrow(
      /invalid HTTP header name/,
    );
    expect(() =>
      httpGetHeaders({ port: 1, httpHeaders: [{ name: "X-Ok", value: "a\r\nInjected: 1" }] }),
    ).toThrow(/invalid value of HTTP header/);
  });

  it("decodes a HealthCheckResponse status, skipping unknown fields", () => {
    expect(decodeHealthStatus(Buffer.from([0x08, 0x01]))).toBe(1);
    expect(decodeHealthStatus(Buffer.from([0x12, 0x02, 0x61, 0x62, 0x08, 0x02]))).toBe(2);
    expect(decodeHealthStatus(Buffer.alloc(0))).toBe(0);
  });
});

const real = createRealClock();

describe("httpGet, tcpSocket and grpc against loopback servers", () => {
  let http: Server;
  let port = 0;
  let seen: IncomingHttpHeaders | undefined;
  beforeAll(async () => {
    http = createServer((req, res) => {
      seen = req.headers;
      if (req.url === "/ok") res.end("fine");
      else if (req.url === "/moved") res.writeHead(302, { location: "/ok" }).end();
      else if (req.url === "/away")
        res.writeHead(301, { location: "http://localhost:1/elsewhere" }).end("bye");
      else if (req.url === "/loop") res.writeHead(302, { location: "/loop" }).end();
      else if (req.url === "/slow") setTimeout(() => res.end("late"), 3_000);
      else res.writeHead(503).end("down");
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    port = (http.address() as AddressInfo).port;
  });
  afterAll(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  const target = (c: Container = { name: "app" }) => ({
    runtime: {} as PodRuntime,
    clock: real,
    container: c,
    containerId: "c1",
    podIP: "127.0.0.1",
  });

  it("succeeds on 2xx with the body, follows same-host redirects, and fails on 5xx with upstream's text", async () => {
    await expect(
      runHttpGet(target(), { port, path: "/ok", httpHeaders: [{ name: "X-Probe", value: "yes" }] }, 10_000),
    ).resolves.toEqual({ result: "success", output: "fine" });
    expect(seen).toMatchObject({ "user-agent": PROBE_USER_AGENT, accept: "*/*", "x-probe": "yes" });
    await expect(runHttpGet(target(), { port, path: "/moved" }, 10_000)).resolves.toEqual({
      result: "success",
      output: "fine",
    });
    await expect(runHttpGet(target(), { port, path: "/down" }, 10_000)).resolves.toEqual({
      result: "failure",
      output: "HTTP probe failed with statuscode: 503",
    });
  });

  it("ends at a redirect to another host with a warning, and stops redirect loops", async () => {
    await expect(runHttpGet(target(), { port, path: "/away" }, 10_000)).resolves.toEqual({
      result: "success",
      warning: true,
      output: "Probe terminated redirects, Response body: bye",
    });
    const loop = await runHttpGet(target(), { port, path: "/loop" }, 10_000);
    expect(loop.result).toBe("failure");
  });

  it("fails a request that takes longer than the timeout, and a refused connection", async () => {
    await expect(runHttpGet(target(), { port, path: "/slow" }, 200)).resolves.toEqual({
      result: "failure",
      output: `Get "http://127.0.0.1:${port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
    });
    const closed = await freePort();
    await expect(runHttpGet(target(), { port: closed, path: "/" }, 10_000)).resolves.toEqual({
      result: "failure",
      output: `Get "http://127.0.0.1:${closed}/": connect: connection refused`,
    });
  });

  it("connects with tcpSocket and reports a refused port as Go does", async () => {
    await expect(tcpProbe("127.0.0.1", port, 10_000, real)).resolves.toEqual({
      result: "success",
      output: "",
    });
    const closed = await freePort();
    await expect(tcpProbe("127.0.0.1", closed, 10_000, real)).resolves.toEqual({
      result: "failure",
      output: `dial tcp 127.0.0.1:${closed}: connect: connection refused`,
    });
  });

  it("asks grpc.health.v1.Health/Check: SERVING succeeds, anything else fails", async () => {
    const server = new GrpcServer();
    const answers: Record<string, number> = { "": 1, db: 2 };
    let askedFor: string | undefined;
    const check: handleUnaryCall<Buffer, number> = (call, callback) => {
      const service = call.request.length > 2 ? call.request.subarray(2).toString() : "";
      askedFor = service;
      const s = answers[service];
      if (s === undefined) callback({ code: GrpcStatus.NOT_FOUND, details: "unknown service" });
      else callback(null, s);
    };
    server.register(
      "/grpc.health.v1.Health/Check",
      check,
      (n: number) => Buffer.from([0x08, n]),
      (b: Buffer) => b,
      "unary",
    );
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    try {
      await expect(grpcProbe("127.0.0.1", { port: grpcPort }, 10_000, real)).resolves.toEqual({
        result: "success",
        output: "service healthy",
      });
      await expect(grpcProbe("127.0.0.1", { port: grpcPort, service: "db" }, 10_000, real)).resolves.toEqual({
        result: "failure",
        output: 'service unhealthy (responded with "NOT_SERVING")',
      });
      expect(askedFor).toBe("db");
      const closed = await freePort();
      const refused = await grpcProbe("127.0.0.1", { port: closed }, 10_000, real);
      expect(refused.result).toBe("failure");
      expect(refused.output).toMatch(
        /^timeout: failed to connect service "127\.0\.0\.1:\d+" within 10s|^timeout: health rpc/,
      );
    } finally {
      server.forceShutdown();
    }
  });

  it("runs an httpGet hook: any answer counts, no answer fails with upstream's message", async () => {
    const clock = createFakeClock(0);
    const pod: Pod = { metadata: { name: "p", namespace: "ns", uid: "u1" }, spec: { containers: [] } };
    await expect(runHook(pod, target(), { httpGet: { port, path: "/down" } }, clock)).resolves.toEqual({});
    const closed = await freePort();
    await expect(runHook(pod, target(), { httpGet: { port: closed, path: "/x" } }, clock)).resolves.toEqual({
      error: `HTTP lifecycle hook (/x) for Container "app" in Pod "p_ns(u1)" failed - error: Get "http://127.0.0.1:${closed}/x": connect: connection refused`,
    });
  });
});

describe("lifecycle hooks", () => {
  const pod: Pod = { metadata: { name: "p", namespace: "ns", uid: "u1" }, spec: { containers: [] } };

  it("reports a failed exec hook with the command, the exit code and the output", async () => {
    const runtime = {
      execSync: async () => ({ exitCode: 2, output: "out\nerr\n", stderr: "err\n" }),
    } as unknown as PodRuntime;
    const r = await runHook(
      pod,
      { runtime, clock: real, container: { name: "app" }, containerId: "c1", podIP: undefined },
      { exec: { command: ["sh", "-c", "false"] } },
      createFakeClock(0),
    );
    expect(r.error).toBe(
      'Exec lifecycle hook ([sh -c false]) for Container "app" in Pod "p_ns(u1)" failed - error: command \'sh -c false\' exited with 2: err\n, message: "out\\nerr\\n"',
    );
  });

  it("sleeps on the kubelet's clock and ends early when aborted", async () => {
    const clock = createFakeClock(0);
    const target = {
      runtime: {} as PodRuntime,
      clock,
      container: { name: "app" },
      containerId: "c1",
      podIP: undefined,
    };
    let done = false;
    const p = runHook(pod, target, { sleep: { seconds: 5 } }, clock).then(() => {
      done = true;
    });
    await clock.step(4_999);
    expect(done).toBe(false);
    await clock.step(1);
    await p;
    expect(done).toBe(true);
    const ac = new AbortController();
    const q = runHook(pod, target, { sleep: { seconds: 60 } }, clock, { signal: ac.signal });
    ac.abort();
    await expect(q).resolves.toEqual({});
  });
});

async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
