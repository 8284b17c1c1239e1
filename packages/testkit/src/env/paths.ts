import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { TestkitError } from "./errors.js";
import { processStartTime } from "./processes.js";

/** Cache shared by every run (built images), outside any repository: $KUBENODE_CACHE_DIR or ~/.cache/kubenode. */
export function cacheDir(...parts: string[]): string {
  const base =
    process.env.KUBENODE_CACHE_DIR ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kubenode");
  return join(base, ...parts);
}

/** Where a component instance's directory records the process that owns it. */
const OWNER_FILE = "owner.json";

/** The process that made an instance directory: its pid and start time (pids get reused). */
export interface InstanceOwner {
  pid: number;
  /** Start time of the process in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime: number | undefined;
}

/** Instance directories are `kn-<kind>-<owner pid>-<random>` in the temp dir. */
export const INSTANCE_DIR = /^kn-([a-z]+)-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * A fresh private directory for one component instance. The owner (pid and its start time) is
 * recorded in it, so a later run can tell what a crashed or killed run left behind. Kept short:
 * unix socket paths are limited to 107 bytes.
 */
export async function instanceDir(kind: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `kn-${kind}-${process.pid}-`));
  const owner: InstanceOwner = { pid: process.pid, startTime: processStartTime(process.pid) };
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner));
  return dir;
}

// Kinds with a sweep of their own, which a directory made for something else must not pose as.
const RESERVED_KINDS = new Set(["containerd", "lab"]);

/**
 * A private directory for a process you start yourself (a node agent under test, say), registered
 * like testkit's own components: `kn-<kind>-<pid>-*` in the temp dir, recording this process as
 * its owner. Put its path on the process's command line (a `--root-dir` or `--config` in it): once
 * this process is gone, `sweepStaleInstances()` (and `kubenode-testenv sweep`) kills every process
 * whose command line names the directory, unmounts what is mounted below it and removes it.
 * Remove it yourself when you stop the process normally. `kind`: lower-case letters, not
 * `containerd` or `lab`.
 */
export async function createInstanceDir(kind: string): Promise<string> {
  if (!/^[a-z]{1,20}$/.test(kind) || RESERVED_KINDS.has(kind)) {
    throw new TestkitError(
      "InvalidArgument",
      `invalid instance kind ${JSON.stringify(kind)}: want 1-20 lower-case letters, not ${[...RESERVED_KINDS].join(" or ")}`,
    );
  }
  return instanceDir(kind);
}

/** The owner recorded in an instance directory, falling back to the pid in its name. */
export function instanceOwner(dir: string, name: string): InstanceOwner | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8")) as InstanceOwner;
  } catch {
    const pid = INSTANCE_DIR.exec(name)?.[2];
    return pid === undefined ? undefined : { pid: Number(pid), startTime: undefined };
  }
}
