#!/usr/bin/env node
// Usage: node tooling/node-runtime/bin/run.mjs [--install] [--print-env] [--] COMMAND [ARGS...]
//   --install    make node_modules match package-lock.json first (npm ci, skipped when in sync)
//   --print-env  print `export PATH=...` for your shell instead of running anything
// Runs COMMAND with a Node >= 22.19 first on PATH, provisioning Node 24 when the host's is older.
import { spawnSync } from "node:child_process";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDependencies, ensureNode, pathWith } from "../lib.mjs";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const args = process.argv.slice(2);
let install = false;
let printEnv = false;
while (args.length > 0 && args[0].startsWith("--")) {
  const flag = args.shift();
  if (flag === "--") break;
  if (flag === "--install") install = true;
  else if (flag === "--print-env") printEnv = true;
  else {
    process.stderr.write(`run.mjs: unknown flag ${flag}\n`);
    process.exit(2);
  }
}

try {
  const bin = ensureNode();
  const env = { ...process.env, PATH: pathWith(bin), KUBENODE_NODE_BIN: bin };
  if (printEnv) {
    process.stdout.write(`export PATH=${JSON.stringify(`${bin}:${process.env.PATH}`)}\n`);
    process.exit(0);
  }
  if (install) ensureDependencies(repoRoot, env);
  if (args.length === 0) process.exit(0);
  const r = spawnSync(args[0], args.slice(1), { stdio: "inherit", env });
  if (r.error) throw r.error;
  process.exit(r.status ?? 128 + (constants.signals[r.signal] ?? 0));
} catch (err) {
  process.stderr.write(`kubenode: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
