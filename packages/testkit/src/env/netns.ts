import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestkitError } from "./errors.js";
import { type RunOptions, type RunResult, run, terminate, waitFor } from "./exec.js";
import {
  bridgeHostPort,
  exposeNamespacePort,
  type HostPortBridge,
  type NamespacePortExposure,
} from "./host-port-bridge.js";
import { INSTANCE_DIR, instanceDir, instanceOwner } from "./paths.js";
import { isOwnerAlive, isProcessAlive } from "./processes.js";

export interface NetworkLabOptions {
  /** Names of the hosts, one network namespace each (lower-case letters, digits, `-`; max 15). */
  hosts: readonly string[];
  /** IPv4 /24 of the lab, as its first three octets. Labs are isolated, so they may share one. Default "10.77.0". */
  ipv4Prefix?: string | undefined;
  /** Also give every host an IPv6 address in `fd77::/64` (or `ipv6Prefix`). Default false. */
  ipv6?: boolean | undefined;
  ipv6Prefix?: string | undefined;
  /**
   * A host that routes for the others: it forwards IPv4/IPv6 and every other host's default route
   * points at it (the shape of clients reaching Service IPs through a node).
   */
  gateway?: string | undefined;
}

/** One host of a lab: a network namespace with `eth0` on the lab's bridge. */
export interface LabHost {
  readonly name: string;
  /** The network namespace's name (for `ip netns exec`). */
  readonly netns: string;
  readonly ip: string;
  readonly ip6: string | undefined;
  /** Runs a command inside the namespace; rejects with its stderr on non-zero exit. */
  exec(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Starts a long-running process inside the namespace; `destroy()` kills it. */
  spawn(argv: readonly string[]): ChildProcess;
  /**
   * Makes the host's 127.0.0.1:`port` reachable at 127.0.0.1:`port` inside this namespace, which
   * cannot reach the host's loopback otherwise (an API server simulator for a node agent under
   * test, say). `pause()`/`resume()` take it down and up like an outage.
   */
  bridgeHostPort(port: number): Promise<HostPortBridge>;
  /**
   * The reverse of `bridgeHostPort`: makes `address:port` as seen inside this namespace (default
   * address 127.0.0.1) reachable from the host at 127.0.0.1:<returned port>. Connections are
   * dialled when they arrive, so the target may start listening later. For a process on the host
   * that must reach a server in the namespace, such as an API server simulator proxying
   * `kubectl logs` to a kubelet (its `kubeletDialer` option).
   */
  exposePort(port: number, address?: string): Promise<NamespacePortExposure>;
  /** Resolves once something in the namespace listens on this TCP port (IPv4 or IPv6). */
  waitForListening(port: number, timeoutMs?: number): Promise<void>;
}

/** Network namespaces joined by a bridge that itself lives in a namespace: nothing touches the host's network. */
export interface NetworkLab {
  readonly hosts: readonly LabHost[];
  /** The host called `name`; throws for an unknown name. */
  host(name: string): LabHost;
  /** Kills every process in the lab's namespaces and deletes the namespaces (and so the veths and bridge). */
  destroy(): Promise<void>;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,14}$/;
// Namespaces are named kn-<pid>-<seq>-<host>: the pid lets a later run remove what a crashed run left.
const PREFIX = "kn-";
let seq = 0;

async function listNetns(): Promise<string[]> {
  const { stdout } = await run(["ip", "netns", "list"]);
  return stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

async function deleteNetns(ns: string): Promise<void> {
  const { stdout } = await run(["ip", "netns", "pids", ns]).catch(() => ({ stdout: "" }));
  for (const pid of stdout.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  await run(["ip", "netns", "del", ns]).catch((err: TestkitError) => {
    if (!/No such file/.test(err.message)) throw err;
  });
}

// Each lab records the namespaces it made in an instance directory `kn-lab-<pid>-*` (netns.json),
// with its owner's pid and start time, so a sweep can tell a dead run's lab from a live one.
const NETNS_RECORD = "netns.json";

/**
 * Removes lab namespaces (and every process in them) left behind by processes that are gone: those
 * recorded by a lab whose owner died, and any `kn-<pid>-*` namespace whose pid no longer runs.
 */
export async function sweepStaleNetworkLabs(): Promise<string[]> {
  const stale = new Set<string>();
  const records: string[] = [];
  for (const entry of readdirSync(tmpdir())) {
    if (INSTANCE_DIR.exec(entry)?.[1] !== "lab") continue;
    const dir = join(tmpdir(), entry);
    const owner = instanceOwner(dir, entry);
    if (!owner || isOwnerAlive(owner)) continue;
    records.push(dir);
    try {
      for (const ns of JSON.parse(readFileSync(join(dir, NETNS_RECORD), "utf8")) as string[]) stale.add(ns);
    } catch {
      // died before recording any namespace
    }
  }
  const existing = await listNetns();
  for (const ns of existing) {
    const m = /^kn-(\d+)-/.exec(ns);
    if (m !== null && !isProcessAlive(Number(m[1]))) stale.add(ns);
  }
  const removed = [...stale].filter((ns) => existing.includes(ns));
  for (const ns of removed) await deleteNetns(ns);
  for (const dir of records) await rm(dir, { recursive: true, force: true });
  return removed.map((ns) => `network namespace ${ns}`);
}

/**
 * Creates a lab of network namespaces joined by a bridge, for tests whose traffic must really
 * cross a network (kube-proxy rules, port-forwarding). Needs root and iproute2.
 */
export async function createNetworkLab(options: NetworkLabOptions): Promise<NetworkLab> {
  const names = options.hosts;
  if (names.length === 0) throw new TestkitError("InvalidArgument", "a network lab needs at least one host");
  for (const n of names) {
    if (!NAME.test(n))
      throw new TestkitError("InvalidArgument", `invalid lab host name ${JSON.stringify(n)}`);
  }
  if (new Set(names).size !== names.length)
    throw new TestkitError("InvalidArgument", "lab host names must be unique");
  if (options.gateway !== undefined && !names.includes(options.gateway)) {
    throw new TestkitError(
      "InvalidArgument",
      `gateway ${JSON.stringify(options.gateway)} is not one of the hosts`,
    );
  }
  if (names.length > 200) throw new TestkitError("InvalidArgument", "at most 200 hosts fit the lab's /24");
  const v4 = options.ipv4Prefix ?? "10.77.0";
  const v6 = options.ipv6Prefix ?? "fd77::";
  await sweepStaleNetworkLabs();

  const base = `${PREFIX}${process.pid}-${seq++}`;
  const switchNs = `${base}-sw`;
  const record = await instanceDir("lab");
  const created: string[] = [];
  // Recorded before each namespace exists, so a run killed mid-creation is still swept.
  const addNetns = async (ns: string) => {
    created.push(ns);
    writeFileSync(join(record, NETNS_RECORD), JSON.stringify(created));
    await run(["ip", "netns", "add", ns]);
  };
  const children = new Set<ChildProcess>();
  const bridges = new Set<HostPortBridge | NamespacePortExposure>();

  const inNs = (ns: string, argv: readonly string[], opts?: RunOptions) =>
    run(["ip", "netns", "exec", ns, ...argv], opts);

  const hosts: LabHost[] = names.map((name, i) => {
    const netns = `${base}-${name}`;
    const host: LabHost = {
      name,
      netns,
      ip: `${v4}.${10 + i}`,
      ip6: options.ipv6 ? `${v6}${(10 + i).toString(16)}` : undefined,
      exec: (argv, opts) => inNs(netns, argv, opts),
      spawn: (argv) => {
        const child = spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
        children.add(child);
        child.once("exit", () => children.delete(child));
        return child;
      },
      bridgeHostPort: async (port) => {
        const bridge = await bridgeHostPort(port, host.spawn, (p) => host.waitForListening(p));
        bridges.add(bridge);
        return bridge;
      },
      exposePort: async (port, address = "127.0.0.1") => {
        if (!Number.isInteger(port) || port < 1 || port > 65535)
          throw new TestkitError("InvalidArgument", `exposePort: port must be 1-65535, got ${port}`);
        if (isIP(address) === 0)
          throw new TestkitError(
            "InvalidArgument",
            `exposePort: ${JSON.stringify(address)} is not an IP address`,
          );
        const exposure = await exposeNamespacePort(address, port, host.spawn);
        bridges.add(exposure);
        return exposure;
      },
      waitForListening: async (port, timeoutMs = 10_000) => {
        const listening = new RegExp(`:${port}\\s.*LISTEN`);
        await waitFor(
          `a listener on ${name}:${port}`,
          async () =>
            listening.test((await inNs(netns, ["busybox", "netstat", "-ltn"])).stdout) ? true : undefined,
          { timeoutMs },
        );
      },
    };
    return host;
  });

  const destroy = async () => {
    await Promise.all([...bridges].map((b) => b.close()));
    bridges.clear();
    await Promise.all([...children].map((c) => terminate(c, 1_000)));
    const errors: string[] = [];
    for (const ns of [...created].reverse()) {
      await deleteNetns(ns).catch((err: unknown) => errors.push(`${ns}: ${TestkitError.from(err).message}`));
    }
    created.length = 0;
    await rm(record, { recursive: true, force: true });
    if (errors.length > 0)
      throw new TestkitError("CleanupFailed", `network lab teardown: ${errors.join("; ")}`);
  };

  try {
    await addNetns(switchNs);
    await run(["ip", "-n", switchNs, "link", "add", "br0", "type", "bridge"]);
    await run(["ip", "-n", switchNs, "link", "set", "br0", "up"]);
    for (const [i, h] of hosts.entries()) {
      await addNetns(h.netns);
      // Both veth ends are created straight inside their namespaces: no interface ever appears on the host.
      await run([
        "ip",
        "link",
        "add",
        "eth0",
        "netns",
        h.netns,
        "type",
        "veth",
        "peer",
        "name",
        `p${i}`,
        "netns",
        switchNs,
      ]);
      await run(["ip", "-n", switchNs, "link", "set", `p${i}`, "master", "br0", "up"]);
      await run(["ip", "-n", h.netns, "link", "set", "lo", "up"]);
      await run(["ip", "-n", h.netns, "addr", "add", `${h.ip}/24`, "dev", "eth0"]);
      if (h.ip6) await run(["ip", "-n", h.netns, "addr", "add", `${h.ip6}/64`, "dev", "eth0", "nodad"]);
      await run(["ip", "-n", h.netns, "link", "set", "eth0", "up"]);
    }
    const gw = hosts.find((h) => h.name === options.gateway);
    if (gw) {
      await gw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      if (gw.ip6) await gw.exec(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
      for (const h of hosts) {
        if (h === gw) continue;
        await run(["ip", "-n", h.netns, "route", "add", "default", "via", gw.ip]);
        if (h.ip6 && gw.ip6) await run(["ip", "-n", h.netns, "-6", "route", "add", "default", "via", gw.ip6]);
      }
    }
  } catch (err) {
    await destroy().catch(() => {});
    throw TestkitError.from(err);
  }

  return {
    hosts,
    host(name) {
      const h = hosts.find((x) => x.name === name);
      if (!h)
        throw new TestkitError(
          "InvalidArgument",
          `no lab host ${JSON.stringify(name)} (hosts: ${names.join(", ")})`,
        );
      return h;
    },
    destroy,
  };
}
