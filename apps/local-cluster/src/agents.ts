import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInstanceDir } from "@kubenode/testkit";

const require = createRequire(import.meta.url);

/** The built bin of a workspace package (`kubenode-kubelet`, `kubenode-proxy`), as npm would link it. */
export function workspaceBin(pkg: string, bin: string): string {
  const dir = dirname(require.resolve(`${pkg}/package.json`));
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    bin?: Record<string, string>;
  };
  const rel = manifest.bin?.[bin];
  if (!rel) throw new Error(`${pkg} has no bin ${bin}`);
  const path = join(dir, rel);
  if (!existsSync(path)) throw new Error(`${bin} is not built (${path} missing): run npx turbo run build`);
  return path;
}

/**
 * The Node.js flags a bin's shebang sets (`#!/usr/bin/env -S node --max-semi-space-size=2`), so an
 * agent started as `node <bin>` runs with the same V8 settings as when npm's link executes it.
 */
export function shebangNodeFlags(bin: string): string[] {
  const first = readFileSync(bin, "utf8").split("\n", 1)[0] ?? "";
  const m = /^#!\/usr\/bin\/env -S node((?: --[a-z0-9-]+(?:=[\w.-]+)?)*)\s*$/.exec(first);
  return m?.[1] ? m[1].trim().split(/\s+/) : [];
}

/** A node agent (kubelet, kube-proxy) running as its own process inside a node's network namespace. */
export interface Agent {
  /** `kubelet on kubenode-1`: how errors and progress name it. */
  readonly name: string;
  /** Its instance directory (named on its command line, so a sweep finds it if the demo dies). */
  readonly dir: string;
  /** Where its stdout and stderr go. */
  readonly logFile: string;
  readonly pid: number;
  /** Resolves with a message naming the agent and its log once it exits without being asked to. */
  readonly died: Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone and its directory removed. */
  stop(graceMs?: number): Promise<void>;
}

/** How to start an {@link Agent}. */
export interface AgentSpec {
  name: string;
  /** Instance directory kind, lower-case letters (`kubelet`, `proxy`). */
  kind: string;
  /** Named network namespace (`/run/netns/<netns>`) it runs in. */
  netns: string;
  /** The bin's path (a Node.js script). */
  bin: string;
  /** Its arguments, given the instance directory. */
  args: (dir: string) => string[] | Promise<string[]>;
  logFile: string;
}

/** The last lines of a log file, for error messages. */
export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Starts an agent: `nsenter --net` switches only the network namespace (mounts stay the host's,
 * as a node agent expects), then execs Node.js on the bin, so the process is the agent itself.
 * Output goes straight to the log file, which keeps being written even if the demo dies.
 */
export async function startAgent(spec: AgentSpec): Promise<Agent> {
  const dir = await createInstanceDir(spec.kind);
  const args = await spec.args(dir);
  const fd = openSync(spec.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(
      "nsenter",
      [
        `--net=/run/netns/${spec.netns}`,
        "--",
        process.execPath,
        ...shebangNodeFlags(spec.bin),
        spec.bin,
        ...args,
      ],
      {
        stdio: ["ignore", fd, fd],
      },
    );
  } finally {
    closeSync(fd);
  }
  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const died = exited.then(({ code, signal }) => {
    if (stopping) return new Promise<string>(() => {});
    const tail = logTail(spec.logFile);
    return `${spec.name} exited (${signal ?? `code ${code}`}); its log is ${spec.logFile}${tail ? `:\n${tail}` : ""}`;
  });
  return {
    name: spec.name,
    dir,
    logFile: spec.logFile,
    pid: child.pid ?? 0,
    died,
    async stop(graceMs = 10_000) {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
