#!/usr/bin/env node
// kubenode-local-cluster: brings a local cluster up on this machine from the kubenode blocks.
import { parseArgs } from "node:util";
import { runDemo } from "./demo.js";

const USAGE = `Usage: kubenode-local-cluster demo

  demo   start an API server simulator, a private registry and containerd, register a node
         (status, lease, eviction signals), run a pod through CRI, show each with kubectl,
         then tear everything down
`;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help || positionals[0] !== "demo") {
    process.stdout.write(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  await runDemo();
}

main().catch((err: unknown) => {
  process.stderr.write(`kubenode-local-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
