import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Runs the first ```ts (or ```js) block of a package's README the way a user would: as an ES module in a new
 * Node process started in the package's directory, so `@kubenode/*` imports resolve to the built
 * workspace packages. Type annotations are not stripped: README examples are plain JavaScript
 * that is also valid TypeScript.
 * @param {URL} packageDir the package's directory (ending in "/")
 * @param {{ timeoutMs?: number, env?: Record<string, string> }} [options] `env` is added to this
 *   process's environment (for examples that read one, such as a CRI endpoint)
 */
export function runReadmeExample(packageDir, options = {}) {
  const readme = readFileSync(new URL("README.md", packageDir), "utf8");
  const code = /```(?:ts|js)\n([\s\S]*?)```/.exec(readme)?.[1];
  if (code === undefined)
    throw new Error(`no \`\`\`ts block in ${fileURLToPath(new URL("README.md", packageDir))}`);
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    cwd: fileURLToPath(packageDir),
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    env: { ...process.env, ...options.env },
  });
  return { code, status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
