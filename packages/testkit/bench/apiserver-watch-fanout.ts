// Watch fan-out: 1 writer patches a ConfigMap, W watchers receive every event.
// Usage: node --import ./bench/apiserver-ts-hook.ts bench/apiserver-watch-fanout.ts [watchers=100] [events=2000] [rate=500]
import { request } from "node:https";
import { call, fmt, nowMs, percentile, serverCpuSeconds, startChildServer } from "./apiserver-common.js";

const watchers = Number(process.argv[2] ?? 100);
const events = Number(process.argv[3] ?? 2000);
const rate = Number(process.argv[4] ?? 500);

const s = await startChildServer();
await call(s, "POST", "/api/v1/namespaces/default/configmaps", {
  metadata: { name: "fan" },
  data: { t: "0" },
});
const latencies: number[] = [];
let delivered = 0;
let firstAt = 0;
let lastAt = 0;
const ready: Promise<void>[] = [];
const reqs: ReturnType<typeof request>[] = [];
for (let w = 0; w < watchers; w++) {
  ready.push(
    new Promise((resolve, reject) => {
      const u = new URL(
        "/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dfan&resourceVersion=1",
        s.url,
      );
      const req = request(
        { hostname: u.hostname, port: u.port, path: u.pathname + u.search, agent: s.streamAgent },
        (res) => {
          let buf = "";
          resolve();
          res.on("data", (d: Buffer) => {
            buf += d.toString();
            let i = buf.indexOf("\n");
            while (i >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              // cheap extraction instead of JSON.parse: the load generator must not be the bottleneck
              const at = line.indexOf('"t":"');
              const t = at >= 0 ? Number(line.slice(at + 5, line.indexOf('"', at + 5))) : 0;
              if (line.startsWith('{"type":"MODIFIED"') && t > 0) {
                const now = nowMs();
                latencies.push(now - t);
                delivered++;
                if (!firstAt) firstAt = now;
                lastAt = now;
              }
              i = buf.indexOf("\n");
            }
          });
        },
      );
      req.on("error", reject);
      req.end();
      reqs.push(req);
    }),
  );
}
await Promise.all(ready);
const started = performance.now();
const cpuStart = serverCpuSeconds(s);
const writes: Promise<unknown>[] = [];
for (let i = 0; i < events; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  writes.push(
    call(
      s,
      "PATCH",
      "/api/v1/namespaces/default/configmaps/fan",
      { data: { t: String(nowMs()) } },
      "application/merge-patch+json",
    ),
  );
}
await Promise.all(writes);
const deadline = Date.now() + 30_000;
while (delivered < watchers * events && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const serverCpuPercent = Math.round(
  ((serverCpuSeconds(s) - cpuStart) / ((performance.now() - started) / 1000)) * 100,
);
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    bench: "watch-fanout",
    watchers,
    writes: events,
    writeRatePerSec: rate,
    delivered,
    expected: watchers * events,
    deliveredEventsPerSec: Math.round(delivered / ((lastAt - firstAt) / 1000)),
    p50Ms: fmt(percentile(latencies, 50), 2),
    p99Ms: fmt(percentile(latencies, 99), 2),
    serverCpuPercentOfOneCore: serverCpuPercent,
  }),
);
for (const r of reqs) r.destroy();
await s.stop();
