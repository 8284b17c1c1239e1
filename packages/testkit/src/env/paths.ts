import { mkdtemp } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** Cache shared by every run (built images), outside any repository: $KUBENODE_CACHE_DIR or ~/.cache/kubenode. */
export function cacheDir(...parts: string[]): string {
  const base =
    process.env.KUBENODE_CACHE_DIR ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kubenode");
  return join(base, ...parts);
}

/**
 * A fresh private directory for one component instance. The owner pid is in the name so a later
 * run can tell what a crashed run left behind. Kept short: unix socket paths are limited to 107 bytes.
 */
export function instanceDir(kind: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `kn-${kind}-${process.pid}-`));
}
