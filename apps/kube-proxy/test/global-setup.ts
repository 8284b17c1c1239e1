// The end-to-end tests run the real binary from the dist/ that `npm test` builds first (turbo's test
// task depends on build). They never rebuild it: tsup empties dist/ before writing, and other
// packages' tests (reliability, local-cluster) run this binary at the same time.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  if (process.env.KUBENODE_TEST === "unit") return;
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const main = join(root, "dist", "main.js");
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (npx turbo run build)`);
  const builtMs = statSync(main).mtimeMs;
  const newer = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" }).find(
    (f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && statSync(join(root, "src", f)).mtimeMs > builtMs,
  );
  if (newer) throw new Error(`${main} is older than src/${newer}: rebuild (npx turbo run build)`);
}
