import { lookup } from "node:dns/promises";
import { readdirSync, readFileSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { isIP } from "node:net";
import { availableParallelism, networkInterfaces, hostname as osHostname, release } from "node:os";
import { NodeStatusError } from "./errors.js";
import type { AddressProvider, MachineInfo, MachineInfoProvider } from "./providers.js";
import type { NodeAddress } from "./types.js";

function readOr(path: string, fallback = ""): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return fallback;
  }
}

/** MemTotal of /proc/meminfo, in bytes. */
export function readMemTotalBytes(meminfo = readOr("/proc/meminfo")): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  if (!m) throw new NodeStatusError("ProviderFailed", "cannot find MemTotal in /proc/meminfo");
  return Number(m[1]) * 1024;
}

/** Preallocated hugepages: page size in bytes -> total bytes. */
export function readHugePages(root = "/sys/kernel/mm/hugepages"): Record<number, number> {
  const out: Record<number, number> = {};
  let entries: string[] = [];
  try {
    entries = readdirSync(root);
  } catch {
    return out;
  }
  for (const e of entries) {
    const m = /^hugepages-(\d+)kB$/.exec(e);
    if (!m) continue;
    const pageBytes = Number(m[1]) * 1024;
    const count = Number(readOr(`${root}/${e}/nr_hugepages`, "0"));
    out[pageBytes] = pageBytes * (Number.isFinite(count) ? count : 0);
  }
  return out;
}

/** PRETTY_NAME from os-release text. */
export function parseOsRelease(text: string): string {
  const m = /^PRETTY_NAME=(.*)$/m.exec(text);
  if (!m) return "Linux";
  return m[1]!.trim().replace(/^["']|["']$/g, "");
}

/** Node's arch spelled as Go's GOARCH, which is what Kubernetes labels use. */
export function goArch(arch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: "amd64",
    ia32: "386",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
    loong64: "loong64",
  };
  return map[arch] ?? arch;
}

/** Node's platform spelled as Go's GOOS. */
export function goOs(platform: string = process.platform): string {
  return platform === "win32" ? "windows" : platform;
}

/** Options of {@link createHostMachineInfoProvider}. */
export interface HostMachineInfoOptions {
  /** The directory whose filesystem is ephemeral storage; default /var/lib/kubelet, else /. */
  rootDir?: string | undefined;
}

/** Reads the real machine: CPUs, /proc/meminfo, hugepages, statfs, machine-id, DMI UUID, boot id. */
export function createHostMachineInfoProvider(options: HostMachineInfoOptions = {}): MachineInfoProvider {
  return {
    async machineInfo(): Promise<MachineInfo> {
      let ephemeralStorageBytes: number | undefined;
      for (const dir of options.rootDir ? [options.rootDir] : ["/var/lib/kubelet", "/"]) {
        try {
          const s = await statfs(dir);
          ephemeralStorageBytes = s.blocks * s.bsize;
          break;
        } catch {
          // try the next candidate
        }
      }
      return {
        cpuCores: availableParallelism(),
        memoryBytes: readMemTotalBytes(),
        hugePagesBytes: readHugePages(),
        ephemeralStorageBytes,
        machineID: readOr("/etc/machine-id") || readOr("/var/lib/dbus/machine-id"),
        systemUUID: readOr("/sys/class/dmi/id/product_uuid").toLowerCase(),
        bootID: readOr("/proc/sys/kernel/random/boot_id"),
        kernelVersion: release(),
        osImage: parseOsRelease(readOr("/etc/os-release")),
        operatingSystem: goOs(),
        architecture: goArch(),
      };
    },
  };
}

/** Options of {@link createHostAddressProvider}. */
export interface HostAddressOptions {
  /** The node name (used for DNS lookup and the Hostname address). */
  nodeName: string;
  /** --node-ip: one IP, or one IPv4 and one IPv6 for dual-stack. */
  nodeIPs?: string[] | undefined;
  /** Hostname address to report; default the node name. */
  hostname?: string | undefined;
}

/** Interface of the IPv4 default route, from /proc/net/route. */
export function defaultRouteInterface(routeTable = readOr("/proc/net/route")): string | undefined {
  for (const line of routeTable.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === "00000000" && f[7] === "00000000") return f[0];
  }
  return undefined;
}

/** Interface of the IPv6 default route, from /proc/net/ipv6_route (for IPv6-only hosts). */
export function defaultRouteInterface6(routeTable = readOr("/proc/net/ipv6_route")): string | undefined {
  for (const line of routeTable.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && /^0{32}$/.test(f[0]!) && f[1] === "00" && f[9] !== "lo") return f[9];
  }
  return undefined;
}

function usable(ip: string): boolean {
  return (
    !/^127\./.test(ip) &&
    ip !== "::1" &&
    !/^fe80:/i.test(ip) &&
    !/^169\.254\./.test(ip) &&
    ip !== "0.0.0.0" &&
    ip !== "::"
  );
}

/**
 * Addresses like the kubelet without a cloud provider: --node-ip if given; else the hostname if it
 * is an IP; else the node name's DNS addresses (IPv4 first); else the default-route interface's
 * address. Always followed by a Hostname address.
 */
export function createHostAddressProvider(options: HostAddressOptions): AddressProvider {
  for (const ip of options.nodeIPs ?? []) {
    if (!isIP(ip))
      throw new NodeStatusError("InvalidArgument", `nodeIPs: ${JSON.stringify(ip)} is not an IP address`);
  }
  const families = (options.nodeIPs ?? []).map((ip) => isIP(ip));
  if (families.length > 2 || (families.length === 2 && families[0] === families[1])) {
    throw new NodeStatusError(
      "InvalidArgument",
      "nodeIPs: give one address, or one IPv4 and one IPv6 (dual-stack)",
    );
  }
  const hostname = options.hostname ?? options.nodeName;
  return {
    async addresses(): Promise<NodeAddress[]> {
      let ips: string[] = options.nodeIPs ?? [];
      if (ips.length === 0 && isIP(hostname)) ips = [hostname];
      if (ips.length === 0) {
        try {
          const found = await lookup(options.nodeName, { all: true });
          const good = found.map((a) => a.address).filter(usable);
          const v4 = good.find((a) => isIP(a) === 4);
          const v6 = good.find((a) => isIP(a) === 6);
          ips = [v4, v6].filter((x): x is string => Boolean(x)).slice(0, 1);
        } catch {
          // not resolvable: fall through to the default route
        }
      }
      if (ips.length === 0) {
        // IPv4 default route first, then IPv6 (like apimachinery's ChooseHostInterface).
        const v4If = defaultRouteInterface();
        const v6If = defaultRouteInterface6();
        const v4 = (v4If ? networkInterfaces()[v4If] : undefined)?.find(
          (a) => a.family === "IPv4" && usable(a.address),
        );
        const v6 = (v6If ? networkInterfaces()[v6If] : undefined)?.find(
          (a) => a.family === "IPv6" && usable(a.address),
        );
        ips = [v4?.address, v6?.address].filter((x): x is string => Boolean(x)).slice(0, 1);
      }
      return [
        ...ips.map((address): NodeAddress => ({ type: "InternalIP", address })),
        { type: "Hostname", address: hostname },
      ];
    },
  };
}

/** The machine's hostname, lowercased as kubelet does for the default node name. */
export function defaultNodeName(): string {
  return osHostname().toLowerCase();
}
