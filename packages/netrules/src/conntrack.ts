import type { Clock } from "@kubenode/kube";
import { applyError, type CommandOptions, runCommand } from "./exec.js";
import type { IPFamily } from "./ip.js";
import type { ProxyModel, ServicePortModel } from "./model.js";

/** One `conntrack -D` selection. */
export interface ConntrackFilter {
  family: IPFamily;
  protocol: "udp" | "sctp";
  /** --orig-dst: the service IP the client used. */
  originalDestination?: string;
  /** --orig-port-dst: the service port or NodePort the client used. */
  originalPortDestination?: number;
  /** --dst-nat: the endpoint IP the flow was DNATed to. */
  dnatDestination?: string;
  /** Why this flow is stale, for logs. */
  reason: string;
}

function serviceIPs(sp: ServicePortModel): string[] {
  return [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs];
}

/**
 * Conntrack entries to delete after moving from `previous` to `next`, for UDP and SCTP (TCP
 * flows end on their own). Mirrors kube-proxy: flows DNATed to endpoints that went away; flows
 * to a service IP that no longer exists (ClusterIP changed or service deleted); and flows to a
 * service that had no endpoints and now has some (they were cached as rejected/unNATed).
 */
export function staleConntrackFilters(previous: ProxyModel | undefined, next: ProxyModel): ConntrackFilter[] {
  const out: ConntrackFilter[] = [];
  const nextByKey = new Map(next.servicePorts.map((sp) => [sp.key, sp]));
  const prevByKey = new Map((previous?.servicePorts ?? []).map((sp) => [sp.key, sp]));
  const proto = (sp: ServicePortModel) =>
    sp.protocol === "UDP" ? "udp" : sp.protocol === "SCTP" ? "sctp" : undefined;
  for (const old of prevByKey.values()) {
    const p = proto(old);
    if (!p) continue;
    const cur = nextByKey.get(old.key);
    if (cur === old) continue;
    const curIPs = new Set(cur ? serviceIPs(cur) : []);
    for (const ip of serviceIPs(old)) {
      if (!curIPs.has(ip) || cur?.port !== old.port) {
        out.push({
          family: old.family,
          protocol: p,
          originalDestination: ip,
          originalPortDestination: old.port,
          reason: `${old.name}: service IP ${ip} removed`,
        });
      }
    }
    const still = new Set((cur?.reachableEndpoints ?? []).map((e) => e.address));
    for (const e of old.reachableEndpoints) {
      if (still.has(e.address)) continue;
      for (const ip of serviceIPs(old)) {
        if (!curIPs.has(ip)) continue; // already cleared by IP
        out.push({
          family: old.family,
          protocol: p,
          originalDestination: ip,
          dnatDestination: e.ip,
          reason: `${old.name}: endpoint ${e.address} removed`,
        });
      }
      if (old.nodePort !== 0) {
        out.push({
          family: old.family,
          protocol: p,
          originalPortDestination: old.nodePort,
          dnatDestination: e.ip,
          reason: `${old.name}: endpoint ${e.address} removed (NodePort)`,
        });
      }
    }
  }
  for (const sp of nextByKey.values()) {
    const p = proto(sp);
    if (!p || sp.reachableEndpoints.length === 0) continue;
    const old = prevByKey.get(sp.key);
    if (old === sp || (old && old.reachableEndpoints.length > 0)) continue;
    for (const ip of serviceIPs(sp)) {
      out.push({
        family: sp.family,
        protocol: p,
        originalDestination: ip,
        originalPortDestination: sp.port,
        reason: `${sp.name}: first endpoints for ${ip}`,
      });
    }
    if (sp.nodePort !== 0) {
      out.push({
        family: sp.family,
        protocol: p,
        originalPortDestination: sp.nodePort,
        reason: `${sp.name}: first endpoints for NodePort`,
      });
    }
  }
  return out;
}

/** The argv of `conntrack -D` for one filter. */
export function conntrackDeleteArgs(f: ConntrackFilter): string[] {
  const args = ["conntrack", "-D", "-f", f.family === "IPv6" ? "ipv6" : "ipv4", "-p", f.protocol];
  if (f.originalDestination) args.push("--orig-dst", f.originalDestination);
  if (f.originalPortDestination !== undefined)
    args.push("--orig-port-dst", String(f.originalPortDestination));
  if (f.dnatDestination) args.push("--dst-nat", f.dnatDestination);
  return args;
}

/** Deletes conntrack entries, in the host or a network namespace. */
export interface ConntrackCleaner {
  /** Runs one `conntrack -D` per filter; resolves with the number of flows deleted. */
  clear(filters: readonly ConntrackFilter[], options?: { signal?: AbortSignal }): Promise<number>;
}

/** Creates a conntrack cleaner. */
export function createConntrackCleaner(
  options: { netns?: string | undefined; timeoutMs?: number | undefined; clock?: Clock | undefined } = {},
): ConntrackCleaner {
  return {
    async clear(filters, opts = {}) {
      let total = 0;
      const c: CommandOptions = {
        netns: options.netns,
        timeoutMs: options.timeoutMs,
        clock: options.clock,
        signal: opts.signal,
      };
      for (const f of filters) {
        const argv = conntrackDeleteArgs(f);
        const r = await runCommand(argv, undefined, c);
        const m = /(\d+) flow entries have been deleted/.exec(r.stderr);
        // conntrack exits 1 when nothing matched: not an error.
        if (r.code !== 0 && !(m && m[1] === "0")) throw applyError(argv.join(" "), r, undefined);
        total += m ? Number(m[1]) : 0;
      }
      return total;
    },
  };
}
