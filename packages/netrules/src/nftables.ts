import { type Clock, createRealClock } from "@kubenode/kube";
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
import { type PayloadChunks, TextBlocks, withPayload } from "./text-blocks.js";

/** Options of {@link createNftablesBackend}. */
export interface NftablesBackendOptions extends BackendOptions {
  /** Table name. Default "kube-proxy". */
  tableName?: string | undefined;
  /** Service CIDRs: traffic to unallocated ClusterIPs in them is dropped. */
  serviceCIDRs?: readonly string[] | undefined;
  /** CIDRs NodePorts listen on; empty means every local address but loopback. */
  nodePortAddresses?: readonly string[] | undefined;
  /**
   * "upstream" (default): kube-proxy's layout, service chains and one `endpoint-` chain per
   * endpoint.
   * "compact" (ours): plain services (no ClientIP affinity, Cluster traffic policies) have no
   * chain at all: `service-ips` / `service-nodeports` send them to a chain shared by every service
   * with the same endpoint count (`lb-N`, `lbx-N`, `lbnp-N`), which DNATs through one lookup of
   * (VIP, protocol, port, `numgen random mod N`) in the named map `flat-endpoints`. Services with a
   * Local traffic policy keep their service chains but DNAT through an anonymous `numgen` map;
   * only ClientIP affinity keeps upstream's per-endpoint chains and affinity sets. Hairpin
   * masquerade is one lookup in the `hairpin-endpoints` set. Same behaviour; at 10k plain services
   * the table holds ~20 chains instead of 110k, which keeps the nft CLI's per-run cache load small.
   */
  layout?: "upstream" | "compact" | undefined;
  /** Stale chains are flushed at once and deleted this long after (kernels before 6.2 need >= 1 s). Default 1000. */
  staleChainDelayMs?: number | undefined;
  /** Time for delayed chain deletion (`staleChainDelayMs`). Default: the wall clock. */
  clock?: Clock | undefined;
}

/**
 * The result of one nftables sync: an `nft -f -` transaction (atomic: all or nothing), as
 * `payload` or as `chunks` to write one after the other (the appliers do; no 40 MB join).
 */
export interface NftablesSyncResult extends PayloadChunks {
  family: IPFamily;
  full: boolean;
  changedServicePorts: number;
  /** Map/set elements added and deleted by this transaction. */
  elementsAdded: number;
  elementsDeleted: number;
  /** Chains deleted by this transaction (stale for at least staleChainDelayMs). */
  deletedChains: string[];
  lines: number;
}

/** The objects of a table as the kernel holds them (`nft list chains/sets/maps table ...`). */
export interface NftablesTableObjects {
  chains: readonly string[];
  sets: readonly string[];
  maps: readonly string[];
}

/** Options of one nftables sync. */
export interface NftablesSyncOptions {
  /** Rewrite everything (otherwise only what changed since the last sync). */
  full?: boolean | undefined;
  /**
   * For a full sync: what the table holds now. Given, the full transaction rewrites the table in
   * place, as kube-proxy does: rules, maps and our sets are flushed and refilled, stale chains
   * flushed (and deleted a delay later) and stale sets deleted, but the ClientIP affinity sets
   * still in use keep their entries, so clients stay on their endpoints across a restart or a
   * resync. Without it the table is deleted and created again (which empties them).
   */
  existing?: NftablesTableObjects | undefined;
}

/** Turns a proxy model into nft transactions, incremental after the first. */
export interface NftablesBackend {
  readonly family: IPFamily;
  readonly tableName: string;
  sync(model: ProxyModel, options?: NftablesSyncOptions): NftablesSyncResult;
  /** Forgets what was written: the next sync is full. Call after a failed apply. */
  invalidate(): void;
}

const PREFIX_LEN_MAX = 256 - 16;

/** Upstream's hashAndTruncate: "HASH8-name", truncated to fit nft's name limit. */
function hashAndTruncate(name: string): string {
  const out = `${hashName(name, 8)}-${name}`;
  return out.length > PREFIX_LEN_MAX ? `${out.slice(0, PREFIX_LEN_MAX - 3)}...` : out;
}

/** "ns/name/proto/port": what upstream hashes into a service port's chain names. */
function servicePortPart(sp: Pick<ServicePortModel, "namespace" | "serviceName" | "portName" | "protocol">) {
  return `${sp.namespace}/${sp.serviceName}/${sp.protocol.toLowerCase()}/${sp.portName}`;
}

/** The base of an endpoint's chain and affinity-set names, given its service port's part. */
function endpointChainBase(servicePart: string, ep: Pick<EndpointModel, "ip" | "port">): string {
  const ip = ep.ip.includes(":") ? ep.ip.replaceAll(":", ".") : ep.ip;
  return hashAndTruncate(`${servicePart}__${ip}/${ep.port}`);
}

/** The "HASH-ns/name/proto/port" base of a service port's chain names. */
export function nftServiceChainBase(
  sp: Pick<ServicePortModel, "namespace" | "serviceName" | "portName" | "protocol">,
): string {
  return hashAndTruncate(servicePortPart(sp));
}

/** The "HASH-ns/name/proto/port__ip/port" base of an endpoint's chain and affinity-set names. */
export function nftEndpointChainBase(
  sp: Pick<ServicePortModel, "namespace" | "serviceName" | "portName" | "protocol">,
  ep: Pick<EndpointModel, "ip" | "port">,
): string {
  return endpointChainBase(servicePortPart(sp), ep);
}

interface Element {
  set: string;
  key: string;
  value: string | undefined;
  comment: string | undefined;
}

interface AffinitySet {
  name: string;
  timeoutSeconds: number;
}

/** A chain and its rules, in the order they are written. */
type Chain = [name: string, rules: string[]];

interface ServiceObjects {
  chains: Chain[];
  elements: Element[];
  affinitySets: AffinitySet[];
  /** Compact layout: the endpoint count whose shared lb-N chains this service uses. */
  flatSize?: number;
}

interface Ctx {
  ipX: "ip" | "ip6";
  masqueradeAll: boolean;
  localCidr: string | undefined;
  nodeIPs: readonly string[];
  compact: boolean;
}

function dnatTarget(ep: EndpointModel): string {
  return ep.ip.includes(":") ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`;
}

/** The LB source-range filter of a service port, or undefined when it has none. */
function firewallRule(sp: ServicePortModel, ctx: Ctx): string | undefined {
  if (sp.loadBalancerIPs.length === 0 || sp.loadBalancerSourceRanges.length === 0) return undefined;
  const sources = [...sp.loadBalancerSourceRanges];
  // Mirrors kube-proxy: when a range covers a node IP, traffic the node sends to the LB IP is allowed.
  if (sp.loadBalancerSourceRanges.some((t) => ctx.nodeIPs.some((ip) => cidrContains(parseCidr(t)!, ip)))) {
    sources.push(...sp.loadBalancerIPs);
  }
  return `${ctx.ipX} saddr != { ${sources.join(", ")} } drop`;
}

/**
 * Compact layout: whether an endpoint's hairpin flow (to itself through its Service) can pass
 * through this node's rules, so that it needs masquerading here. Upstream masquerades it in every
 * endpoint chain; an endpoint named on another node sends through that node's rules, so only
 * local endpoints and those whose node is unknown (no nodeName: external or hand-made slices)
 * need an element, which keeps the set at the node's share of the cluster.
 */
function mayHairpinHere(e: EndpointModel): boolean {
  return e.local || e.nodeName === undefined || e.nodeName === "";
}

function genService(sp: ServicePortModel, ctx: Ctx): ServiceObjects {
  // Chain names and element comments are built from these names only (and canonical IPs / numbers).
  assertRuleSafe(sp);
  const { ipX } = ctx;
  const proto = sp.protocol.toLowerCase();
  const servicePart = servicePortPart(sp);
  const chains: Chain[] = [];
  const elements: Element[] = [];
  const affinitySets: AffinitySet[] = [];
  const el = (set: string, key: string, value?: string, comment?: string): void => {
    elements.push({ set, key, value, comment });
  };
  const key = (ip: string, port: number) => `${ip} . ${proto} . ${port}`;
  const fw = firewallRule(sp, ctx);
  // Hashed only when a chain needs it: plain services in the compact layout have none.
  const fwChain = fw === undefined ? "" : `firewall-${hashAndTruncate(servicePart)}`;
  const affinity = sp.affinityTimeoutSeconds !== undefined;
  // Compact layout, plain services (no affinity, Cluster traffic policies): no per-service chain at
  // all. The dispatch maps send the packet to a shared chain per endpoint count N, which picks the
  // endpoint with one lookup of (VIP, protocol, port, numgen random mod N) in a named map.
  if (
    ctx.compact &&
    !affinity &&
    !sp.internalPolicyLocal &&
    !sp.externalPolicyLocal &&
    sp.clusterEndpoints.length > 0 &&
    sp.usesClusterEndpoints
  ) {
    const eps = sp.clusterEndpoints;
    const n = eps.length;
    el("cluster-ips", sp.clusterIP);
    const vip = (ip: string, chain: string) => {
      const k = key(ip, sp.port);
      el("service-ips", k, `goto ${chain}-${n}`);
      for (let i = 0; i < n; i++) el("flat-endpoints", `${k} . ${i}`, `${eps[i]!.ip} . ${eps[i]!.port}`);
    };
    vip(sp.clusterIP, "lb");
    for (const ip of sp.externalIPs) vip(ip, "lbx");
    if (fw) chains.push([fwChain, [fw]]);
    for (const ip of sp.loadBalancerIPs) {
      vip(ip, "lbx");
      if (fw) el("firewall-ips", key(ip, sp.port), `goto ${fwChain}`, sp.name);
    }
    if (sp.nodePort !== 0) {
      el("service-nodeports", `${proto} . ${sp.nodePort}`, `goto lbnp-${n}`);
      for (let i = 0; i < n; i++)
        el("flat-nodeport-endpoints", `${proto} . ${sp.nodePort} . ${i}`, `${eps[i]!.ip} . ${eps[i]!.port}`);
    }
    for (const e of sp.reachableEndpoints)
      if (mayHairpinHere(e)) el("hairpin-endpoints", `${e.ip} . ${e.ip}`);
    return { chains, elements, affinitySets, flatSize: n };
  }

  const useEndpointChains = !ctx.compact || affinity;
  const base = hashAndTruncate(servicePart);
  const clusterChain = `service-${base}`;
  const localChain = `local-${base}`;
  const externalChain = `external-${base}`;
  const {
    usesClusterPolicyChain,
    usesLocalPolicyChain,
    hasInternalEndpoints: hasInternal,
    hasExternalEndpoints: hasExternal,
    usesExternalChain,
    ...routing
  } = trafficRouting(sp);
  const hasEndpoints = sp.hasEndpoints;
  // Mirrors kube-proxy: reject when there is no endpoint at all, drop when only local ones are missing.
  const noEndpointVerdict = hasEndpoints ? "drop" : "goto reject-chain";

  // Rules are pushed to these arrays directly: looking chains up by their (long, freshly built)
  // names was a third of the generation time at 10k services.
  const reachable = sp.reachableEndpoints;
  const endpointBases: string[] = [];
  const endpointRules: string[][] = [];
  if (useEndpointChains) {
    for (const e of reachable) {
      const b = endpointChainBase(servicePart, e);
      const rules: string[] = [];
      endpointBases.push(b);
      endpointRules.push(rules);
      chains.push([`endpoint-${b}`, rules]);
    }
  }
  /** The endpoint chain bases of `eps`, a subset of the reachable endpoints (usually all of them). */
  let index: Map<EndpointModel, number> | undefined;
  const basesOf = (eps: EndpointModel[]): string[] => {
    if (eps === reachable) return endpointBases;
    index ??= new Map(reachable.map((e, i) => [e, i]));
    return eps.map((e) => endpointBases[index!.get(e)!]!);
  };
  const clusterRules: string[] = [];
  const localRules: string[] = [];
  const externalRules: string[] = [];
  if (usesClusterPolicyChain) chains.push([clusterChain, clusterRules]);
  if (usesLocalPolicyChain) chains.push([localChain, localRules]);
  if (usesExternalChain) chains.push([externalChain, externalRules]);
  const internalRules = routing.internal === "local" ? localRules : clusterRules;
  const internalChain = routing.internal === "local" ? localChain : clusterChain;
  const externalPolicyChain = routing.external === "local" ? localChain : clusterChain;

  el("cluster-ips", sp.clusterIP);
  if (hasInternal) el("service-ips", key(sp.clusterIP, sp.port), `goto ${internalChain}`);
  else el("no-endpoint-services", key(sp.clusterIP, sp.port), noEndpointVerdict, sp.name);
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) el("service-ips", key(ip, sp.port), `goto ${externalChain}`);
    if (!hasExternal) el("no-endpoint-services", key(ip, sp.port), noEndpointVerdict, sp.name);
  }
  if (fw) chains.push([fwChain, [fw]]);
  for (const ip of sp.loadBalancerIPs) {
    if (hasEndpoints) el("service-ips", key(ip, sp.port), `goto ${externalChain}`);
    if (fw) el("firewall-ips", key(ip, sp.port), `goto ${fwChain}`, sp.name);
    if (!hasExternal) el("no-endpoint-services", key(ip, sp.port), noEndpointVerdict, sp.name);
  }
  if (sp.nodePort !== 0) {
    if (hasEndpoints) el("service-nodeports", `${proto} . ${sp.nodePort}`, `goto ${externalChain}`);
    if (!hasExternal) el("no-endpoint-nodeports", `${proto} . ${sp.nodePort}`, noEndpointVerdict, sp.name);
  }
  if (hasInternal) {
    const match = `${ipX} daddr ${sp.clusterIP} ${proto} dport ${sp.port}`;
    if (ctx.masqueradeAll) internalRules.push(`${match} jump mark-for-masquerade`);
    else if (ctx.localCidr)
      internalRules.push(`${match} ${ipX} saddr != ${ctx.localCidr} jump mark-for-masquerade`);
  }
  if (usesExternalChain) {
    if (!sp.externalPolicyLocal) externalRules.push("jump mark-for-masquerade");
    else {
      if (ctx.localCidr)
        externalRules.push(
          `${ipX} saddr ${ctx.localCidr} goto ${clusterChain} comment "short-circuit pod traffic"`,
        );
      externalRules.push(`fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"`);
      externalRules.push(`fib saddr type local goto ${clusterChain} comment "short-circuit local traffic"`);
    }
    if (hasExternal) externalRules.push(`goto ${externalPolicyChain}`);
  }
  if (affinity) {
    for (const b of endpointBases)
      affinitySets.push({ name: `affinity-${b}`, timeoutSeconds: sp.affinityTimeoutSeconds! });
  }
  const toEndpoints = (rules: string[], eps: EndpointModel[]) => {
    if (useEndpointChains) {
      const bases = basesOf(eps);
      if (affinity) for (const b of bases) rules.push(`${ipX} saddr @affinity-${b} goto endpoint-${b}`);
      let entries = "";
      for (let i = 0; i < bases.length; i++)
        entries += `${i === 0 ? "" : ", "}${i} : goto endpoint-${bases[i]!}`;
      rules.push(`numgen random mod ${eps.length} vmap { ${entries} }`);
    } else if (eps.length === 1) {
      rules.push(`meta l4proto ${proto} dnat to ${dnatTarget(eps[0]!)}`);
    } else {
      const entries = eps.map((e, i) => `${i} : ${e.ip} . ${e.port}`).join(", ");
      rules.push(`meta l4proto ${proto} dnat ${ipX} to numgen random mod ${eps.length} map { ${entries} }`);
    }
  };
  if (usesClusterPolicyChain) toEndpoints(clusterRules, sp.clusterEndpoints);
  if (usesLocalPolicyChain) toEndpoints(localRules, sp.localEndpoints);
  if (useEndpointChains) {
    for (let i = 0; i < reachable.length; i++) {
      const e = reachable[i]!;
      const rules = endpointRules[i]!;
      rules.push(`${ipX} saddr ${e.ip} jump mark-for-masquerade`);
      if (affinity) rules.push(`update @affinity-${endpointBases[i]!} { ${ipX} saddr }`);
      rules.push(`meta l4proto ${proto} dnat to ${dnatTarget(e)}`);
    }
  } else {
    for (const e of reachable) if (mayHairpinHere(e)) el("hairpin-endpoints", `${e.ip} . ${e.ip}`);
  }
  return { chains, elements, affinitySets };
}

const MAP_TYPES = (addr: string): [string, string, string][] => [
  ["cluster-ips", addr, "Active ClusterIPs"],
  ["nodeport-ips", addr, "IPs that accept NodePort traffic"],
  ["hairpin-endpoints", `${addr} . ${addr}`, "endpoints reaching themselves through a service"],
  [
    "service-ips",
    `${addr} . inet_proto . inet_service : verdict`,
    "ClusterIP, ExternalIP and LoadBalancer IP traffic",
  ],
  ["service-nodeports", "inet_proto . inet_service : verdict", "NodePort traffic"],
  [
    "no-endpoint-services",
    `${addr} . inet_proto . inet_service : verdict`,
    "vmap to drop or reject packets to services with no endpoints",
  ],
  [
    "no-endpoint-nodeports",
    "inet_proto . inet_service : verdict",
    "vmap to drop or reject packets to service nodeports with no endpoints",
  ],
  [
    "firewall-ips",
    `${addr} . inet_proto . inet_service : verdict`,
    "destinations that are subject to LoadBalancerSourceRanges",
  ],
];

function elementText(e: Element): string {
  return `${e.key}${e.comment ? ` comment ${JSON.stringify(e.comment)}` : ""}${e.value ? ` : ${e.value}` : ""}`;
}

interface ElementState {
  value: string | undefined;
  comment: string | undefined;
  refs: number;
}

/** Creates an nftables backend for one IP family. */
export function createNftablesBackend(options: NftablesBackendOptions = {}): NftablesBackend {
  const { family, masqMark: mark, localCidr } = resolveBackendOptions(options);
  const tableName = options.tableName ?? "kube-proxy";
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/.test(tableName))
    throw new NetrulesError("InvalidInput", `invalid table name ${JSON.stringify(tableName)}`);
  const ipX = family === "IPv4" ? "ip" : "ip6";
  const addr = family === "IPv4" ? "ipv4_addr" : "ipv6_addr";
  const nftFamily = ipX;
  const table = `${nftFamily} ${tableName}`;
  const cidrs = (list: readonly string[] | undefined, what: string) =>
    (list ?? []).map((t) => {
      const c = parseCidr(t);
      if (!c) throw new NetrulesError("InvalidInput", `${what}: invalid CIDR ${JSON.stringify(t)}`);
      return c;
    });
  const serviceCidrs = cidrs(options.serviceCIDRs, "serviceCIDRs").filter((c) => c.family === family);
  const nodePortCidrs = cidrs(options.nodePortAddresses, "nodePortAddresses").filter(
    (c) => c.family === family,
  );
  // Node IPs reach rule text (NodePort destinations, nodeport-ips): only real addresses get there.
  const ipList = (list: readonly string[], what: string) =>
    list.map((t) => {
      const ip = parseIPSloppy(t);
      if (!ip) throw new NetrulesError("InvalidInput", `${what}: invalid IP ${JSON.stringify(t)}`);
      return ip.ip;
    });
  const nodeIPs = ipList(options.nodeIPs ?? [], "nodeIPs");
  const nodePortIPs = options.hostAddresses ? ipList(options.hostAddresses, "hostAddresses") : nodeIPs;
  const ctx: Ctx = {
    ipX,
    masqueradeAll: options.masqueradeAll ?? false,
    localCidr,
    nodeIPs,
    compact: options.layout === "compact",
  };
  const delayMs = options.staleChainDelayMs ?? 1000;
  const clock = options.clock ?? createRealClock();
  const loopback = family === "IPv4" ? "127.0.0.0/8" : "::1";

  /** Compact layout: the shared chains of services with `n` endpoints, as [name, rules]. */
  const flatChains = (n: number): [string, string[]][] => {
    const dnat = (map: string, key: string) =>
      `meta l4proto { tcp, udp, sctp } dnat ${ipX} to ${key} . numgen random mod ${n} map @${map}`;
    const vipKey = `${ipX} daddr . meta l4proto . th dport`;
    const masq = ctx.masqueradeAll
      ? ["jump mark-for-masquerade"]
      : ctx.localCidr
        ? [`${ipX} saddr != ${ctx.localCidr} jump mark-for-masquerade`]
        : [];
    return [
      [`lb-${n}`, [...masq, dnat("flat-endpoints", vipKey)]],
      [`lbx-${n}`, ["jump mark-for-masquerade", dnat("flat-endpoints", vipKey)]],
      [`lbnp-${n}`, ["jump mark-for-masquerade", dnat("flat-nodeport-endpoints", "meta l4proto . th dport")]],
    ];
  };
  const affinitySetSpec = (s: AffinitySet) =>
    `{ type ${addr}; flags dynamic,timeout; timeout ${s.timeoutSeconds}s; }`;
  let flatSizes = new Set<number>();

  let valid = false;
  // Kept between syncs: the model object per service port (its objects are regenerated from it
  // when a diff needs them), the refcounted map/set elements, and chains awaiting deletion.
  const cache = new Map<string, ServicePortModel>();
  let elements = new Map<string, Map<string, ElementState>>(); // set -> key -> state
  const elementsOf = (set: string) => {
    let m = elements.get(set);
    if (!m) {
      m = new Map();
      elements.set(set, m);
    }
    return m;
  };
  let stale = new Map<string, number>(); // chain -> time it became stale

  /** The fixed sets and maps of the table, as [kind, name, type, comment]. */
  const fixedContainers = () =>
    [...MAP_TYPES(addr), ...(ctx.compact ? flatMaps(ipX) : [])].map(
      ([name, type, comment]) => [type.includes(" : ") ? "map" : "set", name, type, comment] as const,
    );
  /**
   * The table with its fixed sets, maps and base chains. `inPlace`: an existing table is flushed
   * (rules) and its fixed sets and maps emptied instead of deleted, so other sets survive.
   * `baseChains` receives the names of the base chains.
   */
  const baseDefinition = (existing: NftablesTableObjects | undefined, baseChains: string[]): string[] => {
    const inPlace = existing !== undefined;
    const L: string[] = [];
    L.push(`add table ${table}`, inPlace ? `flush table ${table}` : `delete table ${table}`);
    const containers = fixedContainers();
    // Existing sets and maps are emptied (below) rather than declared again, except the compact
    // layout's `typeof` maps, which are deleted and declared anew: nft 1.0.6 cannot evaluate a
    // new rule against such a map read back from the kernel ("conflicting protocols specified").
    const have = new Set(inPlace ? [...existing.sets, ...existing.maps] : []);
    for (const [kind, name, type] of containers) {
      if (have.has(name) && type.startsWith("typeof ")) {
        L.push(`delete ${kind} ${table} ${name}`);
        have.delete(name);
      }
    }
    L.push(`table ${table} {`, `\tcomment "rules for kube-proxy"`);
    for (const [kind, name, type, comment] of containers) {
      if (have.has(name)) continue;
      const typeLine = type.startsWith("typeof ") ? type : `type ${type}`;
      L.push(`\t${kind} ${name} {`, `\t\t${typeLine}`, `\t\tcomment ${JSON.stringify(comment)}`, "\t}");
    }
    const chain = (name: string, hook: string | undefined, rules: string[]) => {
      baseChains.push(name);
      L.push(`\tchain ${name} {`);
      if (hook) L.push(`\t\t${hook}`);
      for (const r of rules) L.push(`\t\t${r}`);
      L.push("\t}");
    };
    const npMatch =
      nodePortCidrs.length > 0
        ? `${ipX} daddr @nodeport-ips`
        : `fib daddr type local ${ipX} daddr != ${loopback}`;
    chain("filter-prerouting-pre-dnat", "type filter hook prerouting priority -110; policy accept;", [
      "ct state new jump firewall-check",
    ]);
    chain("filter-output-pre-dnat", "type filter hook output priority -110; policy accept;", [
      "ct state new jump firewall-check",
    ]);
    chain("filter-input", "type filter hook input priority 0; policy accept;", [
      "ct state new jump nodeport-endpoints-check",
      "ct state new jump service-endpoints-check",
    ]);
    chain("filter-forward", "type filter hook forward priority 0; policy accept;", [
      "ct state new jump service-endpoints-check",
      "ct state new jump cluster-ips-check",
    ]);
    chain("filter-output", "type filter hook output priority 0; policy accept;", [
      "ct state new jump service-endpoints-check",
      "ct state new jump cluster-ips-check",
    ]);
    chain("nat-prerouting", "type nat hook prerouting priority -100; policy accept;", ["jump services"]);
    chain("nat-output", "type nat hook output priority -100; policy accept;", ["jump services"]);
    chain("nat-postrouting", "type nat hook postrouting priority 100; policy accept;", ["jump masquerading"]);
    chain("firewall-check", undefined, [`${ipX} daddr . meta l4proto . th dport vmap @firewall-ips`]);
    chain("service-endpoints-check", undefined, [
      `${ipX} daddr . meta l4proto . th dport vmap @no-endpoint-services`,
    ]);
    chain("nodeport-endpoints-check", undefined, [
      `${npMatch} meta l4proto . th dport vmap @no-endpoint-nodeports`,
    ]);
    chain("cluster-ips-check", undefined, [
      `${ipX} daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`,
      ...(serviceCidrs.length > 0
        ? [
            `${ipX} daddr { ${serviceCidrs.map((c) => c.text).join(", ")} } drop comment "Drop traffic to unallocated ClusterIPs"`,
          ]
        : []),
    ]);
    chain("reject-chain", undefined, ["reject"]);
    chain("canary", undefined, []);
    chain("mark-for-masquerade", undefined, [`meta mark set meta mark | ${mark}`]);
    chain("masquerading", undefined, [
      ...(ctx.compact
        ? [`ct status dnat ${ipX} saddr . ${ipX} daddr @hairpin-endpoints masquerade fully-random`]
        : []),
      `meta mark & ${mark} == 0 return`,
      `meta mark set meta mark ^ ${mark}`,
      "masquerade fully-random",
    ]);
    chain("services", undefined, [
      `${ipX} daddr . meta l4proto . th dport vmap @service-ips`,
      `${npMatch} meta l4proto . th dport vmap @service-nodeports`,
    ]);
    L.push("}");
    if (inPlace)
      for (const [kind, name] of containers) if (have.has(name)) L.push(`flush ${kind} ${table} ${name}`);
    if (nodePortCidrs.length > 0) {
      const ips = nodePortIPs.filter(
        (ip) => nodePortCidrs.some((c) => cidrContains(c, ip)) && ip !== "::1" && !ip.startsWith("127."),
      );
      if (ips.length > 0) L.push(`add element ${table} nodeport-ips { ${ips.join(", ")} }`);
    }
    return L;
  };

  /**
   * What this backend has written to the table, from its own state (valid between syncs): every
   * chain, set and map. Lets a sync that must become full rewrite the table in place.
   */
  const ownObjects = (): NftablesTableObjects => {
    const chains: string[] = [...stale.keys()];
    const sets: string[] = [];
    const maps: string[] = [];
    for (const [kind, name] of fixedContainers()) (kind === "map" ? maps : sets).push(name);
    for (const n of flatSizes) for (const [name] of flatChains(n)) chains.push(name);
    for (const sp of cache.values()) {
      const objs = genService(sp, ctx);
      for (const [name] of objs.chains) chains.push(name);
      for (const set of objs.affinitySets) sets.push(set.name);
    }
    return { chains, sets, maps };
  };

  const backend: NftablesBackend = {
    family,
    tableName,
    invalidate() {
      valid = false;
    },
    sync(model, syncOptions = {}) {
      const full = syncOptions.full === true || !valid;
      const t = clock.now();
      // The cache is updated in place: a 1-service change costs one map lookup per service port
      // plus the work for that one service, not a rebuilt map.
      const changedOld: ServiceObjects[] = [];
      const changedNew: ServiceObjects[] = [];
      const updates: ServicePortModel[] = [];
      let changedCount = 0;
      let matched = 0;

      for (const sp of model.servicePorts) {
        if (sp.family !== family) continue;

        const old = cache.get(sp.key);
        if (old) matched++;
        if (full) {
          if (old !== sp) updates.push(sp);
          continue;
        }
        if (old === sp) continue;
        updates.push(sp);
        const objs = genService(sp, ctx);
        if (objs.flatSize !== undefined && !flatSizes.has(objs.flatSize)) {
          // Compact layout, an endpoint count no service had: its shared chains' rules name the
          // `typeof` endpoint maps, which nft 1.0.6 cannot evaluate once they are in the kernel
          // ("conflicting protocols specified"). The maps must be declared anew in the same
          // transaction, with every element: that is an in-place full sync. (Rare: once per new
          // endpoint count; nothing has been changed yet.)
          return backend.sync(model, { full: true, existing: ownObjects() });
        }
        if (old) {
          const oldObjs = genService(old, ctx);
          if (sameObjects(oldObjs, objs)) continue;
          changedOld.push(oldObjs);
        }
        changedNew.push(objs);
        changedCount++;
      }
      const removed: string[] = [];
      if (matched !== cache.size) {
        const current = new Set<string>();
        for (const sp of model.servicePorts) if (sp.family === family) current.add(sp.key);
        for (const k of cache.keys()) if (!current.has(k)) removed.push(k);
      }
      if (!full) {
        for (const k of removed) {
          changedOld.push(genService(cache.get(k)!, ctx));
          changedCount++;
        }
      }
      for (const k of removed) cache.delete(k);
      for (const sp of updates) cache.set(sp.key, sp);
      const ports = full ? model.servicePorts.filter((sp) => sp.family === family) : [];

      const L = new TextBlocks();
      let elementsAdded = 0;
      let elementsDeleted = 0;
      const deletedChains: string[] = [];
      if (full) {
        const existing = syncOptions.existing;
        const baseChains: string[] = [];
        for (const line of baseDefinition(existing, baseChains)) L.push(line);
        elements = new Map();
        stale = new Map();
        /** In-place rewrite only: every chain this transaction defines. */
        const definedChains = existing !== undefined ? new Set(baseChains) : undefined;
        const bySet = new Map<string, ElementLines>();
        const setsDone = new Set<string>();
        flatSizes = new Set();
        for (const sp of ports) {
          const objs = genService(sp, ctx);
          const text: string[] = [];
          if (objs.flatSize !== undefined && !flatSizes.has(objs.flatSize)) {
            flatSizes.add(objs.flatSize);
            for (const [name, rules] of flatChains(objs.flatSize)) {
              addChain(text, table, name, rules);
              definedChains?.add(name);
            }
          }
          for (const s of objs.affinitySets) {
            if (setsDone.has(s.name)) continue;
            setsDone.add(s.name);
            // `add set` keeps an existing set's entries (in-place rewrite).
            text.push(`add set ${table} ${s.name} ${affinitySetSpec(s)}`);
          }
          for (const [name, rules] of objs.chains) {
            addChain(text, table, name, rules);
            definedChains?.add(name);
          }
          // One string per service: its many per-line strings die young.
          if (text.length > 0) L.push(text.join("\n"), text.length);
          for (const e of objs.elements) {
            // Keys of per-service sets are unique to one service: diffed per service, never kept
            // in the state. Others are refcounted (service ports may share a ClusterIP).
            if (!PER_SERVICE_SETS.has(e.set)) {
              const m = elementsOf(e.set);
              const cur = m.get(e.key);
              if (cur) {
                cur.refs++;
                continue;
              }
              m.set(e.key, { value: e.value, comment: e.comment, refs: 1 });
            }
            let lines = bySet.get(e.set);
            if (!lines) {
              lines = new ElementLines(`add element ${table} ${e.set} { `);
              bySet.set(e.set, lines);
            }
            lines.add(elementText(e));
          }
        }
        for (const lines of bySet.values()) {
          L.append(lines.finish());
          elementsAdded += lines.count;
        }
        if (existing !== undefined && definedChains !== undefined) {
          // Left over from an earlier process or layout: chains were emptied by `flush table` and
          // are deleted by a later sync (kernels before 6.2 refuse to delete them in this
          // transaction); sets and maps nothing uses any more go now.
          for (const c of existing.chains) if (!definedChains.has(c)) stale.set(c, t);
          const fixed = new Set(fixedContainers().map(([, name]) => name));
          for (const name of existing.sets)
            if (!fixed.has(name) && !setsDone.has(name)) L.push(`delete set ${table} ${name}`);
          for (const name of existing.maps) if (!fixed.has(name)) L.push(`delete map ${table} ${name}`);
        }
      } else {
        // 1. Element diff (refcounted: several service ports may share a ClusterIP or endpoint).
        const touched = new Map<string, Map<string, ElementState | undefined>>(); // before-state snapshot
        const snapshot = (set: string, k: string) => {
          let m = touched.get(set);
          if (!m) {
            m = new Map();
            touched.set(set, m);
          }
          if (!m.has(k)) {
            const cur = elements.get(set)?.get(k);
            m.set(k, cur ? { ...cur } : undefined);
          }
        };
        const oldPerService = new Map<string, Element>();
        const newPerService = new Map<string, Element>();
        for (const objs of changedOld) {
          for (const e of objs.elements) {
            if (PER_SERVICE_SETS.has(e.set)) {
              oldPerService.set(`${e.set} ${e.key}`, e);
              continue;
            }
            snapshot(e.set, e.key);
            const m = elements.get(e.set)!;
            const cur = m.get(e.key)!;
            if (--cur.refs === 0) m.delete(e.key);
          }
        }
        for (const objs of changedNew) {
          for (const e of objs.elements) {
            if (PER_SERVICE_SETS.has(e.set)) {
              newPerService.set(`${e.set} ${e.key}`, e);
              continue;
            }
            snapshot(e.set, e.key);
            const m = elementsOf(e.set);
            const cur = m.get(e.key);
            if (cur) {
              cur.refs++;
              cur.value = e.value;
              cur.comment = e.comment;
            } else m.set(e.key, { value: e.value, comment: e.comment, refs: 1 });
          }
        }
        const dels: string[] = [];
        const adds: string[] = [];
        for (const [set, keys] of touched) {
          for (const [k, before] of keys) {
            const after = elements.get(set)?.get(k);
            if (before && after && before.value === after.value && before.comment === after.comment) continue;
            if (before) {
              dels.push(`delete element ${table} ${set} { ${k} }`);
              elementsDeleted++;
            }
            if (after) {
              adds.push(
                `add element ${table} ${set} { ${elementText({ set, key: k, value: after.value, comment: after.comment })} }`,
              );
              elementsAdded++;
            }
          }
        }
        for (const [k, before] of oldPerService) {
          const after = newPerService.get(k);
          if (after && after.value === before.value) continue;
          dels.push(`delete element ${table} ${before.set} { ${before.key} }`);
          elementsDeleted++;
        }
        for (const [k, after] of newPerService) {
          const before = oldPerService.get(k);
          if (before && before.value === after.value) continue;
          adds.push(`add element ${table} ${after.set} { ${elementText(after)} }`);
          elementsAdded++;
        }
        // 2. Chains: flush + refill changed ones, create new ones, flush stale ones (deleted later).
        const wanted = new Map<string, string[]>();
        for (const objs of changedNew) for (const [n, r] of objs.chains) wanted.set(n, r);
        const oldChains = new Set<string>();
        for (const objs of changedOld) for (const [n] of objs.chains) oldChains.add(n);
        const wantedSets = new Map<string, AffinitySet>();
        for (const objs of changedNew) for (const s of objs.affinitySets) wantedSets.set(s.name, s);
        const oldSets = new Set<string>();
        for (const objs of changedOld) for (const s of objs.affinitySets) oldSets.add(s.name);
        // Chains deleted in this transaction: stale long enough.
        for (const [c, since] of stale) {
          if (wanted.has(c)) continue; // brought back below
          if (t - since >= delayMs) {
            deletedChains.push(c);
            stale.delete(c);
          }
        }
        for (const [name, s] of wantedSets) {
          if (oldSets.has(name)) continue;
          L.push(`add set ${table} ${name} ${affinitySetSpec(s)}`);
        }
        for (const objs of changedNew) {
          if (objs.flatSize !== undefined && !flatSizes.has(objs.flatSize)) {
            flatSizes.add(objs.flatSize);
            for (const [name, rules] of flatChains(objs.flatSize)) addChain(L, table, name, rules);
          }
        }
        for (const name of wanted.keys()) {
          if (oldChains.has(name) || stale.has(name)) L.push(`flush chain ${table} ${name}`);
          else L.push(`add chain ${table} ${name}`);
          stale.delete(name);
        }
        for (const line of dels) L.push(line);
        for (const [name, rules] of wanted) for (const r of rules) L.push(`add rule ${table} ${name} ${r}`);
        for (const line of adds) L.push(line);
        for (const c of oldChains) {
          if (wanted.has(c)) continue;
          L.push(`flush chain ${table} ${c}`);
          stale.set(c, t);
        }
        for (const c of deletedChains) L.push(`delete chain ${table} ${c}`);
        for (const s of oldSets) if (!wantedSets.has(s)) L.push(`delete set ${table} ${s}`);
      }
      valid = true;
      return withPayload(
        {
          family,
          full,
          changedServicePorts: full ? ports.length : changedCount,
          elementsAdded,
          elementsDeleted,
          deletedChains,
          lines: L.lines,
        },
        L,
      );
    },
  };
  return backend;
}

/** The `add element` lines of one set, 1000 elements a line, written as each line fills. */
class ElementLines {
  readonly #lines = new TextBlocks();
  #pending: string[] = [];
  /** Elements added. */
  count = 0;

  constructor(readonly prefix: string) {}

  add(element: string): void {
    this.#pending.push(element);
    this.count++;
    if (this.#pending.length === 1000) this.#flush();
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    this.#lines.push(`${this.prefix}${this.#pending.join(", ")} }`);
    this.#pending = [];
  }

  finish(): TextBlocks {
    this.#flush();
    return this.#lines;
  }
}

/**
 * Appends the commands creating a chain and its rules to `text`: `add chain`, then one `add rule`
 * per rule, as upstream writes them. Measured at 10k services, nft applies these 8-13% faster than
 * the same chains declared with their rules inline (`add chain T C { R1; R2; }`) and 18% faster
 * than inside a `table { }` block, although both are about 40% smaller.
 */
function addChain(
  text: { push(line: string): unknown },
  table: string,
  name: string,
  rules: readonly string[],
): void {
  text.push(`add chain ${table} ${name}`);
  for (const r of rules) text.push(`add rule ${table} ${name} ${r}`);
}

function sameObjects(a: ServiceObjects, b: ServiceObjects): boolean {
  if (a.chains.length !== b.chains.length || a.elements.length !== b.elements.length) return false;
  if (a.affinitySets.length !== b.affinitySets.length) return false;
  for (let i = 0; i < a.chains.length; i++) {
    const [name, rules] = a.chains[i]!;
    const [otherName, otherRules] = b.chains[i]!;
    if (name !== otherName || rules.length !== otherRules.length) return false;
    if (rules.some((r, j) => r !== otherRules[j])) return false;
  }
  for (let i = 0; i < a.elements.length; i++) {
    const x = a.elements[i]!;
    const y = b.elements[i]!;
    if (x.set !== y.set || x.key !== y.key || x.value !== y.value || x.comment !== y.comment) return false;
  }
  return a.affinitySets.every(
    (s, i) => s.name === b.affinitySets[i]!.name && s.timeoutSeconds === b.affinitySets[i]!.timeoutSeconds,
  );
}

/** Sets whose keys belong to exactly one service port: diffed per service, not refcounted. */
const PER_SERVICE_SETS = new Set(["flat-endpoints", "flat-nodeport-endpoints"]);

/** Compact layout: the endpoint maps of the shared per-endpoint-count chains. */
function flatMaps(ipX: string): [string, string, string][] {
  return [
    [
      "flat-endpoints",
      `typeof ${ipX} daddr . meta l4proto . th dport . numgen random mod 1 : ${ipX} daddr . th dport`,
      "service IP, protocol, port and endpoint index to endpoint address and port",
    ],
    [
      "flat-nodeport-endpoints",
      `typeof meta l4proto . th dport . numgen random mod 1 : ${ipX} daddr . th dport`,
      "NodePort protocol, port and endpoint index to endpoint address and port",
    ],
  ];
}
