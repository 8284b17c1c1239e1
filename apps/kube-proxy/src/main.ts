#!/usr/bin/env -S node --max-semi-space-size=2
// kubenode-proxy: the Kubernetes network proxy on @kubenode/netrules.
import { setFlagsFromString } from "node:v8";

// A small young generation keeps RSS close to the live heap: with V8's default semi-space size the
// proxy sat at ~280 MiB RSS for 10k Services (heap used ~120 MiB); with 2 MiB semi-spaces it is
// ~160 MiB at the same sync latency (see README, Benchmark). The shebang passes the flag when the
// binary is run directly; `node main.js` gets it here, before anything else allocates (less
// effective: part of the heap is already sized).
if (!process.execArgv.some((a) => a.startsWith("--max-semi-space-size")))
  setFlagsFromString("--max-semi-space-size=2");

const { runCli } = await import("./cli.js");
await runCli(process.argv.slice(2));
