// Benchmark: @kubenode/cri-client vs raw @grpc/grpc-js + @grpc/proto-loader vs a bare node:http2
// unary call (no protobuf decoding: the floor for any Node client), all against the same private
// containerd in one run. Prints a Markdown table (and JSON with --json).
//
//   npm run bench            (from packages/cri-client, as root; builds nothing, reads dist/)
//
// Latency: sequential calls, p50/p99 over ITER calls after a warm-up. Throughput: wall time of
// 1000 concurrent ListContainers calls, median of ROUNDS rounds. The clients take turns round by
// round, so a change in machine load affects all of them alike.
import { constants as h2, connect as h2connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { startContainerd } from "@kubenode/testkit";
import { createCriClient } from "../dist/index.js";

const ITER = Number(process.env.BENCH_ITER ?? 3000);
const WARMUP = 500;
const CONCURRENT = 1000;
const ROUNDS = 7;

type Call = () => Promise<unknown>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Sequential latency samples of each client, interleaved in rounds so load changes hit all alike. */
async function latency(calls: Record<string, Call>): Promise<Record<string, { p50: number; p99: number }>> {
  const samples: Record<string, number[]> = {};
  for (const [name, call] of Object.entries(calls)) {
    samples[name] = [];
    for (let i = 0; i < WARMUP; i++) await call();
  }
  const perRound = Math.ceil(ITER / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, call] of Object.entries(calls)) {
      for (let i = 0; i < perRound; i++) {
        const t = performance.now();
        await call();
        samples[name]?.push(performance.now() - t);
      }
    }
  }
  return Object.fromEntries(
    Object.entries(samples).map(([name, s]) => {
      s.sort((a, b) => a - b);
      return [name, { p50: percentile(s, 50), p99: percentile(s, 99) }];
    }),
  );
}

/**
 * Median wall time (ms) of CONCURRENT concurrent calls per client, and the client process's CPU time
 * per call (µs; the runtime's own CPU is not counted, so this is the client-side cost and is far
 * less sensitive to machine load than wall time). Rounds are interleaved.
 */
async function burst(calls: Record<string, Call>): Promise<Record<string, { wall: number; cpuUs: number }>> {
  const walls: Record<string, number[]> = {};
  const cpus: Record<string, number[]> = {};
  for (const [name, call] of Object.entries(calls)) {
    walls[name] = [];
    cpus[name] = [];
    await Promise.all(Array.from({ length: 100 }, call));
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, call] of Object.entries(calls)) {
      const cpu = process.cpuUsage();
      const t = performance.now();
      await Promise.all(Array.from({ length: CONCURRENT }, call));
      walls[name]?.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      cpus[name]?.push((used.user + used.system) / CONCURRENT);
    }
  }
  const median = (xs: number[] | undefined) =>
    percentile(
      (xs ?? []).sort((a, b) => a - b),
      50,
    );
  return Object.fromEntries(
    Object.keys(calls).map((name) => [name, { wall: median(walls[name]), cpuUs: median(cpus[name]) }]),
  );
}

/** gRPC length-prefixed frame of an encoded message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function bareHttp2(socketPath: string) {
  const session = h2connect("http://localhost", { createConnection: () => netConnect(socketPath) });
  session.on("error", () => {});
  // Empty VersionRequest / ListContainersRequest encode to zero bytes.
  const body = frame(new Uint8Array(0));
  const unary =
    (method: string): Call =>
    () =>
      new Promise((resolve, reject) => {
        const req = session.request({
          [h2.HTTP2_HEADER_METHOD]: "POST",
          [h2.HTTP2_HEADER_PATH]: `/runtime.v1.RuntimeService/${method}`,
          [h2.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
          te: "trailers",
        });
        let size = 0;
        req.on("data", (chunk: Buffer) => (size += chunk.length));
        req.on("trailers", (trailers) => {
          if (trailers["grpc-status"] !== "0") reject(new Error(`grpc-status ${trailers["grpc-status"]}`));
        });
        req.on("end", () => resolve(size));
        req.on("error", reject);
        req.end(body);
      });
  return { version: unary("Version"), list: unary("ListContainers"), close: () => session.close() };
}

type RawCallback = (e: Error | null, r: unknown) => void;
type RawClient = Record<string, (req: object, opts: object, cb: RawCallback) => void> & { close(): void };

function rawGrpc(endpoint: string) {
  const def = loadSync(join(import.meta.dirname, "..", "proto", "runtime", "v1", "api.proto"), {
    longs: String,
    enums: Number,
    defaults: true,
  });
  const pkg = loadPackageDefinition(def) as unknown as {
    runtime: { v1: { RuntimeService: new (target: string, creds: unknown, opts: object) => RawClient } };
  };
  const client = new pkg.runtime.v1.RuntimeService(endpoint, credentials.createInsecure(), {
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
  });
  const unary =
    (method: string): Call =>
    () =>
      new Promise((resolve, reject) =>
        client[method]?.call(client, {}, { deadline: Date.now() + 120_000 }, (e: Error | null, r: unknown) =>
          e ? reject(e) : resolve(r),
        ),
      );
  return {
    version: unary("Version"),
    list: unary("ListContainers"),
    close: () => (client.close as () => void)(),
  };
}

function ours(endpoint: string) {
  const cri = createCriClient({ endpoint });
  return { version: () => cri.version({}), list: () => cri.listContainers({}), close: () => cri.close() };
}

async function addContainers(cri: ReturnType<typeof createCriClient>, image: string, dir: string, n: number) {
  const config = {
    metadata: { name: `bench-${n}`, namespace: "bench", uid: `bench-${n}-${process.pid}` },
    logDirectory: join(dir, "bench-logs", String(n)),
    linux: { securityContext: { namespaceOptions: { network: 2 } } },
  };
  const { podSandboxId } = await cri.runPodSandbox({ config });
  for (let i = 0; i < n; i++) {
    const { containerId } = await cri.createContainer({
      podSandboxId,
      sandboxConfig: config,
      config: {
        metadata: { name: `c${i}` },
        image: { image },
        command: ["sleep", "3600"],
        logPath: `c${i}.log`,
      },
    });
    await cri.startContainer({ containerId });
  }
}

const ctd = await startContainerd({ cni: false });
const results: Record<string, Record<string, number>> = {};
try {
  const admin = createCriClient({ endpoint: ctd.endpoint });
  await admin.connect();
  const clients = {
    "@kubenode/cri-client": ours(ctd.endpoint),
    "raw @grpc/grpc-js + @grpc/proto-loader": rawGrpc(ctd.endpoint),
    "bare node:http2 (no decoding)": bareHttp2(ctd.socketPath),
  };
  let have = 0;
  for (const count of [20, 100]) {
    await addContainers(admin, ctd.busyboxImage, ctd.dir, count - have);
    have = count;
    const listed = (await admin.listContainers({})).containers.length;
    if (listed !== count) throw new Error(`expected ${count} containers, runtime lists ${listed}`);
    const pick = (key: "version" | "list") =>
      Object.fromEntries(Object.entries(clients).map(([name, c]) => [name, c[key]]));
    const row = (name: string) => {
      const r = results[name] ?? {};
      results[name] = r;
      return r;
    };
    if (count === 20) {
      for (const [name, v] of Object.entries(await latency(pick("version")))) {
        row(name)["Version p50 (ms)"] = v.p50;
        row(name)["Version p99 (ms)"] = v.p99;
      }
    }
    for (const [name, l] of Object.entries(await latency(pick("list")))) {
      row(name)[`ListContainers(${count}) p50 (ms)`] = l.p50;
      row(name)[`ListContainers(${count}) p99 (ms)`] = l.p99;
    }
    for (const [name, b] of Object.entries(await burst(pick("list")))) {
      row(name)[`1000 concurrent ListContainers(${count}) wall (ms)`] = b.wall;
      row(name)[`ListContainers(${count}) client CPU per call (µs)`] = b.cpuUs;
    }
  }
  for (const c of Object.values(clients)) c.close();
  admin.close();
} finally {
  await ctd.stop();
}

const clientNames = Object.keys(results);
const metrics = Object.keys(results[clientNames[0] ?? ""] ?? {});
const lines = [
  `| metric | ${clientNames.join(" | ")} |`,
  `|---|${clientNames.map(() => "---:").join("|")}|`,
  ...metrics.map(
    (m) =>
      `| ${m} | ${clientNames
        .map((n) => (results[n]?.[m] ?? Number.NaN).toFixed(m.includes("wall") || m.includes("CPU") ? 0 : 3))
        .join(" | ")} |`,
  ),
];
process.stdout.write(
  `containerd 1.6, ${ITER} sequential calls per latency (ms), median of ${ROUNDS} bursts, Node ${process.version}\n\n${lines.join("\n")}\n`,
);
if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
