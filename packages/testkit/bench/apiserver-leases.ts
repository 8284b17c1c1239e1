// Lease renewal throughput: N simulated nodes renew their Lease with PUT at a fixed target rate.
// Usage: node --import ./bench/apiserver-ts-hook.ts bench/apiserver-leases.ts [nodes=1000] [rate=1000] [seconds=10]
import { call, fmt, percentile, serverCpuSeconds, startChildServer } from "./apiserver-common.js";

const nodes = Number(process.argv[2] ?? 1000);
const rate = Number(process.argv[3] ?? 1000);
const seconds = Number(process.argv[4] ?? 10);

const s = await startChildServer();
const leases: Record<string, unknown>[] = [];
for (let i = 0; i < nodes; i++) {
  const name = `node-${i}`;
  const r = await call(s, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString() },
  });
  if (r.status !== 201) throw new Error(`create lease: ${r.status} ${r.text}`);
  leases.push(JSON.parse(r.text));
}

// open loop: requests are issued on schedule whatever the latency (no coordinated omission)
let latencies: number[] = [];
let errors = 0;
let next = 0;
const warmup = rate * 2; // 2 s unmeasured: connection setup and JIT warm-up
const total = rate * seconds + warmup;
let started = performance.now();
let cpuStart = 0;
const inflight: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  if (i === warmup) {
    await Promise.all(inflight.splice(0));
    latencies = [];
    errors = 0;
    started = performance.now() - (i * 1000) / rate;
    cpuStart = serverCpuSeconds(s);
    s.resetServerStats();
  }
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const idx = next++ % nodes;
  const lease = leases[idx] as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  lease.spec = {
    ...lease.spec,
    renewTime: new Date()
      .toISOString()
      .replace("Z", "000Z")
      .replace(/\.(\d{6})\d*Z$/, ".$1Z"),
  };
  const t0 = performance.now();
  const name = lease.metadata.name as string;
  inflight.push(
    call(s, "PUT", `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`, lease).then(
      (r) => {
        latencies.push(performance.now() - due);
        void t0;
        if (r.status !== 200) errors++;
        else leases[idx] = JSON.parse(r.text);
      },
    ),
  );
  if (inflight.length > 2000) await Promise.all(inflight.splice(0, 1000));
}
await Promise.all(inflight);
const elapsed = (performance.now() - started) / 1000 - warmup / rate;
const serverCpuPercent = Math.round(((serverCpuSeconds(s) - cpuStart) / elapsed) * 100);
latencies.sort((a, b) => a - b);
const serverSide = await s.stop();
console.log(
  JSON.stringify({
    bench: "lease-updates",
    nodes,
    targetPerSec: rate,
    achievedPerSec: Math.round((total - warmup) / elapsed),
    errors,
    p50Ms: fmt(percentile(latencies, 50), 2),
    p99Ms: fmt(percentile(latencies, 99), 2),
    maxMs: fmt(latencies[latencies.length - 1]!, 2),
    serverCpuPercentOfOneCore: serverCpuPercent,
    serverSide,
  }),
);
