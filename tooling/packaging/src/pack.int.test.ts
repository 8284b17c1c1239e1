// What a user of the published packages gets, checked without the workspace around it: each public
// package is packed with `npm pack`, the tarballs are installed together into an empty project
// (external dependencies come from the registry, internal ones from the tarballs), then every
// entry point of the `exports` map is imported and every bin is run.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..", "..");

interface Manifest {
  name: string;
  private?: boolean;
  exports?: Record<string, unknown>;
  bin?: Record<string, string>;
}

async function publicPackages(): Promise<{ dir: string; manifest: Manifest }[]> {
  const { workspaces } = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    workspaces: string[];
  };
  const found: { dir: string; manifest: Manifest }[] = [];
  for (const pattern of workspaces) {
    const parent = join(root, pattern.replace(/\/\*$/, ""));
    for (const name of (await readdir(parent)).sort()) {
      const dir = join(parent, name);
      const manifest = await readFile(join(dir, "package.json"), "utf8").then(
        (t) => JSON.parse(t) as Manifest,
        () => undefined,
      );
      if (manifest && !manifest.private) found.push({ dir, manifest });
    }
  }
  return found;
}

const packages = await publicPackages();
// Bins run with the project's Node first on PATH, as `#!/usr/bin/env node` finds it.
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` };
let work = "";
let consumer = "";

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "kubenode-pack-"));
  consumer = join(work, "consumer");
  // Each public package as a tarball dependency, and as an override so that the ranges the packages
  // declare on each other resolve to the same tarballs: without it npm asks the registry for
  // `@kubenode/*` first (a 404 there, or a stall on a registry that hangs on unknown names).
  const tarballs: Record<string, string> = {};
  for (const { dir } of packages) {
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: dir, env });
    const [packed] = JSON.parse(stdout) as { name: string; filename: string }[];
    if (packed) tarballs[packed.name] = `file:${join(work, packed.filename)}`;
  }
  await run("mkdir", [consumer]);
  await writeFile(
    join(consumer, "package.json"),
    JSON.stringify({
      name: "consumer",
      version: "1.0.0",
      private: true,
      type: "module",
      dependencies: tarballs,
      overrides: tarballs,
    }),
  );
  await npmInstall(consumer);
}, 900_000);

/**
 * `npm install` in the consumer. External dependencies come from the registry, preferring what the
 * workspace's own install already cached, so the check does not depend on a fast registry; a stalled
 * request is retried briefly, then fails. On failure the error carries npm's request log, so the
 * fetch that stalled or was refused is named.
 */
async function npmInstall(cwd: string): Promise<void> {
  const args = ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=http"];
  const fetchLimits = ["--fetch-timeout=30000", "--fetch-retries=1", "--fetch-retry-maxtimeout=10000"];
  try {
    await run("npm", [...args, ...fetchLimits], { cwd, env, timeout: 420_000, maxBuffer: 64 << 20 });
  } catch (error) {
    const e = error as { killed?: boolean; code?: unknown; stderr?: string };
    const why = e.killed ? "killed after 7 minutes" : `exit code ${String(e.code)}`;
    const log = (e.stderr ?? "").trim().split("\n").slice(-40).join("\n");
    throw new Error(
      `npm install of the packed tarballs into an empty project failed (${why}); npm's last lines:\n${log}`,
    );
  }
}

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("published packages, installed from their tarballs into an empty project", () => {
  it("finds the public packages", () => {
    expect(packages.map((p) => p.manifest.name)).toEqual(
      expect.arrayContaining(["@kubenode/kube", "@kubenode/testkit"]),
    );
  });

  it("resolves every @kubenode dependency to a packed tarball, never to the registry", async () => {
    const lock = JSON.parse(await readFile(join(consumer, "package-lock.json"), "utf8")) as {
      packages: Record<string, { resolved?: string }>;
    };
    const internal = Object.entries(lock.packages).filter(([path]) =>
      path.includes("node_modules/@kubenode/"),
    );
    expect(internal.map(([path]) => path.replace(/^.*node_modules\//, "")).sort()).toEqual(
      packages.map((p) => p.manifest.name).sort(),
    );
    for (const [path, entry] of internal) expect(entry.resolved, path).toMatch(/^file:/);
  });

  for (const { manifest } of packages) {
    const subpaths = Object.keys(manifest.exports ?? { ".": "" }).filter((s) => s !== "./package.json");
    for (const sub of subpaths) {
      const specifier = sub === "." ? manifest.name : `${manifest.name}/${sub.slice(2)}`;
      it(`import("${specifier}") loads and exports named values`, async () => {
        const script = `const m = await import(${JSON.stringify(specifier)}); process.stdout.write(JSON.stringify(Object.keys(m)));`;
        const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
          cwd: consumer,
          env,
        });
        const names = JSON.parse(stdout) as string[];
        expect(names.length).toBeGreaterThan(0);
        expect(names).not.toContain("default");
      });
    }
    for (const bin of Object.keys(manifest.bin ?? {})) {
      it(`${bin} --help prints its usage and exits 0`, async () => {
        const { stdout, stderr } = await run(join(consumer, "node_modules", ".bin", bin), ["--help"], {
          cwd: consumer,
          env,
        });
        expect(`${stdout}${stderr}`).toMatch(/usage/i);
      });
    }
  }
});
