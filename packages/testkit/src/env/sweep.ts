import { readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sweepStaleContainerds } from "./containerd.js";
import { TestkitError } from "./errors.js";
import { waitFor } from "./exec.js";
import { sweepStaleNetworkLabs } from "./netns.js";
import { INSTANCE_DIR, instanceOwner } from "./paths.js";
import { isOwnerAlive, mountsUnder, pidsWithCmdline, unmountLazily } from "./processes.js";

/**
 * Removes a dead owner's instance directory of any other kind (registry, API server, host-port
 * bridge, demo logs): first every process whose command line names the directory (a registry
 * serving its config, a kube-proxy given its kubeconfig), then mounts under it, then the directory.
 */
async function sweepInstanceDir(dir: string): Promise<void> {
  for (const pid of pidsWithCmdline(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  await waitFor(`processes using ${dir} to exit`, () =>
    pidsWithCmdline(dir).length === 0 ? true : undefined,
  );
  for (const m of mountsUnder(dir)) await unmountLazily(m);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Finds and removes everything testkit instances left behind when the process that started them
 * died without stopping them (SIGKILL, a crash, a failed teardown): containerd daemons with their
 * shims, containers, pod network namespaces, mounts and bridges; registries; network labs with the
 * processes in them; API server, bridge and other instance directories. Only what testkit itself
 * recorded is touched (instance directories `kn-<kind>-<pid>-*` whose owner, by pid and start
 * time, is gone; lab namespaces `kn-<pid>-*`), never anything found by a process name.
 * Resolves to a line per thing removed; every item is tried even when one fails.
 */
export async function sweepStaleInstances(): Promise<string[]> {
  const removed: string[] = [];
  const errors: string[] = [];
  const attempt = async (what: string, fn: () => Promise<string[]>) => {
    try {
      removed.push(...(await fn()));
    } catch (err) {
      errors.push(`${what}: ${TestkitError.from(err).message}`);
    }
  };
  // Labs first: their namespaces hold the processes (kube-proxy, forwarders) that use the others.
  await attempt("network labs", sweepStaleNetworkLabs);
  await attempt("containerd", async () => (await sweepStaleContainerds()).map((d) => `containerd ${d}`));
  for (const entry of readdirSync(tmpdir())) {
    const kind = INSTANCE_DIR.exec(entry)?.[1];
    if (kind === undefined || kind === "containerd" || kind === "lab") continue;
    const dir = join(tmpdir(), entry);
    const owner = instanceOwner(dir, entry);
    if (!owner || isOwnerAlive(owner)) continue;
    await attempt(`${kind} ${dir}`, async () => {
      await sweepInstanceDir(dir);
      return [`${kind} ${dir}`];
    });
  }
  if (errors.length > 0) {
    throw new TestkitError(
      "CleanupFailed",
      `could not remove everything left behind:\n  ${errors.join("\n  ")}${removed.length ? `\nremoved:\n  ${removed.join("\n  ")}` : ""}`,
    );
  }
  return removed;
}
