import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain ESM without types, by design (it must run on the oldest Node)
import { cacheRoot, ensureNode, isSupported, parseVersion } from "../lib.mjs";

const runMjs = join(import.meta.dirname, "..", "bin", "run.mjs");
const exec = promisify(execFile);

describe("version checks", () => {
  it("parses Node versions with or without the v", () => {
    expect(parseVersion("v24.21.0")).toEqual([24, 21, 0]);
    expect(parseVersion("22.19.3\n")).toEqual([22, 19, 3]);
    expect(() => parseVersion("banana")).toThrow(/not a Node version: "banana"/);
  });

  it("supports exactly the engines range >=22.19", () => {
    expect(isSupported("v20.20.2")).toBe(false);
    expect(isSupported("v22.18.9")).toBe(false);
    expect(isSupported("v22.19.0")).toBe(true);
    expect(isSupported("v23.0.0")).toBe(true);
    expect(isSupported("v24.21.0")).toBe(true);
  });

  it("keeps the cache outside the repository, overridable", () => {
    expect(cacheRoot({ KUBENODE_CACHE_DIR: "/x/y" })).toBe("/x/y");
    expect(cacheRoot({ XDG_CACHE_HOME: "/c" })).toBe("/c/kubenode");
  });

  it("uses an explicitly given runtime without looking further", () => {
    expect(ensureNode({ env: { KUBENODE_NODE_BIN: "/opt/node/bin" } })).toBe("/opt/node/bin");
  });
});

describe("bin/run.mjs", () => {
  it("runs the command under a supported Node, whatever runs the bootstrap", async () => {
    // The machine's own node may be older than 22.19 (Node 20 here): that is the case that matters.
    const hostNode = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;
    const { stdout } = await exec(hostNode, [runMjs, "--", "node", "-p", "process.version"], {
      env: { ...process.env, KUBENODE_NODE_BIN: "" },
      timeout: 300_000,
    });
    expect(isSupported(stdout.trim())).toBe(true);
  });

  it("prints a PATH line for a developer's shell", async () => {
    const { stdout } = await exec(process.execPath, [runMjs, "--print-env"]);
    expect(stdout).toMatch(/^export PATH=".+:.+"\n$/);
  });

  it("rejects unknown flags with exit code 2", async () => {
    const err = await exec(process.execPath, [runMjs, "--bogus"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/unknown flag --bogus/);
  });

  it("passes the command's exit status through", async () => {
    const err = await exec(process.execPath, [runMjs, "--", "node", "-e", "process.exit(7)"]).catch(
      (e: { code: number }) => e,
    );
    expect(err).toMatchObject({ code: 7 });
  });

  it("runs the command in the caller's directory", async () => {
    const empty = await mkdtemp(join(tmpdir(), "runtime-test-"));
    try {
      const { stdout } = await exec(
        process.execPath,
        [runMjs, "--", "node", "-e", "console.log(process.cwd())"],
        { cwd: empty },
      );
      expect(stdout.trim()).toBe(empty);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
