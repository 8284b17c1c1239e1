#!/usr/bin/env node
// kubenode-local-cluster: brings a local cluster up on this machine from the kubenode blocks.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { sweepStaleInstances } from "@kubenode/testkit";
import { runDemo } from "./demo.js";

const USAGE = `Usage: kubenode-local-cluster demo [--down]

  demo          start an API server simulator, a private registry and containerd, register a node
                (status, lease, eviction signals), run a pod through CRI, show each with kubectl,
                then tear everything down
  demo --down   remove whatever an earlier run left behind (a run that was killed or whose
                teardown failed): its containerd, registry, kube-proxy, namespaces, mounts, files

Logs of the last run are kept in .kubenode/logs/ at the root of the npm workspace (else the
current directory).
`;

const print = (line: string) => process.stdout.write(`${line}\n`);

/** The npm workspace root above `dir` (where `npm run demo` is typed), else `dir` itself. */
function workspaceRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if ("workspaces" in JSON.parse(readFileSync(join(d, "package.json"), "utf8"))) return d;
    } catch {
      // no package.json here
    }
    if (dirname(d) === d) return dir;
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h", default: false },
      down: { type: "boolean", default: false },
    },
  });
  if (values.help || positionals[0] !== "demo" || positionals.length > 1) {
    process.stdout.write(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  if (values.down) {
    const removed = await sweepStaleInstances();
    print(removed.length > 0 ? `removed:\n  ${removed.join("\n  ")}` : "nothing left behind by earlier runs");
    return;
  }
  const logsDir = join(workspaceRoot(process.cwd()), ".kubenode", "logs");
  const interrupted = new AbortController();
  const stop = () => {
    if (interrupted.signal.aborted) process.exit(130);
    print("interrupted: finishing the current step, then tearing down (again to quit at once)");
    interrupted.abort();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  await runDemo({ logsDir, signal: interrupted.signal });
}

main().catch((err: unknown) => {
  process.stderr.write(`kubenode-local-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
