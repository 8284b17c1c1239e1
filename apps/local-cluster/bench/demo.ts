// Times the local cluster demo end to end, as a user runs it: the built bin, real processes, real
// containerd, kubectl. Prints the demo's own timings (it measures every wait) as one JSON line.
// Usage: node bench/demo.ts [--nodes N] [--virtual-nodes N]
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";

const main = join(import.meta.dirname, "..", "dist", "main.js");
const args = process.argv.slice(2);
const started = performance.now();
const load = loadavg()[0];
const child = spawn(process.execPath, [main, "demo", ...args], { stdio: ["ignore", "pipe", "inherit"] });
let out = "";
child.stdout.on("data", (d: Buffer) => {
  out += d.toString();
});
const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
const totalMs = Math.round(performance.now() - started);
if (code !== 0) {
  process.stderr.write(out);
  throw new Error(`the demo exited ${code}`);
}

/** Milliseconds of the first `<n> ms` / `<n> s` duration after `prefix` in the demo's output. */
function timing(prefix: string): number | undefined {
  const m = new RegExp(`${prefix}[^\\n]*?(\\d+(?:\\.\\d+)?) (ms|s)\\b`).exec(out);
  return m ? Math.round(Number(m[1]) * (m[2] === "s" ? 1000 : 1)) : undefined;
}
const step = (title: string) => timing(`${title}[^\\n]*\\n(?:      [^\\n]*\\n)*?      done in `);

process.stdout.write(
  `${JSON.stringify({
    args: args.join(" "),
    loadAverageAtStart: Number(load?.toFixed(1)),
    totalMs,
    containerdAndRegistryMs: step("private containerd"),
    nodesReadyAfterKubeletStartMs: timing("all nodes Ready"),
    kubeProxyHealthyAfterStartMs: timing("healthz answers on every node"),
    deploymentReadyAfterCreateMs: timing("3 pods Running and Ready"),
    clusterIPAnsweredAfterExposeMs: timing("ClusterIP answered"),
    fivePodsServingAfterScaleMs: timing("5 pods answer through the ClusterIP"),
    rollingUpdateMs: timing("rolled out in"),
    rollingUpdateFailedRequests: Number(/meanwhile \d+ requests answered, (\d+) failed/.exec(out)?.[1]),
    jobCompleteAfterCreateMs: timing("Job complete"),
    virtualNodesReadyMs: timing("all Ready"),
  })}\n`,
);
