// The tests that run `kubenode-kubelet` as a process use the dist/ that `npm test` builds first
// (turbo's test task depends on build). They never rebuild it themselves: tsup empties dist/
// before writing, and other packages' tests (reliability, local-cluster) run this binary at the
// same time.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Path of the built binary; throws naming the fix when it is missing or older than the sources. */
export function builtBin(appDir: string, file = "dist/main.js"): string {
  const bin = join(appDir, file);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npx turbo run build)`);
  const builtMs = statSync(bin).mtimeMs;
  const newer = readdirSync(join(appDir, "src"), { recursive: true, encoding: "utf8" }).find(
    (f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && statSync(join(appDir, "src", f)).mtimeMs > builtMs,
  );
  if (newer) throw new Error(`${bin} is older than src/${newer}: rebuild (npx turbo run build)`);
  return bin;
}
