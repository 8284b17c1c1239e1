// Runs one simulator in its own process (one event-loop thread = one core) for the benchmarks.
// Prints {"url","kubeconfig"} as one JSON line, then serves until killed.
import { startApiServer } from "../src/apiserver/server.js";

const server = await startApiServer({ port: 0, maxRequestRecords: 1000 });
process.stdout.write(`${JSON.stringify({ url: server.url, kubeconfig: server.kubeconfigText("admin") })}\n`);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
process.on("SIGTERM", () => {
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  if (process.env.KUBENODE_BENCH_CPU)
    process.stderr.write(
      `server cpu ${(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(0)}% of one core over ${(wallMs / 1000).toFixed(1)} s\n`,
    );
  void server.stop().then(() => process.exit(0));
});
