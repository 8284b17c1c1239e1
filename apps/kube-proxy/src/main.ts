#!/usr/bin/env node
// kubenode-proxy: the Kubernetes network proxy on @kubenode/netrules.
import { ProxyError } from "./errors.js";
import { usage } from "./flags.js";
import { loadOptions } from "./options.js";
import { UPSTREAM_VERSION, VERSION } from "./version.js";

async function main(argv: readonly string[]): Promise<number> {
  const options = loadOptions(argv);
  if (options.flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (options.flags.version) {
    process.stdout.write(`kubenode-proxy v${VERSION} (kube-proxy ${UPSTREAM_VERSION} compatible)\n`);
    return 0;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = ProxyError.from(err);
    process.stderr.write(`kubenode-proxy: ${e.message}\n`);
    process.exitCode = e.code === "InvalidFlag" || e.code === "InvalidConfig" ? 2 : 1;
  },
);
