// RSS after importing each module in a fresh Node process: what embedding @kubernetes/client-node
// costs next to this package's own client. Run after `npm run build`: node bench/import-rss.mjs
import { execFileSync } from "node:child_process";

const cases = [
  ["nothing", ""],
  ["@kubenode/kube", "@kubenode/kube"],
  ["@kubernetes/client-node (package root)", "@kubernetes/client-node"],
];
const runs = 5;
const probe = (spec) =>
  `${spec ? `await import(${JSON.stringify(spec)});` : ""}` +
  "globalThis.gc?.(); const m = process.memoryUsage(); console.log(JSON.stringify({ rss: m.rss, heap: m.heapUsed }));";

console.log(`Node ${process.version}, median of ${runs} fresh processes`);
console.log("| import | RSS | heap used |\n|---|---|---|");
for (const [label, spec] of cases) {
  const samples = Array.from({ length: runs }, () =>
    JSON.parse(
      execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", probe(spec)], {
        cwd: new URL("..", import.meta.url),
        encoding: "utf8",
      }),
    ),
  );
  const median = (k) => samples.map((s) => s[k]).sort((a, b) => a - b)[Math.floor(runs / 2)];
  const mib = (b) => `${Math.round(b / 2 ** 20)} MiB`;
  console.log(`| ${label} | ${mib(median("rss"))} | ${mib(median("heap"))} |`);
}
