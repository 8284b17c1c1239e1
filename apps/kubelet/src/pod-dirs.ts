// The kubelet's per-pod directory, `<rootDir>/pods/<uid>` (kubelet_getters.go getPodDir): volumes,
// termination message files and the managed /etc/hosts live under it. The UID comes from the API
// server or a static pod file and becomes a path component, so it is checked first.

import { join } from "node:path";

/** What a pod UID may look like to become a directory name (UUIDs and static-pod hashes do). */
export const POD_UID = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/** `<rootDir>/pods/<uid>`; throws for a UID that could name another path. */
export function podDirectory(rootDir: string, uid: string | undefined): string {
  if (!uid || !POD_UID.test(uid))
    throw new Error(`pod UID ${JSON.stringify(uid ?? "")} is not usable as a directory name`);
  return join(rootDir, "pods", uid);
}
