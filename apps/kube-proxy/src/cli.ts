// The kubenode-proxy command: flags, then --version/--help/--cleanup/... or the proxy itself.
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { createLogger } from "@kubenode/kube";
import { stringify } from "yaml";
import { cleanupAll } from "./dataplanes.js";
import { ProxyError } from "./errors.js";
import { usage } from "./flags.js";
import { applySysctls, usableFamilies } from "./host.js";
import { loadOptions } from "./options.js";
import { startProxyServer } from "./proxy-server.js";
import { UPSTREAM_VERSION, VERSION } from "./version.js";

async function main(argv: readonly string[]): Promise<number> {
  const options = loadOptions(argv);
  const { flags, resolved } = options;
  if (flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`kubenode-proxy v${VERSION} (kube-proxy ${UPSTREAM_VERSION} compatible)\n`);
    return 0;
  }
  const log = createLogger({
    format: resolved.config.logging.format === "json" ? "json" : "text",
    verbosity: resolved.config.logging.verbosity,
    source: "proxy",
  });
  for (const w of options.warnings) log.warn(w);
  if (flags.writeConfigTo !== undefined) {
    writeFileSync(flags.writeConfigTo, stringify(resolved.config));
    log.info("Wrote configuration", { file: flags.writeConfigTo });
    return 0;
  }
  if (flags.cleanup) {
    const families = await usableFamilies(log);
    const done = await cleanupAll({ families, nodeIPs: [], log });
    log.info("Removed every rule kube-proxy installs", { modes: done.join(",") });
    return 0;
  }
  if (flags.initOnly) {
    // Sized like the server does (upstream: maxPerCore x runtime.NumCPU()), not for one CPU.
    await applySysctls(resolved, log, availableParallelism());
    log.info("Initialization done (--init-only)");
    return 0;
  }

  const server = await startProxyServer({
    config: resolved,
    log,
    ...(flags.master ? { master: flags.master } : {}),
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info("Shutting down; programmed rules stay in place", { signal: sig });
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await server.stop();
  return 0;
}

/** Runs the command; sets the process exit code (2 for invalid flags or configuration). */
export function runCli(argv: readonly string[]): Promise<void> {
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const e = ProxyError.from(err);
      process.stderr.write(`kubenode-proxy: ${e.message}\n`);
      process.exitCode = e.code === "InvalidFlag" || e.code === "InvalidConfig" ? 2 : 1;
    },
  );
}
