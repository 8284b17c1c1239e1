// List 10k pods with a field selector (what a kubelet's initial list looks like at scale).
// Usage: node --import ./bench/apiserver-ts-hook.ts bench/apiserver-list.ts [pods=10000] [nodes=100] [iterations=50]
import { call, fmt, percentile, startChildServer } from "./apiserver-common.js";

const pods = Number(process.argv[2] ?? 10_000);
const nodes = Number(process.argv[3] ?? 100);
const iterations = Number(process.argv[4] ?? 50);

const s = await startChildServer();
const seedStart = performance.now();
let created = 0;
const worker = async (): Promise<void> => {
  for (;;) {
    const i = created++;
    if (i >= pods) return;
    const r = await call(s, "POST", "/api/v1/namespaces/default/pods", {
      metadata: { name: `pod-${i}`, labels: { app: `app-${i % 10}` } },
      spec: {
        nodeName: `node-${i % nodes}`,
        containers: [
          {
            name: "c",
            image: "registry.example/app:1.0",
            resources: { requests: { cpu: "10m", memory: "16Mi" } },
          },
        ],
      },
    });
    if (r.status !== 201) throw new Error(`create pod: ${r.status} ${r.text}`);
  }
};
await Promise.all(Array.from({ length: 32 }, worker));
const seedSeconds = (performance.now() - seedStart) / 1000;

async function measure(path: string): Promise<{ p50: number; p99: number; items: number; bytes: number }> {
  const times: number[] = [];
  let items = 0;
  let bytes = 0;
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    const r = await call(s, "GET", path);
    times.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    bytes = r.text.length;
    items = (r.text.match(/"uid":/g) ?? []).length;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), items, bytes };
}

const field = await measure(`/api/v1/pods?fieldSelector=${encodeURIComponent("spec.nodeName=node-7")}`);
const label = await measure(
  `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent("app=app-3")}`,
);
const page = await measure("/api/v1/pods?limit=500");
const full = await measure("/api/v1/pods");
console.log(
  JSON.stringify({
    bench: "list-pods",
    pods,
    seedPodsPerSec: Math.round(pods / seedSeconds),
    fieldSelector: { items: field.items, p50Ms: fmt(field.p50, 2), p99Ms: fmt(field.p99, 2) },
    labelSelector: { items: label.items, p50Ms: fmt(label.p50, 2), p99Ms: fmt(label.p99, 2) },
    limit500: { items: page.items, p50Ms: fmt(page.p50, 2), p99Ms: fmt(page.p99, 2) },
    fullList: {
      items: full.items,
      megabytes: fmt(full.bytes / 1e6, 1),
      p50Ms: fmt(full.p50, 1),
      p99Ms: fmt(full.p99, 1),
    },
  }),
);
await s.stop();
