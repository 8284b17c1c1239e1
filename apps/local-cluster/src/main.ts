#!/usr/bin/env node
// kubenode-local-cluster: brings a local cluster up on this machine from the kubenode blocks.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { sweepStaleInstances } from "@kubenode/testkit";
import { runDemo } from "./demo.js";
import { MAX_NODES } from "./nodes.js";
import { removeStaleKubeconfig } from "./state.js";
import { MAX_VIRTUAL_NODES } from "./virtual-nodes.js";

const USAGE = `Usage: kubenode-local-cluster demo [--nodes N] [--keep] | demo --down

  demo            start the API server simulator, a registry and a node (a network namespace with
                  its own containerd, kubenode-kubelet and kubenode-proxy processes), write
                  .kubenode/kubeconfig, then show with kubectl: a Deployment, a Service answering
                  on its ClusterIP and NodePort, scaling, a rolling update, kubectl logs, exec and
                  port-forward, a Job;
                  then tear everything down
  --nodes N       N nodes (1-${MAX_NODES}), each with its own containerd and pod subnet, routed to each other
  --virtual-nodes N
                  add N simulated nodes (0-${MAX_VIRTUAL_NODES}): registered, reporting status and renewing
                  leases through @kubenode/node-status and @kubenode/heartbeat, with no runtime
  --keep          stay up after the walkthrough until Ctrl-C, for your own
                  kubectl --kubeconfig .kubenode/kubeconfig ...
  demo --down     remove whatever an earlier run left behind (a run that was killed or whose
                  teardown failed): its processes, containers, namespaces, mounts and files

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
      keep: { type: "boolean", default: false },
      nodes: { type: "string", default: "1" },
      "virtual-nodes": { type: "string", default: "0" },
    },
  });
  const nodes = Number(values.nodes);
  const virtualNodes = Number(values["virtual-nodes"]);
  const badNodes = !/^\d+$/.test(values.nodes) || nodes < 1 || nodes > MAX_NODES;
  const badVirtual = !/^\d+$/.test(values["virtual-nodes"]) || virtualNodes > MAX_VIRTUAL_NODES;
  if (badVirtual)
    process.stderr.write(
      `kubenode-local-cluster: --virtual-nodes wants 0 to ${MAX_VIRTUAL_NODES}, got ${JSON.stringify(values["virtual-nodes"])}\n`,
    );
  if (values.help || positionals[0] !== "demo" || positionals.length > 1 || badNodes || badVirtual) {
    if (badNodes)
      process.stderr.write(
        `kubenode-local-cluster: --nodes wants 1 to ${MAX_NODES}, got ${JSON.stringify(values.nodes)}\n`,
      );
    process.stdout.write(USAGE);
    if (!values.help || badNodes || badVirtual) process.exitCode = 2;
    return;
  }
  const stateDir = join(workspaceRoot(process.cwd()), ".kubenode");
  if (values.down) {
    const removed = await sweepStaleInstances();
    if (await removeStaleKubeconfig(stateDir))
      removed.push(`${join(stateDir, "kubeconfig")} (its server is gone)`);
    print(removed.length > 0 ? `removed:\n  ${removed.join("\n  ")}` : "nothing left behind by earlier runs");
    return;
  }
  const interrupted = new AbortController();
  const stop = () => {
    if (interrupted.signal.aborted) process.exit(130);
    print("interrupted: finishing the current step, then tearing down (again to quit at once)");
    interrupted.abort();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  await runDemo({ stateDir, nodes, virtualNodes, keep: values.keep, signal: interrupted.signal });
}

main().catch((err: unknown) => {
  process.stderr.write(`kubenode-local-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
