// A snapshot of the host state that tests may create and must remove: network namespaces,
// bridges, mounts and processes of test instances, kube-proxy rules in the host's namespace, and
// the private directories of testkit instances. Compared before and after `npm test`.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";

function lines(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error || r.status !== 0) return [];
  return r.stdout.split("\n").filter(Boolean);
}

export function snapshotHostState() {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter(
      (m) =>
        m &&
        (m.startsWith(`${tmpdir()}/kn-`) || m.startsWith("/var/run/netns/") || m.startsWith("/run/netns/")),
    );
  const processes = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      } catch {
        return "";
      }
    })
    .filter((c) => c.includes(`${tmpdir()}/kn-`));
  return {
    "network namespaces": lines("ip", ["netns", "list"]).map((l) => l.split(" ")[0]),
    bridges: lines("ip", ["-o", "link", "show", "type", "bridge"]).map((l) => l.split(":")[1]?.trim()),
    mounts,
    processes,
    "testkit directories": readdirSync(tmpdir()).filter((e) => e.startsWith("kn-")),
    "KUBE- iptables chains": lines("iptables-save", []).filter((l) => l.startsWith(":KUBE-")),
    "nftables tables": lines("nft", ["list", "tables"]),
  };
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

// Test resources carry their owner's pid in their names (kn-<pid>-…, kn-containerd-<pid>-…).
// One whose owner still runs belongs to a process outside this test run, not to a finished test.
function ownedByLiveProcess(item) {
  const m = /-(\d{2,})-/.exec(item);
  return m !== null && Number(m[1]) !== process.pid && isAlive(Number(m[1]));
}

/** What `after` has that `before` did not, per kind (ignoring what live outside processes own). */
export function leaks(before, after) {
  const found = {};
  for (const [kind, items] of Object.entries(after)) {
    const had = new Set(before[kind] ?? []);
    const extra = items.filter((i) => !had.has(i) && !ownedByLiveProcess(i));
    if (extra.length > 0) found[kind] = extra;
  }
  return found;
}
