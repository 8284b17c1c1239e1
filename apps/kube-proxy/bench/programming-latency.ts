// Network programming latency of kubenode-proxy: an EndpointSlice change written to the API server
// -> traffic to the Service's ClusterIP reaching the new endpoint, checked through the kernel with a
// real connection from the node's network namespace. Also the proxy's RSS.
//
//   node --experimental-strip-types bench/programming-latency.ts --mode nftables --services 1000
//   options: --mode iptables|nftables  --services N  --changes K  --compact (nftables compact layout)
//   BENCH_NODE_FLAGS="--max-semi-space-size=4" passes V8 flags to the proxy process.
//
// Needs root (network namespaces) and a built dist/ (npm run build).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createKubeClient, type KubeClient, parseKubeConfig } from "@kubenode/kube";
import { createNetworkLab, type LabHost, waitFor } from "@kubenode/testkit";

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, "..", "dist", "main.js");
const APISERVER = join(here, "..", "..", "..", "packages", "testkit", "dist", "apiserver-cli.js");

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "nftables" },
    services: { type: "string", default: "1000" },
    changes: { type: "string", default: "40" },
    compact: { type: "boolean", default: false },
  },
});
const mode = values.mode!;
const N = Number(values.services);
const K = Number(values.changes);
if (mode !== "iptables" && mode !== "nftables")
  throw new Error(`--mode must be iptables or nftables, got ${mode}`);
if (!(N > 0) || !(K > 0)) throw new Error("--services and --changes must be positive");
for (const f of [MAIN, APISERVER])
  if (!existsSync(f)) throw new Error(`${f} is missing: build first (npm run build)`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

function slice(name: string, ips: string[]) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${name}-1`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": name },
      annotations: { "endpoints.kubernetes.io/last-change-trigger-time": new Date().toISOString() },
    },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: "ep" })),
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kubenode-proxy-bench-"));
  const children: ChildProcess[] = [];
  const lab = await createNetworkLab({ hosts: ["node", "ep1", "ep2"] });
  try {
    // API server simulator (separate process, so the proxy's RSS is its own).
    const kubeconfigPath = join(dir, "kubeconfig");
    const api = spawn(
      process.execPath,
      [APISERVER, "--port", "0", "--kubeconfig", kubeconfigPath, "--node", "node"],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    children.push(api);
    // The node's kubeconfig is written after the admin one: once it exists, both are complete.
    await waitFor("the API server's kubeconfigs", () =>
      existsSync(`${kubeconfigPath}-node`) ? true : undefined,
    );
    const conn = parseKubeConfig(readFileSync(kubeconfigPath, "utf8"));
    const port = Number(new URL(conn.server).port);
    const client: KubeClient = createKubeClient(conn, { maxSockets: 32 });
    await waitFor("the API server", async () =>
      (await client.request({ method: "GET", path: "/version" }).catch(() => undefined)) ? true : undefined,
    );

    const node = lab.host("node");
    await node.exec(["ip", "route", "add", "default", "dev", "eth0"]);
    const ep1 = lab.host("ep1");
    const ep2 = lab.host("ep2");
    // ep1 answers on two addresses (the two initial endpoints of every service).
    const ep1b = ep1.ip.replace(/\.\d+$/, ".100");
    await ep1.exec(["ip", "addr", "add", `${ep1b}/24`, "dev", "eth0"]);
    for (const h of [ep1, ep2] as LabHost[]) {
      h.spawn(["busybox", "nc", "-ll", "-p", "8080", "-e", "echo", h.name]);
      await h.waitForListening(8080);
    }
    // The simulator listens on the host's loopback; testkit bridges the port into the node namespace.
    const bridge = await node.bridgeHostPort(port);

    // Seed N services x 2 endpoints.
    const t0 = performance.now();
    const names = Array.from({ length: N }, (_, i) => `svc-${i}`);
    const ips = new Map<string, string>();
    await pool(names, 32, async (name) => {
      const svc = await client.request<{ spec: { clusterIP: string } }>({
        method: "POST",
        path: "/api/v1/namespaces/default/services",
        body: {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name },
          spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }] },
        },
      });
      ips.set(name, svc.spec.clusterIP);
      await client.request({
        method: "POST",
        path: "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        body: slice(name, [ep1.ip, ep1b]),
      });
    });
    const seedMs = performance.now() - t0;
    process.stdout.write(`seeded ${N} services x 2 endpoints in ${(seedMs / 1000).toFixed(1)} s\n`);

    const request = async (ip: string) =>
      (await node.exec(["busybox", "nc", "-w", "1", ip, "80"], { timeoutMs: 3_000 })).stdout.trim();
    const kubeconfigNode = `${kubeconfigPath}-node`;
    await client.request({
      method: "POST",
      path: "/api/v1/nodes",
      body: { apiVersion: "v1", kind: "Node", metadata: { name: "node" } },
    });
    const flags = [
      `--kubeconfig=${kubeconfigNode}`,
      "--hostname-override=node",
      `--proxy-mode=${mode}`,
      "--cluster-cidr=10.244.0.0/16",
      "--v=2",
      ...(values.compact ? ["--feature-gates=KubenodeNFTablesCompactLayout=true"] : []),
    ];
    const startMs = performance.now();
    const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
    // Run the binary as users do (its shebang sets V8 flags), unless flags are given explicitly.
    const proxy = node.spawn(
      nodeFlags.length > 0 ? [process.execPath, ...nodeFlags, MAIN, ...flags] : [MAIN, ...flags],
    );
    children.push(proxy);
    let logs = "";
    const syncMs: number[] = [];
    proxy.stderr?.on("data", (d: Buffer) => {
      const text = d.toString();
      for (const m of text.matchAll(/"Synced proxy rules" full=false .*elapsedMs=(\d+)/g))
        syncMs.push(Number(m[1]));
      logs += text;
      if (process.env.BENCH_VERBOSE) process.stderr.write(text);
      if (logs.length > 100_000) logs = logs.slice(-50_000);
    });
    const last = ips.get(names[N - 1]!)!;
    await waitFor(
      "the initial sync",
      async () => ((await request(last).catch(() => "")) === "ep1" ? true : undefined),
      {
        timeoutMs: 30 * 60_000,
        intervalMs: 250,
      },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${logs}`);
    });
    const initialMs = performance.now() - startMs;
    const rss = () => {
      const status = readFileSync(`/proc/${proxy.pid}/status`, "utf8");
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 };
    };
    const afterInitial = rss();
    process.stdout.write(
      `initial sync (proxy start -> last service reachable): ${(initialMs / 1000).toFixed(2)} s, RSS ${afterInitial.rssMiB.toFixed(0)} MiB\n`,
    );

    // K changes: one service at a time moves to ep2; latency = write -> traffic reaches ep2.
    const latencies: number[] = [];
    const picked = new Set<number>();
    while (latencies.length < K) {
      let i = Math.floor(Math.random() * N);
      while (picked.has(i)) i = (i + 1) % N;
      picked.add(i);
      const name = names[i]!;
      const ip = ips.get(name)!;
      const t = performance.now();
      await client.request({
        method: "PUT",
        path: `/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/${name}-1`,
        body: slice(name, [ep2.ip]),
      });
      for (;;) {
        if ((await request(ip).catch(() => "")) === "ep2") break;
        if (performance.now() - t > 120_000)
          throw new Error(`change of ${name} not programmed in 120 s\n${logs}`);
      }
      latencies.push(performance.now() - t);
      // Changes arrive at random moments relative to the sync loop (minSyncPeriod 1 s).
      await sleep(200 + Math.random() * 1300);
    }
    const end = rss();
    const metricsText = (await node.exec(["busybox", "wget", "-O", "-", "http://127.0.0.1:10249/metrics"]))
      .stdout;
    const gauge = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metricsText)?.[1] ?? Number.NaN);
    const p50 = pct(latencies, 50) / 1000;
    const p99 = pct(latencies, 99) / 1000;
    const summary = {
      mode: mode + (values.compact ? " (compact)" : ""),
      services: N,
      changes: K,
      p50Seconds: Number(p50.toFixed(3)),
      p99Seconds: Number(p99.toFixed(3)),
      maxSeconds: Number((Math.max(...latencies) / 1000).toFixed(3)),
      initialSyncSeconds: Number((initialMs / 1000).toFixed(2)),
      partialSyncP50Ms: syncMs.length ? pct(syncMs, 50) : undefined,
      partialSyncMaxMs: syncMs.length ? Math.max(...syncMs) : undefined,
      rssMiB: Number(end.rssMiB.toFixed(0)),
      heapUsedMiB: Number((gauge("nodejs_heap_size_used_bytes") / 2 ** 20).toFixed(0)),
      peakRssMiB: Number(end.hwmMiB.toFixed(0)),
    };
    process.stdout.write(
      `network programming latency, ${summary.mode}, ${N} services: p50 ${p50.toFixed(3)} s, p99 ${p99.toFixed(3)} s (${K} changes); RSS ${summary.rssMiB} MiB (peak ${summary.peakRssMiB} MiB)\n`,
    );
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    await bridge.close();
    client.close();
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await lab.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
