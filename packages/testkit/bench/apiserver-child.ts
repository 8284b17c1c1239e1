// Runs one simulator in its own process (one event-loop thread = one core) for the benchmarks.
// Prints {"url","kubeconfig"} as one JSON line, then serves until killed. It records how long it
// spent serving each request (server-side latency, free of load-generator stalls): SIGUSR1 resets
// the record, SIGTERM prints {"serverLatencyMs": {...}} as a last line and exits.
import { startApiServer } from "../src/apiserver/server.js";

let durations: number[] = [];
const server = await startApiServer({
  port: 0,
  maxRequestRecords: 1000,
  onRequest: (r) => {
    if (r.verb === "update" || r.verb === "patch") durations.push(r.durationMs);
  },
});
process.stdout.write(`${JSON.stringify({ url: server.url, kubeconfig: server.kubeconfigText("admin") })}\n`);
process.on("SIGUSR1", () => {
  durations = [];
});
process.on("SIGTERM", () => {
  const d = durations.sort((a, b) => a - b);
  const p = (q: number): number => d[Math.min(d.length - 1, Math.floor(q * d.length))] ?? Number.NaN;
  process.stdout.write(
    `${JSON.stringify({ serverLatencyMs: { count: d.length, p50: p(0.5).toFixed(3), p99: p(0.99).toFixed(3), max: (d[d.length - 1] ?? Number.NaN).toFixed(3) } })}\n`,
  );
  void server.stop().then(() => process.exit(0));
});
