import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { AGENTS, buildExecutable } from "../build.mjs";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const out = await mkdtemp(join(tmpdir(), "kubenode-sea-"));
afterAll(() => rm(out, { recursive: true, force: true }));

/** The agent's bin as `node <bin>` runs it from the workspace. */
function workspaceBin(agent: string): string {
  const { pkg } = (AGENTS as Record<string, { pkg: string }>)[agent] ?? { pkg: "" };
  const pkgJson = require.resolve(`${pkg}/package.json`);
  return join(dirname(pkgJson), (require(pkgJson) as { bin: Record<string, string> }).bin[agent] ?? "");
}

describe.each(Object.keys(AGENTS))("%s as a single executable", (agent) => {
  let exe = "";
  it("builds into one file with Node.js inside", async () => {
    exe = await buildExecutable(agent, out);
    expect((await stat(exe)).size).toBeGreaterThan(50 * 2 ** 20);
  }, 300_000);

  it("runs with no Node.js on PATH and answers --version and --help like `node <bin>`", async () => {
    const noNode = { PATH: "/nonexistent" };
    const version = await run(exe, ["--version"], { env: noNode });
    const expected = await run(process.execPath, [workspaceBin(agent), "--version"]);
    expect(version.stdout).toBe(expected.stdout);
    const help = await run(exe, ["--help"], { env: noNode });
    expect(help.stdout).toContain(`${agent}`);
    expect(help.stdout).toBe((await run(process.execPath, [workspaceBin(agent), "--help"])).stdout);
  });

  it("rejects an unknown flag with a non-zero exit naming it", async () => {
    const err = await run(exe, ["--no-such-flag"], { env: { PATH: "/nonexistent" } }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: expect.any(Number) });
    expect((err as { stderr: string }).stderr).toContain("no-such-flag");
  });
});
