// Tests that run a package's binary use the dist/ that `npm test` builds first (turbo's test task
// depends on build). They never rebuild it themselves: tsup empties dist/ before writing, and
// other packages' tests (reliability, local-cluster) run the same binaries at the same time.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Path of `<packageDir>/<file>`; throws naming the fix when it is missing or older than any
 * non-test source under `<packageDir>/src`.
 * @param {string} packageDir
 * @param {string} [file]
 * @returns {string}
 */
export function builtBin(packageDir, file = "dist/main.js") {
  const bin = join(packageDir, file);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npx turbo run build)`);
  const builtMs = statSync(bin).mtimeMs;
  const src = join(packageDir, "src");
  const newer = readdirSync(src, { recursive: true, encoding: "utf8" }).find(
    (f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && statSync(join(src, f)).mtimeMs > builtMs,
  );
  if (newer) throw new Error(`${bin} is older than src/${newer}: rebuild (npx turbo run build)`);
  return bin;
}
