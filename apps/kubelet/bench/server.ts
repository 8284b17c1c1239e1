// The :10250 server's costs, each next to its baseline in the same run:
// - container logs: MB/s of a finished CRI log file read (a) straight with cri-client's readCriLog,
//   (b) through the kubelet's /containerLogs over HTTPS, (c) through `kubectl logs` via the API
//   server; and `kubectl logs -f` while a container writes as fast as it can;
// - exec round trip (`true`, WebSocket v4): (a) cri-client straight to containerd's streaming
//   server, (b) through the kubelet's /exec relay with a client certificate, (c) the same kubelet
//   path (TLS, authentication, authorization, pod lookup, relay) to a stand-in streaming server
//   that answers at once: what the kubelet server itself costs, without runc's exec;
// - /stats/summary latency at N running pods, next to the CRI ListContainerStats call behind it
//   (read by the housekeeping loop, not per request; the first request's time is printed apart).
//
//   node --import ./test/fixtures/ts-hook.ts bench/server.ts [--pods 110] [--mib 64] [--execs 200]
//     [--only logs,exec,stats]
//
// Needs root (containerd). Everything runs in this process except containerd and kubectl.
import { spawn } from "node:child_process";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { execStream, readCriLog } from "@kubenode/cri-client";
import { createRealClock } from "@kubenode/kube";
import { waitFor } from "@kubenode/testkit";
import WebSocket, { WebSocketServer } from "ws";
import type { Pod } from "../src/api.js";
import { createKubeletAuth } from "../src/server/auth.js";
import { metricsHandlers } from "../src/server/index.js";
import { createKubeletServer } from "../src/server/server.js";
import { loadServingCert } from "../src/server/serving-cert.js";
import { NODE, startRig } from "../test/rig.js";
import { percentile } from "./common.js";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "110" },
    mib: { type: "string", default: "64" },
    execs: { type: "string", default: "200" },
    only: { type: "string", default: "logs,exec,stats" },
  },
});
const ONLY = new Set(values.only.split(","));
const PODS = Number(values.pods);
const MIB = Number(values.mib);
const EXECS = Number(values.execs);

const rig = await startRig();
const clock = createRealClock();
const report: Record<string, unknown> = { loadavgBefore: loadavg().map((l) => +l.toFixed(2)) };
try {
  const kubelet = await rig.startKubelet();
  const logger = (await import("@kubenode/kube")).silentLogger;
  const tls = await loadServingCert({ certDir: join(rig.tmp, "pki"), hostname: NODE, ips: [], logger });
  const metrics = metricsHandlers({
    nodeName: NODE,
    kubelet,
    cri: rig.cri,
    rootDir: rig.tmp,
    podLogsDir: rig.podLogsDir,
    clock,
  });
  const server = createKubeletServer({
    kubelet,
    cri: rig.cri,
    auth: createKubeletAuth({
      nodeName: NODE,
      client: rig.nodeClient,
      authentication: { clientCAPem: rig.server.caPem! },
      clock,
    }),
    tls,
    clientCAPem: rig.server.caPem!,
    address: "127.0.0.1",
    port: 0,
    healthzPort: null,
    handlers: metrics.handlers,
    clock,
    logger,
  });
  await server.start();
  await rig.admin.request({
    method: "PATCH",
    path: `/api/v1/nodes/${NODE}/status`,
    contentType: "application/merge-patch+json",
    body: {
      status: {
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: server.port } },
      },
    },
  });
  const adminUser = JSON.parse(rig.server.kubeconfigText()).users[0].user;
  const cert = Buffer.from(adminUser["client-certificate-data"], "base64");
  const key = Buffer.from(adminUser["client-key-data"], "base64");
  const image = rig.containerd.busyboxImage;
  const running = (p: Pod) => p.status?.phase === "Running";

  if (ONLY.has("logs")) await logs();
  async function logs() {
    // ---- logs ----
    // 100-byte lines, MIB MiB in all, written as fast as busybox can, then the container idles.
    const lines = Math.round((MIB * 2 ** 20) / 100);
    const writer = `yes 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678 | head -n ${lines}; echo DONE; exec sleep 3600`;
    const t0 = performance.now();
    await rig.createPod({
      metadata: { name: "writer" },
      spec: { containers: [{ name: "w", image, command: ["sh", "-c", writer] }] },
    });
    await rig.waitPod("writer", "running", running);
    // kubectl logs -f from the start: bytes arrive as the container writes them.
    const follow = await new Promise<{ bytes: number; ms: number }>((resolve, reject) => {
      const started = performance.now();
      let bytes = 0;
      let tail = "";
      const child = spawn("kubectl", ["--kubeconfig", rig.server.kubeconfigPath, "logs", "-f", "writer"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      child.stdout.on("data", (d: Buffer) => {
        bytes += d.length;
        tail = (tail + d.toString("latin1")).slice(-16);
        if (tail.includes("DONE\n")) {
          child.kill("SIGINT");
          resolve({ bytes, ms: performance.now() - started });
        }
      });
      child.once("error", reject);
    });
    report.containerWriteAndFollowSeconds = +((performance.now() - t0) / 1000).toFixed(2);
    report.kubectlLogsFollowMBps = +(follow.bytes / 1e6 / (follow.ms / 1000)).toFixed(1);

    const { containers } = await rig.cri.listContainers({
      filter: { labelSelector: { "io.kubernetes.pod.name": "writer" } },
    });
    const { status } = await rig.cri.containerStatus({ containerId: containers[0]!.id });
    const logPath = status!.logPath;
    const direct = async () => {
      const s = performance.now();
      let bytes = 0;
      for await (const line of readCriLog(logPath)) bytes += line.content.length + 1;
      return { bytes, ms: performance.now() - s };
    };
    const viaKubelet = () =>
      new Promise<{ bytes: number; ms: number }>((resolve, reject) => {
        const s = performance.now();
        let bytes = 0;
        request(
          {
            host: "127.0.0.1",
            port: server.port,
            path: "/containerLogs/default/writer/w",
            cert,
            key,
            rejectUnauthorized: false,
          },
          (res) => {
            res.on("data", (d: Buffer) => {
              bytes += d.length;
            });
            res.on("end", () => resolve({ bytes, ms: performance.now() - s }));
          },
        )
          .on("error", reject)
          .end();
      });
    const viaKubectl = () =>
      new Promise<{ bytes: number; ms: number }>((resolve, reject) => {
        const s = performance.now();
        let bytes = 0;
        const child = spawn("kubectl", ["--kubeconfig", rig.server.kubeconfigPath, "logs", "writer"], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        child.stdout.on("data", (d: Buffer) => {
          bytes += d.length;
        });
        child.once("exit", () => resolve({ bytes, ms: performance.now() - s }));
        child.once("error", reject);
      });
    // Three rounds, the three paths taking turns in each, so load changes hit them alike; the
    // median round of each is reported.
    const paths = { direct, viaKubelet, viaKubectl };
    const runs: Record<keyof typeof paths, { bytes: number; ms: number }[]> = {
      direct: [],
      viaKubelet: [],
      viaKubectl: [],
    };
    for (let round = 0; round < 3; round++)
      for (const [name, fn] of Object.entries(paths) as [
        keyof typeof paths,
        () => Promise<{ bytes: number; ms: number }>,
      ][])
        runs[name].push(await fn());
    const median = (name: keyof typeof paths) => {
      const r = [...runs[name]].sort((a, b) => a.ms - b.ms)[1]!;
      return { MB: +(r.bytes / 1e6).toFixed(1), MBps: +(r.bytes / 1e6 / (r.ms / 1000)).toFixed(1) };
    };
    report.logsReadCriLogDirect = median("direct");
    report.logsThroughKubelet = median("viaKubelet");
    report.logsThroughKubectlAndApiServer = median("viaKubectl");
  }

  const ms = (v: number) => +v.toFixed(2);
  // ---- exec round trip ----
  if (ONLY.has("exec")) await exec();
  async function exec() {
    await rig.createPod({
      metadata: { name: "sh" },
      spec: { containers: [{ name: "sh", image, command: ["sleep", "3600"] }] },
    });
    await rig.waitPod("sh", "running", running);
    const shId = (
      await rig.cri.listContainers({ filter: { labelSelector: { "io.kubernetes.pod.name": "sh" } } })
    ).containers[0]!.id;
    const criExec = async () => {
      const s = performance.now();
      const session = await execStream(rig.cri, { containerId: shId, cmd: ["true"], stdout: true });
      session.stdout.resume();
      session.stderr.resume();
      await session.exit;
      return performance.now() - s;
    };
    // A stand-in for containerd's streaming server: the exit status at once, as channel 3.
    const stub = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    stub.on("connection", (ws) => {
      ws.send(Buffer.concat([Buffer.from([3]), Buffer.from('{"metadata":{},"status":"Success"}')]));
    });
    await new Promise((r) => stub.once("listening", r));
    const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/exec/stub`;
    const stubServer = createKubeletServer({
      kubelet,
      // Every CRI call real except Exec, which names the stand-in.
      cri: new Proxy(rig.cri, {
        get: (target, prop, receiver) =>
          prop === "exec" ? async () => ({ url: stubUrl }) : Reflect.get(target, prop, receiver),
      }),
      auth: createKubeletAuth({
        nodeName: NODE,
        client: rig.nodeClient,
        authentication: { clientCAPem: rig.server.caPem! },
        clock,
      }),
      tls,
      clientCAPem: rig.server.caPem!,
      address: "127.0.0.1",
      port: 0,
      healthzPort: null,
      clock,
      logger,
    });
    await stubServer.start();
    const kubeletExec = (port = server.port) =>
      new Promise<number>((resolve, reject) => {
        const s = performance.now();
        const ws = new WebSocket(
          `wss://127.0.0.1:${port}/exec/default/sh/sh?command=true&output=1`,
          ["v4.channel.k8s.io"],
          { cert, key, rejectUnauthorized: false },
        );
        ws.on("message", (d: Buffer) => {
          if (d[0] === 3) {
            ws.close();
            resolve(performance.now() - s);
          }
        });
        ws.once("error", reject);
      });
    const criTimes: number[] = [];
    const kubeletTimes: number[] = [];
    const stubTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      await criExec();
      await kubeletExec();
      await kubeletExec(stubServer.port);
    }
    for (let i = 0; i < EXECS; i++) {
      criTimes.push(await criExec());
      kubeletTimes.push(await kubeletExec());
      stubTimes.push(await kubeletExec(stubServer.port));
    }
    await stubServer.stop();
    await new Promise((r) => stub.close(r));
    const pct = (v: number[]) => ({ p50: ms(percentile(v, 50)), p99: ms(percentile(v, 99)) });
    report.execCriDirectMs = pct(criTimes);
    report.execThroughKubeletMs = pct(kubeletTimes);
    report.execThroughKubeletToStandInStreamMs = pct(stubTimes);
  }

  // ---- /stats/summary at PODS pods ----
  if (ONLY.has("stats")) await stats();
  async function stats() {
    const existing = (ONLY.has("logs") ? 1 : 0) + (ONLY.has("exec") ? 1 : 0);
    await Promise.all(
      Array.from({ length: Math.max(0, PODS - existing) }, (_, i) =>
        rig.createPod({
          metadata: { name: `s${i}` },
          spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
        }),
      ),
    );
    await waitFor(
      `${PODS} pods running`,
      async () => {
        const { items } = await rig.admin.request<{ items: Pod[] }>({
          method: "GET",
          path: "/api/v1/namespaces/default/pods",
        });
        return items.filter(running).length >= PODS ? true : undefined;
      },
      { timeoutMs: 1_800_000, intervalMs: 2000 },
    );
    const summary = () =>
      new Promise<number>((resolve, reject) => {
        const s = performance.now();
        request(
          {
            host: "127.0.0.1",
            port: server.port,
            path: "/stats/summary",
            cert,
            key,
            rejectUnauthorized: false,
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(performance.now() - s));
          },
        )
          .on("error", reject)
          .end();
      });
    const listStats = async () => {
      const s = performance.now();
      await rig.cri.listContainerStats({});
      return performance.now() - s;
    };
    const sumTimes: number[] = [];
    const statsTimes: number[] = [];
    // The first request waits for the runtime (nothing sampled yet); later ones are served from the
    // housekeeping loop's latest sample while it re-reads in the background every 10 s.
    report.statsSummaryFirstMs = ms(await summary());
    for (let i = 0; i < 4; i++) await summary();
    for (let i = 0; i < 50; i++) {
      statsTimes.push(await listStats());
      sumTimes.push(await summary());
    }
    report.pods = PODS;
    report.statsSummaryMs = { p50: ms(percentile(sumTimes, 50)), p99: ms(percentile(sumTimes, 99)) };
    report.criListContainerStatsMs = {
      p50: ms(percentile(statsTimes, 50)),
      p99: ms(percentile(statsTimes, 99)),
    };
  }
  report.loadavgAfter = loadavg().map((l) => +l.toFixed(2));
  console.log(JSON.stringify(report));
  metrics.stop();
  await server.stop();
} finally {
  await rig.stop();
}
