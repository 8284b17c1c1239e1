import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import type { IPFamily } from "@kubenode/netrules";
import type { ResolvedConfig } from "./config.js";
import type { Logger } from "./logger.js";

/** The node name: --hostname-override, else the host name (lower-cased, like upstream). */
export function nodeName(config: ResolvedConfig): string {
  const name = (config.config.hostnameOverride || hostname()).trim().toLowerCase();
  return name;
}

/** Node IPs: status.addresses (InternalIP first), else the IPs of this host's interfaces. */
export function nodeIPs(
  node: { status?: { addresses?: { type?: string; address?: string }[] } } | undefined,
): string[] {
  const fromNode = (node?.status?.addresses ?? [])
    .filter((a) => (a.type === "InternalIP" || a.type === "ExternalIP") && a.address && isIP(a.address))
    .map((a) => a.address!);
  if (fromNode.length > 0) return fromNode;
  const out: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal && !a.address.startsWith("fe80:")) out.push(a.address);
  }
  return out;
}

/** How long a probe (a family check, the nft table check) may run before it is killed. */
export const PROBE_TIMEOUT_MS = 10_000;

/**
 * The addresses of this host's network interfaces, loopback included (link-local IPv6 left out):
 * what upstream matches --nodeport-addresses CIDRs against (GetNodeIPs on the interfaces).
 */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.address.startsWith("fe80:")) out.push(a.address);
  }
  return out;
}

/** Runs a command (argument array, no shell); resolves with its exit code (-1 if killed). */
export async function runQuiet(argv: readonly string[], timeoutMs = PROBE_TIMEOUT_MS): Promise<number> {
  return (await runWithInput(argv, "", timeoutMs)).code;
}

/**
 * Runs a command (argument array, no shell) with `input` on stdin; resolves with exit code and
 * stderr. A command still running after `timeoutMs` is killed and resolves with code -1 and a
 * stderr saying so: a hung tool must not stall every later sync.
 */
export function runWithInput(
  argv: readonly string[],
  input: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stderr: err.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (timedOut) resolve({ code: -1, stderr: `${argv.join(" ")} did not finish within ${timeoutMs} ms` });
      else resolve({ code: code ?? -1, stderr });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

/** IP families whose iptables tool works here (upstream runs single-stack when the other is missing). */
export async function usableFamilies(log: Logger): Promise<IPFamily[]> {
  const out: IPFamily[] = [];
  if ((await runQuiet(["iptables", "-w", "-t", "nat", "-S", "OUTPUT"])) === 0) out.push("IPv4");
  if ((await runQuiet(["ip6tables", "-w", "-t", "nat", "-S", "OUTPUT"])) === 0) out.push("IPv6");
  else log.info("IPv6 iptables not usable; running single-stack IPv4");
  return out;
}

async function writeSysctl(log: Logger, name: string, value: string | number): Promise<void> {
  const path = `/proc/sys/${name.replace(/\./g, "/")}`;
  try {
    await writeFile(path, `${value}\n`);
    log.v(2, "Set sysctl", { name, value });
  } catch (err) {
    // Mirrors kube-proxy: some of these are read-only inside a non-initial network namespace.
    log.warn("Could not set sysctl", { name, value, reason: (err as Error).message });
  }
}

/** Applies conntrack settings and the sysctls kube-proxy needs (best effort, logged). */
export async function applySysctls(config: ResolvedConfig, log: Logger, cpus: number): Promise<void> {
  const ct = config.conntrack;
  if (ct.maxPerCore > 0) {
    const max = Math.max(ct.maxPerCore * cpus, ct.min);
    await writeSysctl(log, "net.netfilter.nf_conntrack_max", max);
  }
  const secs = (ms: number) => Math.round(ms / 1000);
  if (ct.tcpEstablishedTimeoutMs > 0)
    await writeSysctl(
      log,
      "net.netfilter.nf_conntrack_tcp_timeout_established",
      secs(ct.tcpEstablishedTimeoutMs),
    );
  if (ct.tcpCloseWaitTimeoutMs > 0)
    await writeSysctl(
      log,
      "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
      secs(ct.tcpCloseWaitTimeoutMs),
    );
  if (ct.tcpBeLiberal) await writeSysctl(log, "net.netfilter.nf_conntrack_tcp_be_liberal", 1);
  if (ct.udpTimeoutMs > 0)
    await writeSysctl(log, "net.netfilter.nf_conntrack_udp_timeout", secs(ct.udpTimeoutMs));
  if (ct.udpStreamTimeoutMs > 0)
    await writeSysctl(log, "net.netfilter.nf_conntrack_udp_timeout_stream", secs(ct.udpStreamTimeoutMs));
  // Mirrors kube-proxy: NodePorts on 127.0.0.1 need route_localnet (iptables mode only).
  if (config.mode === "iptables" && config.config.iptables.localhostNodePorts)
    await writeSysctl(log, "net.ipv4.conf.all.route_localnet", 1);
}

/** Sets this process's OOM score adjustment (best effort). */
export async function setOomScoreAdj(value: number, log: Logger): Promise<void> {
  try {
    await writeFile("/proc/self/oom_score_adj", String(value));
  } catch (err) {
    log.v(1, "Could not set oom_score_adj", { value, reason: (err as Error).message });
  }
}
