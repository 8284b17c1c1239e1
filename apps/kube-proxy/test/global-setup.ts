// Builds dist/main.js once before the end-to-end tests run the real binary.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  if (process.env.KUBENODE_TEST === "unit") return;
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const r = spawnSync("npx", ["tsup"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building kubenode-proxy (tsup) failed:\n${r.stdout}\n${r.stderr}`);
}
