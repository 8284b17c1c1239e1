// A pod's DNS configuration for its sandbox, as upstream's pkg/kubelet/network/dns/dns.go builds it.
import type { Pod } from "../api.js";

/** Host resolver settings (from resolv.conf). */
export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/** The sandbox DNS config (CRI DNSConfig). */
export interface PodDnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** Cluster DNS settings of the kubelet (clusterDNS, clusterDomain). */
export interface ClusterDnsSettings {
  clusterDNS: readonly string[];
  clusterDomain: string;
}

// Upstream validation limits (apis/core/validation): 3 nameservers, 32 search domains of 2048 chars.
const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;
const MAX_SEARCH_CHARS = 2048;

/** Parses resolv.conf text: nameserver, search/domain and options lines. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    if (!line) continue;
    const [key, ...fields] = line.split(/\s+/);
    if (key === "nameserver" && fields[0]) out.nameservers.push(fields[0]);
    else if (key === "search" || key === "domain") {
      // Later search/domain lines replace earlier ones (resolv.conf(5)); "." alone is dropped and a
      // trailing dot removed, as upstream (1.3x) normalises host search entries.
      out.searches = fields.map((s) => (s.length > 1 ? s.replace(/\.$/, "") : s)).filter((s) => s !== ".");
    } else if (key === "options") out.options.push(...fields);
  }
  return out;
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function mergeOptions(base: readonly string[], extra: readonly { name: string; value?: string }[]): string[] {
  const byName = new Map<string, string>();
  for (const o of base) byName.set(o.split(":")[0] ?? o, o);
  for (const o of extra) byName.set(o.name, o.value === undefined ? o.name : `${o.name}:${o.value}`);
  return [...byName.values()];
}

function trimSearches(searches: string[]): string[] {
  const out: string[] = [];
  let chars = 0;
  for (const s of searches) {
    if (out.length >= MAX_SEARCHES || chars + s.length > MAX_SEARCH_CHARS) break;
    out.push(s);
    chars += s.length + 1;
  }
  return out;
}

/**
 * DNS config for `pod`'s sandbox. ClusterFirst (not host network) and ClusterFirstWithHostNet use
 * the cluster DNS servers with `<ns>.svc.<domain>`, `svc.<domain>`, `<domain>` plus the host's
 * search list and `ndots:5`; Default and ClusterFirst on the host network use the host's resolv.conf;
 * ClusterFirst without clusterDNS falls back to Default; None starts empty. `spec.dnsConfig` is merged
 * on top (options by name, pod's wins).
 */
export function podDnsConfig(pod: Pod, cluster: ClusterDnsSettings, host: ResolvConf): PodDnsConfig {
  const policy = pod.spec.dnsPolicy ?? "ClusterFirst";
  const ns = pod.metadata.namespace ?? "default";
  let servers: string[];
  let searches: string[];
  let options: string[];
  const useCluster =
    cluster.clusterDNS.length > 0 &&
    (policy === "ClusterFirstWithHostNet" || (policy === "ClusterFirst" && !pod.spec.hostNetwork));
  if (policy === "None") {
    servers = [];
    searches = [];
    options = [];
  } else if (useCluster) {
    const d = cluster.clusterDomain;
    servers = [...cluster.clusterDNS];
    searches = d ? [`${ns}.svc.${d}`, `svc.${d}`, d, ...host.searches] : [...host.searches];
    options = ["ndots:5"];
  } else {
    servers = [...host.nameservers];
    searches = [...host.searches];
    options = [...host.options];
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    servers.push(...(extra.nameservers ?? []));
    searches.push(...(extra.searches ?? []));
    options = mergeOptions(options, extra.options ?? []);
  }
  return {
    servers: dedupe(servers).slice(0, MAX_NAMESERVERS),
    searches: trimSearches(dedupe(searches)),
    options,
  };
}
