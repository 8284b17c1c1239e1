#!/usr/bin/env node
// Usage: node tooling/sea/build.mjs [--out DIR] [--measure] [AGENT...]
//   AGENT     kubenode-kubelet, kubenode-proxy (default: both)
//   --out     where the executables go (default: dist-sea/ at the repository root)
//   --measure also print each executable's size and start-up time next to `node <bin>`
//
// Builds the agents as Node.js single executable applications: one file that runs on a node
// without Node.js. esbuild bundles an agent's built bin with every dependency into one CommonJS
// file (Node 24's SEA entry is CommonJS), `node --experimental-sea-config` turns it into a blob,
// and postject injects the blob into a copy of the Node binary that runs this script. Run the
// workspace build first (`npx turbo run build`).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The agents: the workspace package whose bin each is, and the V8 flags its shebang sets. */
export const AGENTS = {
  // Both shebangs cap V8's young generation (see the kubelet's and kube-proxy's READMEs, Benchmark).
  "kubenode-kubelet": { pkg: "@kubenode/kubelet", execArgv: ["--max-semi-space-size=2"] },
  "kubenode-proxy": { pkg: "@kubenode/kube-proxy", execArgv: ["--max-semi-space-size=2"] },
};

// Node's own sentinel for the SEA blob resource (documented in Node's single-executable docs).
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** The built bin of a workspace package (its package.json `bin`). */
function binOf(agent) {
  const pkgJson = require.resolve(`${AGENTS[agent].pkg}/package.json`);
  const bin = JSON.parse(readFileSync(pkgJson, "utf8")).bin?.[agent];
  if (!bin) throw new Error(`${AGENTS[agent].pkg} has no bin ${agent}`);
  return join(dirname(pkgJson), bin);
}

/** Builds one agent's executable into `outDir`; returns its path. */
export async function buildExecutable(agent, outDir) {
  if (!(agent in AGENTS))
    throw new Error(`unknown agent ${JSON.stringify(agent)} (known: ${Object.keys(AGENTS).join(", ")})`);
  const { build } = await import("esbuild");
  const { inject } = await import("postject");
  const work = join(outDir, `.${agent}`);
  mkdirSync(work, { recursive: true });
  const bundle = join(work, "main.cjs");
  await build({
    entryPoints: [binOf(agent)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    legalComments: "none",
    logLevel: "error",
    // CommonJS has no import.meta: the executable stands where the ESM module would.
    define: { "import.meta.url": "__kubenode_sea_url" },
    banner: { js: 'const __kubenode_sea_url = require("node:url").pathToFileURL(process.execPath).href;' },
  });
  const blob = join(work, "sea.blob");
  const config = join(work, "sea-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      execArgv: AGENTS[agent].execArgv,
    }),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", config], { stdio: "pipe" });
  const exe = join(outDir, agent);
  rmSync(exe, { force: true });
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  await inject(exe, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
  rmSync(work, { recursive: true, force: true });
  return exe;
}

/** Median wall time in ms of `argv --version`, over `runs` runs. */
function startupMs(argv, runs = 7) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(argv[0], [...argv.slice(1), "--version"], { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${argv.join(" ")} --version exited ${r.status}`);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: "string" }, measure: { type: "boolean", default: false } },
  });
  const outDir = resolve(values.out ?? join(root, "dist-sea"));
  mkdirSync(outDir, { recursive: true });
  const rows = [];
  for (const agent of positionals.length ? positionals : Object.keys(AGENTS)) {
    const exe = await buildExecutable(agent, outDir);
    const sizeMiB = statSync(exe).size / 2 ** 20;
    process.stdout.write(`built ${exe} (${sizeMiB.toFixed(0)} MiB)\n`);
    if (values.measure) {
      rows.push(
        `| ${agent} | ${sizeMiB.toFixed(0)} MiB | ${startupMs([exe]).toFixed(0)} ms | ${startupMs([process.execPath, binOf(agent)]).toFixed(0)} ms |`,
      );
    }
  }
  if (rows.length) {
    process.stdout.write(
      `\n| agent | executable size | start-up (--version, median of 7) | node <bin> --version |\n|---|---|---|---|\n${rows.join("\n")}\n`,
    );
  }
}
