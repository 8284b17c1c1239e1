// Fleet benchmark: one process keeps N node leases fresh at the kubelet's 10 s renew interval.
// Reports the fleet process's CPU (cores) and RSS while steady, renewals per second and the
// oldest lease age at the end. The API endpoint runs in another process so only the fleet is
// measured. Usage:
//   node bench/fleet.ts [--nodes 10000] [--seconds 60] [--concurrency 64] [--server null|testkit]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createLeaseFleet } from "@kubenode/heartbeat";
import { createKubeClient, type KubeConnection, loadKubeConfig } from "@kubenode/kube";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "10000" },
    seconds: { type: "string", default: "60" },
    concurrency: { type: "string", default: "64" },
    server: { type: "string", default: "null" },
  },
});
const nodes = Number(values.nodes);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

/** CPU seconds used so far by another process (utime + stime from /proc). */
function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function startServer(): Promise<{
  connection: KubeConnection;
  stop: () => void;
  pid: number | undefined;
}> {
  const script = values.server === "testkit" ? "testkit-server.ts" : "lease-server.ts";
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${script} exited ${code}`)));
  });
  const info = JSON.parse(line) as { url?: string; caPem?: string; kubeconfigPath?: string };
  const connection: KubeConnection = info.kubeconfigPath
    ? loadKubeConfig({ path: info.kubeconfigPath })
    : { server: info.url!, caPem: info.caPem!, token: "bench" };
  return { connection, stop: () => child.kill("SIGTERM"), pid: child.pid };
}

const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const server = await startServer();
const client = createKubeClient(server.connection, { maxSockets: concurrency });
const names = Array.from({ length: nodes }, (_, i) => `sim-node-${i}`);
const fleet = createLeaseFleet({ client, nodeNames: names, concurrency, ownerReference: false });
const t0 = Date.now();
fleet.start();

// Warm-up: every lease created, then one full interval of renewals.
while (fleet.summary().renewals < nodes) await new Promise((r) => setTimeout(r, 200));
const createdMs = Date.now() - t0;
await new Promise((r) => setTimeout(r, 10_000));

const cpu0 = process.cpuUsage();
const serverCpu0 = cpuSecondsOf(server.pid);
const wall0 = process.hrtime.bigint();
const renew0 = fleet.summary().renewals;
let rssMax = 0;
let heapMax = 0;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  rssMax = Math.max(rssMax, m.rss);
  heapMax = Math.max(heapMax, m.heapUsed);
}, 500);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(sampler);
const cpu = process.cpuUsage(cpu0);
const serverCpu = cpuSecondsOf(server.pid) - serverCpu0;
const wallS = Number(process.hrtime.bigint() - wall0) / 1e9;
const s = fleet.summary();
let oldestAgeMs = 0;
for (const n of names) {
  const h = fleet.health(n);
  if (h?.lastRenewTimeMs) oldestAgeMs = Math.max(oldestAgeMs, Date.now() - h.lastRenewTimeMs);
}
await fleet.stop();
client.close();
server.stop();

const result = {
  server: values.server,
  nodes,
  concurrency,
  createAllSeconds: +(createdMs / 1000).toFixed(1),
  measuredSeconds: +wallS.toFixed(1),
  cpuCores: +((cpu.user + cpu.system) / 1e6 / wallS).toFixed(3),
  rssMaxMiB: Number(mib(rssMax)),
  heapUsedMaxMiB: Number(mib(heapMax)),
  renewalsPerSecond: +((s.renewals - renew0) / wallS).toFixed(0),
  serverCpuCores: +(serverCpu / wallS).toFixed(3),
  fresh: s.fresh,
  failures: s.failures,
  oldestLeaseAgeSeconds: +(oldestAgeMs / 1000).toFixed(1),
};
console.log(JSON.stringify(result, null, 2));
