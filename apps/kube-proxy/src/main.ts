#!/usr/bin/env -S node --max-semi-space-size=2
// kubenode-proxy: the Kubernetes network proxy on @kubenode/netrules.
//
// The shebang caps V8's young generation: with Node's default (semi-spaces of up to 64 MiB, no
// pointer compression) the proxy sat at ~280 MiB RSS for 10k Services with ~120 MiB of heap in use;
// with 2 MiB semi-spaces it is ~155 MiB at the same sync latency (see README, Benchmark). V8 sizes
// the young generation at startup, so `node main.js` must be given the flag on its command line;
// setting it from here (v8.setFlagsFromString) was measured to change nothing.

import { runCli } from "./cli.js";

// runCli never rejects (errors become the exit code). No top-level await: the single-executable
// build bundles this file as CommonJS.
void runCli(process.argv.slice(2));
