import { type BackendOptions, resolveBackendOptions } from "./backend-options.js";
import { NetrulesError } from "./errors.js";
import { hashName } from "./hash.js";
import { cidrContains, type IPFamily, parseCidr, parseIPSloppy } from "./ip.js";
import {
  assertRuleSafe,
  type EndpointModel,
  type ProxyModel,
  type ServicePortModel,
  trafficRouting,
} from "./model.js";
import { NFACCT_CT_STATE_INVALID_DROPPED, NFACCT_LOCALHOST_NODEPORTS_ACCEPTED } from "./nfacct.js";
import { type PayloadChunks, TextBlocks, withPayload } from "./text-blocks.js";

/** Options of {@link createIptablesBackend}. */
export interface IptablesBackendOptions extends BackendOptions {
  /** CIDRs NodePorts listen on (--nodeport-addresses); empty means every local address. */
  nodePortAddresses?: readonly string[] | undefined;
  /**
   * Accept NodePort connections to 127.0.0.0/8 (IPv4 only). Default true, like kube-proxy. Needs
   * `net.ipv4.conf.all.route_localnet=1`, which alone would also let other hosts reach 127.0.0.1
   * (CVE-2020-8558): with this on, an IPv4 backend also writes kube-proxy's `KUBE-FIREWALL` rule
   * that drops traffic to 127.0.0.0/8 from non-loopback sources (see
   * {@link IPTABLES_KUBELET_JUMP_RULES}).
   */
  localhostNodePorts?: boolean | undefined;
  /**
   * The nfacct counters that exist in the namespace (`ensureNfacctCounters`): as upstream,
   * KUBE-FORWARD's INVALID drop counts into {@link NFACCT_CT_STATE_INVALID_DROPPED}, and IPv4
   * NodePorts on 127.0.0.0/8 get a rule of their own counting into
   * {@link NFACCT_LOCALHOST_NODEPORTS_ACCEPTED}. A counter not listed leaves its rule as it is
   * without nfacct (the rule set works the same; only the metric is missing). Default none.
   */
  nfacctCounters?: readonly string[] | undefined;
  /** Add --random-fully to MASQUERADE. Default true. */
  randomFully?: boolean | undefined;
  /** Above this many endpoints, endpoint rules carry no comments (kube-proxy's large cluster mode). Default 1000. */
  largeClusterEndpointsThreshold?: number | undefined;
}

/** Options of one sync. */
export interface SyncOptions {
  /** Rewrite every chain (otherwise only services that changed since the last sync). */
  full?: boolean | undefined;
  /**
   * nat chains that exist in the kernel (from `iptables-save -t nat`), so a full sync can delete
   * stale service chains this backend did not write itself (e.g. left by a previous process).
   */
  existingNatChains?: Iterable<string> | undefined;
}

/**
 * The result of one iptables sync: an `iptables-restore --noflush` payload (`*filter ... COMMIT`
 * then `*nat ... COMMIT`), as `payload` or as `chunks` to write one after the other.
 */
export interface IptablesSyncResult extends PayloadChunks {
  family: IPFamily;
  full: boolean;
  /** Service ports whose chains were (re)written. */
  changedServicePorts: number;
  /** Chains deleted by this payload. */
  deletedChains: string[];
  /** Number of lines in the payload. */
  lines: number;
}

/** Turns a proxy model into iptables-restore payloads, remembering what it wrote for partial syncs. */
export interface IptablesBackend {
  readonly family: IPFamily;
  /** Builds the payload that moves the kernel from the last sync's state to `model`. */
  sync(model: ProxyModel, options?: SyncOptions): IptablesSyncResult;
  /** Forgets what was written: the next sync is full. Call after a failed apply or a flushed ruleset. */
  invalidate(): void;
  /** The base-chain jump rules kube-proxy ensures exist (see {@link IPTABLES_JUMP_RULES}). */
  readonly jumpRules: readonly IptablesJumpRule[];
}

/** A rule in a built-in chain that jumps into one of ours. */
export interface IptablesJumpRule {
  table: "filter" | "nat";
  chain: string;
  args: readonly string[];
}

const KUBE_SERVICES = "KUBE-SERVICES";
const KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES";
const KUBE_NODEPORTS = "KUBE-NODEPORTS";
const KUBE_POSTROUTING = "KUBE-POSTROUTING";
const KUBE_MARK_MASQ = "KUBE-MARK-MASQ";
const KUBE_FORWARD = "KUBE-FORWARD";
const KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL";
/** Shared with kubelet, which writes an identical copy of its rule. */
const KUBE_FIREWALL = "KUBE-FIREWALL";

/**
 * Mirrors kube-proxy's localhost NodePort protection (pkg/proxy/iptables, issue 90259 /
 * CVE-2020-8558): route_localnet makes 127.0.0.0/8 routable, so new connections to it from
 * anywhere but loopback are dropped. Untouched: replies (ESTABLISHED, RELATED) and connections
 * DNATed to a loopback destination by the node itself.
 */
const KUBE_FIREWALL_RULE = `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`;

/** The chain kube-proxy creates in mangle (and nat, filter) to notice that someone flushed the ruleset. */
export const IPTABLES_CANARY_CHAIN = "KUBE-PROXY-CANARY";

function jump(table: "filter" | "nat", chain: string, target: string, comment: string, extra: string[] = []) {
  return { table, chain, args: ["-m", "comment", "--comment", comment, ...extra, "-j", target] };
}

const NEW = ["-m", "conntrack", "--ctstate", "NEW"];
/** Mirrors kube-proxy's iptablesJumpChains (plus POSTROUTING -> KUBE-POSTROUTING). */
export const IPTABLES_JUMP_RULES: readonly IptablesJumpRule[] = [
  jump("filter", "INPUT", KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", NEW),
  jump("filter", "FORWARD", KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", NEW),
  jump("filter", "INPUT", KUBE_NODEPORTS, "kubernetes health check service ports"),
  jump("filter", "FORWARD", KUBE_SERVICES, "kubernetes service portals", NEW),
  jump("filter", "OUTPUT", KUBE_SERVICES, "kubernetes service portals", NEW),
  jump("filter", "FORWARD", KUBE_FORWARD, "kubernetes forwarding rules"),
  jump("filter", "INPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", NEW),
  jump("filter", "OUTPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", NEW),
  jump("filter", "FORWARD", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", NEW),
  jump("nat", "OUTPUT", KUBE_SERVICES, "kubernetes service portals"),
  jump("nat", "PREROUTING", KUBE_SERVICES, "kubernetes service portals"),
  jump("nat", "POSTROUTING", KUBE_POSTROUTING, "kubernetes postrouting rules"),
];

/**
 * Mirrors kube-proxy's iptablesKubeletJumpChains: INPUT and OUTPUT jump to `KUBE-FIREWALL` first
 * (no comment, as kubelet writes them). Created like the other jumps, but left in place by
 * cleanup, as upstream does, because kubelet may own identical ones.
 */
export const IPTABLES_KUBELET_JUMP_RULES: readonly IptablesJumpRule[] = [
  { table: "filter", chain: "INPUT", args: ["-j", KUBE_FIREWALL] },
  { table: "filter", chain: "OUTPUT", args: ["-j", KUBE_FIREWALL] },
];

/** Chain-name hash of a service port: first 16 base32 chars of sha256(name + protocol). */
export function servicePortChainSuffix(servicePortName: string, protocol: string): string {
  return hashName(servicePortName + protocol.toLowerCase(), 16);
}

/** KUBE-SEP- chain name of one endpoint of a service port. */
export function endpointChainName(servicePortName: string, protocol: string, address: string): string {
  return `KUBE-SEP-${hashName(servicePortName + protocol.toLowerCase() + address, 16)}`;
}

/** True for per-service chains this backend owns (and may delete when stale). */
export function isServiceChainName(chain: string): boolean {
  return /^KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(chain);
}

/** Formats like Go's "%0.10f". */
function probability(n: number): string {
  return (1 / n).toFixed(10);
}

function quote(comment: string): string {
  return comment.includes(" ") ? `"${comment}"` : comment;
}

interface Ctx {
  masqMark: string;
  masqueradeAll: boolean;
  localCidr: string | undefined;
  nodeIPs: readonly string[];
  largeMode: boolean;
  /** Write the counted 127.0.0.0/8 NodePort rule (IPv4, localhost NodePorts, counter present). */
  localhostNodePortCounter: boolean;
}

/** Everything one service port contributes to a payload. */
interface ServiceRules {
  /** nat per-service chains (declared and rewritten when the service changed). */
  natChains: string[];
  natRules: string[];
  /** Lines of the global chains, rewritten every sync. */
  natServices: string[];
  natNodePorts: string[];
  filterServices: string[];
  filterExternal: string[];
  filterNodePorts: string[];
  filterFirewall: string[];
  endpointCount: number;
}

function genService(sp: ServicePortModel, ctx: Ctx): ServiceRules {
  // Comments and chain-name hashes are built from these names only (and canonical IPs / numbers).
  assertRuleSafe(sp);
  const proto = sp.protocol.toLowerCase();
  const name = sp.name;
  const suffix = servicePortChainSuffix(name, proto);
  const svcChain = `KUBE-SVC-${suffix}`;
  const svlChain = `KUBE-SVL-${suffix}`;
  const extChain = `KUBE-EXT-${suffix}`;
  const fwChain = `KUBE-FW-${suffix}`;
  const sep = new Map<EndpointModel, string>();
  for (const e of sp.reachableEndpoints) sep.set(e, endpointChainName(name, proto, e.address));
  const r: ServiceRules = {
    natChains: [],
    natRules: [],
    natServices: [],
    natNodePorts: [],
    filterServices: [],
    filterExternal: [],
    filterNodePorts: [],
    filterFirewall: [],
    endpointCount: sp.endpoints.length,
  };
  const comment = (text: string) => (ctx.largeMode ? "" : ` -m comment --comment ${quote(text)}`);
  const pp = `-m ${proto} -p ${proto}`;
  const port = sp.port;
  const hasEndpoints = sp.hasEndpoints;
  const {
    usesClusterPolicyChain,
    usesLocalPolicyChain,
    hasInternalEndpoints,
    hasExternalEndpoints,
    usesExternalChain: usesExternalTrafficChain,
    ...routing
  } = trafficRouting(sp);
  const internalTrafficChain = routing.internal === "local" ? svlChain : svcChain;
  const externalPolicyChain = routing.external === "local" ? svlChain : svcChain;
  // Mirrors kube-proxy: REJECT when there is no endpoint at all, DROP when only local ones are missing.
  const filterTarget = hasEndpoints ? "DROP" : "REJECT";
  const filterComment = quote(hasEndpoints ? `${name} has no local endpoints` : `${name} has no endpoints`);
  const usesFWChain = hasEndpoints && sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  const lbChain = usesFWChain ? fwChain : extChain;

  for (const e of sp.reachableEndpoints) r.natChains.push(sep.get(e)!);
  if (usesClusterPolicyChain) r.natChains.push(svcChain);
  if (usesLocalPolicyChain) r.natChains.push(svlChain);
  if (usesExternalTrafficChain) r.natChains.push(extChain);
  if (usesFWChain) r.natChains.push(fwChain);

  // ClusterIP.
  if (hasInternalEndpoints) {
    r.natServices.push(
      `-A ${KUBE_SERVICES} -m comment --comment ${quote(`${name} cluster IP`)} ${pp} -d ${sp.clusterIP} --dport ${port} -j ${internalTrafficChain}`,
    );
  } else {
    r.filterServices.push(
      `-A ${KUBE_SERVICES} -m comment --comment ${quote(hasEndpoints ? `${name} has no local endpoints` : `${name} has no endpoints`)} ${pp} -d ${sp.clusterIP} --dport ${port} -j ${hasEndpoints ? "DROP" : "REJECT"}`,
    );
  }
  // External IPs.
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) {
      r.natServices.push(
        `-A ${KUBE_SERVICES} -m comment --comment ${quote(`${name} external IP`)} ${pp} -d ${ip} --dport ${port} -j ${extChain}`,
      );
    }
    if (!hasExternalEndpoints) {
      r.filterExternal.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${filterComment} ${pp} -d ${ip} --dport ${port} -j ${filterTarget}`,
      );
    }
  }
  // LoadBalancer IPs.
  for (const ip of sp.loadBalancerIPs) {
    if (hasEndpoints) {
      r.natServices.push(
        `-A ${KUBE_SERVICES} -m comment --comment ${quote(`${name} loadbalancer IP`)} ${pp} -d ${ip} --dport ${port} -j ${lbChain}`,
      );
    }
    if (usesFWChain) {
      r.filterFirewall.push(
        `-A ${KUBE_PROXY_FIREWALL} -m comment --comment ${quote(`${name} traffic not accepted by ${fwChain}`)} ${pp} -d ${ip} --dport ${port} -j DROP`,
      );
    }
  }
  if (!hasExternalEndpoints) {
    for (const ip of sp.loadBalancerIPs) {
      r.filterExternal.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${filterComment} ${pp} -d ${ip} --dport ${port} -j ${filterTarget}`,
      );
    }
  }
  // NodePort.
  if (sp.nodePort !== 0) {
    if (hasEndpoints) {
      if (ctx.localhostNodePortCounter)
        r.natNodePorts.push(
          `-A ${KUBE_NODEPORTS} -m comment --comment ${quote(name)} ${pp} -d 127.0.0.0/8 --dport ${sp.nodePort} -m nfacct --nfacct-name ${NFACCT_LOCALHOST_NODEPORTS_ACCEPTED} -j ${extChain}`,
        );
      r.natNodePorts.push(
        `-A ${KUBE_NODEPORTS} -m comment --comment ${quote(name)} ${pp} --dport ${sp.nodePort} -j ${extChain}`,
      );
    }
    if (!hasExternalEndpoints) {
      r.filterExternal.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${filterComment} -m addrtype --dst-type LOCAL ${pp} --dport ${sp.nodePort} -j ${filterTarget}`,
      );
    }
  }
  if (sp.healthCheckNodePort !== 0) {
    r.filterNodePorts.push(
      `-A ${KUBE_NODEPORTS} -m comment --comment ${quote(`${name} health check node port`)} -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`,
    );
  }
  // Internal traffic masquerade.
  if (hasInternalEndpoints) {
    const args = `-A ${internalTrafficChain} -m comment --comment ${quote(`${name} cluster IP`)} ${pp} -d ${sp.clusterIP} --dport ${port}`;
    if (ctx.masqueradeAll) r.natRules.push(`${args} -j ${KUBE_MARK_MASQ}`);
    else if (ctx.localCidr) r.natRules.push(`${args} ! -s ${ctx.localCidr} -j ${KUBE_MARK_MASQ}`);
  }
  // External traffic.
  if (usesExternalTrafficChain) {
    if (!sp.externalPolicyLocal) {
      r.natRules.push(
        `-A ${extChain} -m comment --comment ${quote(`masquerade traffic for ${name} external destinations`)} -j ${KUBE_MARK_MASQ}`,
      );
    } else {
      if (ctx.localCidr) {
        r.natRules.push(
          `-A ${extChain} -m comment --comment ${quote(`pod traffic for ${name} external destinations`)} -s ${ctx.localCidr} -j ${svcChain}`,
        );
      }
      r.natRules.push(
        `-A ${extChain} -m comment --comment ${quote(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      );
      r.natRules.push(
        `-A ${extChain} -m comment --comment ${quote(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${svcChain}`,
      );
    }
    if (hasExternalEndpoints) r.natRules.push(`-A ${extChain} -j ${externalPolicyChain}`);
  }
  // Firewall (loadBalancerSourceRanges).
  if (usesFWChain) {
    const head = `-A ${fwChain} -m comment --comment ${quote(`${name} loadbalancer IP`)}`;
    let allowFromNode = false;
    for (const text of sp.loadBalancerSourceRanges) {
      r.natRules.push(`${head} -s ${text} -j ${extChain}`);
      const c = parseCidr(text);
      if (c && ctx.nodeIPs.some((ip) => cidrContains(c, ip))) allowFromNode = true;
    }
    if (allowFromNode)
      for (const ip of sp.loadBalancerIPs) r.natRules.push(`${head} -s ${ip} -j ${extChain}`);
    r.natRules.push(
      `-A ${fwChain} -m comment --comment ${quote(`other traffic to ${name} will be dropped by ${KUBE_PROXY_FIREWALL}`)}`,
    );
  }
  const toEndpoints = (chain: string, eps: EndpointModel[]) => {
    if (sp.affinityTimeoutSeconds !== undefined) {
      for (const e of eps) {
        const s = sep.get(e)!;
        r.natRules.push(
          `-A ${chain}${comment(`${name} -> ${e.address}`)} -m recent --name ${s} --rcheck --seconds ${sp.affinityTimeoutSeconds} --reap -j ${s}`,
        );
      }
    }
    eps.forEach((e, i) => {
      const stat =
        i < eps.length - 1 ? ` -m statistic --mode random --probability ${probability(eps.length - i)}` : "";
      r.natRules.push(`-A ${chain}${comment(`${name} -> ${e.address}`)}${stat} -j ${sep.get(e)!}`);
    });
  };
  if (usesClusterPolicyChain) toEndpoints(svcChain, sp.clusterEndpoints);
  if (usesLocalPolicyChain) toEndpoints(svlChain, sp.localEndpoints);
  for (const e of sp.reachableEndpoints) {
    const s = sep.get(e)!;
    const c = comment(name);
    r.natRules.push(`-A ${s}${c} -s ${e.ip} -j ${KUBE_MARK_MASQ}`);
    const recent = sp.affinityTimeoutSeconds !== undefined ? ` -m recent --name ${s} --set` : "";
    r.natRules.push(`-A ${s}${c}${recent} ${pp} -j DNAT --to-destination ${e.address}`);
  }
  return r;
}

/** The lines of the global chains a service contributes (rewritten every sync), kept per service. */
interface GlobalLines {
  natServices: string[];
  natNodePorts: string[];
  filterServices: string[];
  filterExternal: string[];
  filterNodePorts: string[];
  filterFirewall: string[];
}

interface CacheEntry {
  sp: ServicePortModel;
  global: GlobalLines;
}

function globalOf(r: ServiceRules): GlobalLines {
  return {
    natServices: r.natServices,
    natNodePorts: r.natNodePorts,
    filterServices: r.filterServices,
    filterExternal: r.filterExternal,
    filterNodePorts: r.filterNodePorts,
    filterFirewall: r.filterFirewall,
  };
}

/** Creates an iptables backend for one IP family. */
export function createIptablesBackend(options: IptablesBackendOptions = {}): IptablesBackend {
  const { family, masqMark, localCidr } = resolveBackendOptions(options);
  const nodePortCidrs = (options.nodePortAddresses ?? []).map((t) => {
    const c = parseCidr(t);
    if (!c) throw new NetrulesError("InvalidInput", `nodePortAddresses: invalid CIDR ${JSON.stringify(t)}`);
    return c;
  });
  // Node IPs reach rule text (NodePort destinations, nodeport-ips): only real addresses get there.
  const ipList = (list: readonly string[], what: string) =>
    list.map((t) => {
      const ip = parseIPSloppy(t);
      if (!ip) throw new NetrulesError("InvalidInput", `${what}: invalid IP ${JSON.stringify(t)}`);
      return ip.ip;
    });
  const nodeIPs = ipList(options.nodeIPs ?? [], "nodeIPs");
  const nodePortIPs = options.hostAddresses ? ipList(options.hostAddresses, "hostAddresses") : nodeIPs;
  const localhostNodePorts = options.localhostNodePorts ?? true;
  // IPv6 has no route_localnet hole: upstream writes the rule for IPv4 only.
  const localnetFirewall = family === "IPv4" && localhostNodePorts;
  const counters = new Set(options.nfacctCounters ?? []);
  const localhostNodePortCounter = localnetFirewall && counters.has(NFACCT_LOCALHOST_NODEPORTS_ACCEPTED);
  const invalidDrop = counters.has(NFACCT_CT_STATE_INVALID_DROPPED)
    ? `-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID -m nfacct --nfacct-name ${NFACCT_CT_STATE_INVALID_DROPPED} -j DROP`
    : `-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID -j DROP`;
  const randomFully = options.randomFully ?? true;
  const threshold = options.largeClusterEndpointsThreshold ?? 1000;

  // Only what partial syncs need survives a sync: the model object and the global-chain lines of
  // each service port. Per-service chains are regenerated on demand (from the old model object
  // when comparing), which keeps memory proportional to the model, not to the ruleset.
  let cache = new Map<string, CacheEntry>();
  let lastLargeMode: boolean | undefined;
  let valid = false;

  const nodePortTail = (): string[] => {
    const c = `-A ${KUBE_SERVICES} -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"`;
    const familyCidrs = nodePortCidrs.filter((x) => x.family === family);
    if (familyCidrs.length === 0) {
      let dest = "-m addrtype --dst-type LOCAL";
      if (family === "IPv6") dest += " ! -d ::1/128";
      else if (!localhostNodePorts) dest += " ! -d 127.0.0.0/8";
      return [`${c} ${dest} -j ${KUBE_NODEPORTS}`];
    }
    const out: string[] = [];
    for (const ip of nodePortIPs) {
      if (!familyCidrs.some((x) => cidrContains(x, ip))) continue;
      const loopback = family === "IPv6" ? ip === "::1" : ip.startsWith("127.");
      if (loopback && (family === "IPv6" || !localhostNodePorts)) continue;
      out.push(`${c} -d ${ip} -j ${KUBE_NODEPORTS}`);
    }
    return out;
  };

  return {
    family,
    jumpRules: IPTABLES_JUMP_RULES,
    invalidate() {
      valid = false;
    },
    sync(model, syncOptions = {}) {
      const ports = model.servicePorts.filter((sp) => sp.family === family);
      let totalEndpoints = 0;
      for (const sp of ports) totalEndpoints += sp.endpoints.length;
      const largeMode = totalEndpoints > threshold;
      const full = syncOptions.full === true || !valid || largeMode !== lastLargeMode;
      const ctx: Ctx = {
        masqMark,
        masqueradeAll: options.masqueradeAll ?? false,
        localCidr,
        nodeIPs,
        largeMode,
        localhostNodePortCounter,
      };
      const oldCtx: Ctx = { ...ctx, largeMode: lastLargeMode ?? largeMode };
      const next = new Map<string, CacheEntry>();
      // Per changed service: its chain declarations and rules, one string each, sealed into large
      // blocks as they come (see TextBlocks) so the per-line strings die young.
      const changedDecls = new TextBlocks();
      const changedRules = new TextBlocks();
      let changedCount = 0;
      const staleCandidates: string[] = [];
      /** The chains of changed services; made into a set only when some chain may be stale. */
      const activeChains: string[][] = [];
      for (const sp of ports) {
        const old = cache.get(sp.key);
        if (!full && old && old.sp === sp) {
          next.set(sp.key, old);
          continue;
        }
        const rules = genService(sp, ctx);
        if (old && old.sp !== sp) {
          const oldRules = genService(old.sp, oldCtx);
          if (!full && sameRules(oldRules, rules)) {
            // An equal result (a rebuilt but identical model) need not be rewritten.
            next.set(sp.key, { sp, global: old.global });
            continue;
          }
          for (const c of oldRules.natChains) staleCandidates.push(c);
        }
        activeChains.push(rules.natChains);
        next.set(sp.key, { sp, global: globalOf(rules) });
        changedCount++;
        if (rules.natChains.length > 0)
          changedDecls.push(rules.natChains.map((c) => `:${c} - [0:0]`).join("\n"), rules.natChains.length);
        if (rules.natRules.length > 0) changedRules.push(rules.natRules.join("\n"), rules.natRules.length);
      }
      for (const [k, old] of cache) {
        if (!next.has(k)) for (const c of genService(old.sp, oldCtx).natChains) staleCandidates.push(c);
      }
      if (syncOptions.existingNatChains)
        for (const c of syncOptions.existingNatChains) staleCandidates.push(c);
      let deletedChains: string[] = [];
      if (staleCandidates.length > 0) {
        const active = new Set(activeChains.flat());
        deletedChains = [...new Set(staleCandidates)]
          .filter((c) => isServiceChainName(c) && !active.has(c))
          .sort();
      }

      const out = new TextBlocks();
      const all = [...next.values()].map((e) => e.global);
      out.push("*filter");
      for (const c of [
        KUBE_SERVICES,
        KUBE_EXTERNAL_SERVICES,
        KUBE_FORWARD,
        KUBE_NODEPORTS,
        KUBE_PROXY_FIREWALL,
      ]) {
        out.push(`:${c} - [0:0]`);
      }
      if (localnetFirewall) {
        out.push(`:${KUBE_FIREWALL} - [0:0]`);
        out.push(KUBE_FIREWALL_RULE);
      }
      for (const r of all) for (const l of r.filterNodePorts) out.push(l);
      for (const r of all) for (const l of r.filterServices) out.push(l);
      for (const r of all) for (const l of r.filterExternal) out.push(l);
      out.push(invalidDrop);
      out.push(
        `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${masqMark}/${masqMark} -j ACCEPT`,
      );
      out.push(
        `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      );
      for (const r of all) for (const l of r.filterFirewall) out.push(l);
      out.push("COMMIT");

      out.push("*nat");
      for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ])
        out.push(`:${c} - [0:0]`);
      out.append(changedDecls);
      for (const c of deletedChains) out.push(`:${c} - [0:0]`);
      for (const r of all) for (const l of r.natServices) out.push(l);
      for (const l of nodePortTail()) out.push(l);
      for (const r of all) for (const l of r.natNodePorts) out.push(l);
      out.push(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${masqMark}/${masqMark} -j RETURN`);
      out.push(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${masqMark}`);
      out.push(
        `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${randomFully ? " --random-fully" : ""}`,
      );
      out.push(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${masqMark}`);
      out.append(changedRules);
      for (const c of deletedChains) out.push(`-X ${c}`);
      out.push("COMMIT");

      cache = next;
      lastLargeMode = largeMode;
      valid = true;
      return withPayload(
        { family, full, changedServicePorts: changedCount, deletedChains, lines: out.lines },
        out,
      );
    },
  };
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameRules(a: ServiceRules, b: ServiceRules): boolean {
  return (
    sameList(a.natChains, b.natChains) &&
    sameList(a.natRules, b.natRules) &&
    sameList(a.natServices, b.natServices) &&
    sameList(a.natNodePorts, b.natNodePorts) &&
    sameList(a.filterServices, b.filterServices) &&
    sameList(a.filterExternal, b.filterExternal) &&
    sameList(a.filterNodePorts, b.filterNodePorts) &&
    sameList(a.filterFirewall, b.filterFirewall)
  );
}
