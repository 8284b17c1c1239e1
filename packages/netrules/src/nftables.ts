import { NetrulesError } from "./errors.js";
import { hashName } from "./hash.js";
import { cidrContains, type IPFamily, parseCidr } from "./ip.js";
import { type EndpointModel, type ProxyModel, type ServicePortModel, trafficRouting } from "./model.js";

/** Options of {@link createNftablesBackend}. */
export interface NftablesBackendOptions {
  family?: IPFamily;
  /** Table name. Default "kube-proxy". */
  tableName?: string;
  /** Bit of the packet mark used to flag traffic for masquerade. Default 14 (0x4000). */
  masqueradeBit?: number;
  masqueradeAll?: boolean;
  /** The cluster (pod) CIDR of this family. */
  clusterCIDR?: string;
  /** Service CIDRs: traffic to unallocated ClusterIPs in them is dropped. */
  serviceCIDRs?: readonly string[];
  nodeIPs?: readonly string[];
  /** CIDRs NodePorts listen on; empty means every local address but loopback. */
  nodePortAddresses?: readonly string[];
  /**
   * "upstream" (default): kube-proxy's layout, one `endpoint-` chain per endpoint.
   * "compact": services without ClientIP affinity DNAT straight from their service chain through
   * an anonymous `numgen` map, and hairpin masquerade is one set lookup in `masquerading`. Same
   * behaviour, ~10x fewer kernel objects, which keeps the nft CLI's per-run cache load small.
   */
  layout?: "upstream" | "compact";
  /** Stale chains are flushed at once and deleted this long after (kernels before 6.2 need >= 1 s). Default 1000. */
  staleChainDelayMs?: number;
  /** Clock for delayed chain deletion. Default Date.now. */
  now?: () => number;
}

/** The result of one nftables sync: an `nft -f -` transaction. */
export interface NftablesSyncResult {
  family: IPFamily;
  /** The transaction text, for stdin of `nft -f -` (atomic: all or nothing). */
  payload: string;
  full: boolean;
  changedServicePorts: number;
  /** Map/set elements added and deleted by this transaction. */
  elementsAdded: number;
  elementsDeleted: number;
  /** Chains deleted by this transaction (stale for at least staleChainDelayMs). */
  deletedChains: string[];
  lines: number;
}

/** Turns a proxy model into nft transactions, incremental after the first. */
export interface NftablesBackend {
  readonly family: IPFamily;
  readonly tableName: string;
  sync(model: ProxyModel, options?: { full?: boolean }): NftablesSyncResult;
  /** Forgets what was written: the next sync is full. Call after a failed apply. */
  invalidate(): void;
}

const PREFIX_LEN_MAX = 256 - 16;

/** Upstream's hashAndTruncate: "HASH8-name", truncated to fit nft's name limit. */
function hashAndTruncate(name: string): string {
  const out = `${hashName(name, 8)}-${name}`;
  return out.length > PREFIX_LEN_MAX ? `${out.slice(0, PREFIX_LEN_MAX - 3)}...` : out;
}

/** The "HASH-ns/name/proto/port" base of a service port's chain names. */
export function nftServiceChainBase(
  sp: Pick<ServicePortModel, "namespace" | "serviceName" | "portName" | "protocol">,
): string {
  return hashAndTruncate(`${sp.namespace}/${sp.serviceName}/${sp.protocol.toLowerCase()}/${sp.portName}`);
}

/** The "HASH-ns/name/proto/port__ip/port" base of an endpoint's chain and affinity-set names. */
export function nftEndpointChainBase(
  sp: Pick<ServicePortModel, "namespace" | "serviceName" | "portName" | "protocol">,
  ep: Pick<EndpointModel, "ip" | "port">,
): string {
  const ip = ep.ip.includes(":") ? ep.ip.replaceAll(":", ".") : ep.ip;
  return hashAndTruncate(
    `${sp.namespace}/${sp.serviceName}/${sp.protocol.toLowerCase()}/${sp.portName}__${ip}/${ep.port}`,
  );
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

interface ServiceObjects {
  chains: Map<string, string[]>;
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

function genService(sp: ServicePortModel, ctx: Ctx): ServiceObjects {
  const { ipX } = ctx;
  const proto = sp.protocol.toLowerCase();
  const base = nftServiceChainBase(sp);
  const clusterChain = `service-${base}`;
  const localChain = `local-${base}`;
  const externalChain = `external-${base}`;
  const fwChain = `firewall-${base}`;
  const chains = new Map<string, string[]>();
  const elements: Element[] = [];
  const affinitySets: AffinitySet[] = [];
  const el = (set: string, key: string, value?: string, comment?: string): void => {
    elements.push({ set, key, value, comment });
  };
  const affinity = sp.affinityTimeoutSeconds !== undefined;
  const useEndpointChains = !ctx.compact || affinity;
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
    const key = (ip: string, port: number) => `${ip} . ${proto} . ${port}`;
    el("cluster-ips", sp.clusterIP);
    const vip = (ip: string, chain: string) => {
      el("service-ips", key(ip, sp.port), `goto ${chain}-${n}`);
      for (const [i, e] of eps.entries())
        el("flat-endpoints", `${key(ip, sp.port)} . ${i}`, `${e.ip} . ${e.port}`);
    };
    vip(sp.clusterIP, "lb");
    for (const ip of sp.externalIPs) vip(ip, "lbx");
    const usesFW = sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
    if (usesFW) {
      const sources = [...sp.loadBalancerSourceRanges];
      if (
        sp.loadBalancerSourceRanges.some((t) => ctx.nodeIPs.some((ip) => cidrContains(parseCidr(t)!, ip)))
      ) {
        sources.push(...sp.loadBalancerIPs);
      }
      chains.set(fwChain, [`${ipX} saddr != { ${sources.join(", ")} } drop`]);
    }
    for (const ip of sp.loadBalancerIPs) {
      vip(ip, "lbx");
      if (usesFW) el("firewall-ips", key(ip, sp.port), `goto ${fwChain}`, sp.name);
    }
    if (sp.nodePort !== 0) {
      el("service-nodeports", `${proto} . ${sp.nodePort}`, `goto lbnp-${n}`);
      for (const [i, e] of eps.entries())
        el("flat-nodeport-endpoints", `${proto} . ${sp.nodePort} . ${i}`, `${e.ip} . ${e.port}`);
    }
    for (const e of sp.reachableEndpoints) if (e.local) el("hairpin-endpoints", `${e.ip} . ${e.ip}`);
    return { chains, elements, affinitySets, flatSize: n };
  }

  const epBase = new Map<EndpointModel, string>();
  for (const e of sp.reachableEndpoints) epBase.set(e, nftEndpointChainBase(sp, e));
  const hasEndpoints = sp.hasEndpoints;
  const {
    usesClusterPolicyChain,
    usesLocalPolicyChain,
    hasInternalEndpoints: hasInternal,
    hasExternalEndpoints: hasExternal,
    usesExternalChain,
    ...routing
  } = trafficRouting(sp);
  const internalChain = routing.internal === "local" ? localChain : clusterChain;
  const externalPolicyChain = routing.external === "local" ? localChain : clusterChain;
  // Mirrors kube-proxy: reject when there is no endpoint at all, drop when only local ones are missing.
  const internalVerdict = hasEndpoints ? "drop" : "goto reject-chain";
  const externalVerdict = internalVerdict;
  const key = (ip: string, port: number) => `${ip} . ${proto} . ${port}`;

  if (useEndpointChains) for (const e of sp.reachableEndpoints) chains.set(`endpoint-${epBase.get(e)!}`, []);
  if (usesClusterPolicyChain) chains.set(clusterChain, []);
  if (usesLocalPolicyChain) chains.set(localChain, []);
  if (usesExternalChain) chains.set(externalChain, []);

  el("cluster-ips", sp.clusterIP);
  if (hasInternal) el("service-ips", key(sp.clusterIP, sp.port), `goto ${internalChain}`);
  else el("no-endpoint-services", key(sp.clusterIP, sp.port), internalVerdict, sp.name);
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) el("service-ips", key(ip, sp.port), `goto ${externalChain}`);
    if (!hasExternal) el("no-endpoint-services", key(ip, sp.port), externalVerdict, sp.name);
  }
  const usesFW = sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  if (usesFW) {
    const sources = [...sp.loadBalancerSourceRanges];
    if (sp.loadBalancerSourceRanges.some((t) => ctx.nodeIPs.some((ip) => cidrContains(parseCidr(t)!, ip)))) {
      sources.push(...sp.loadBalancerIPs);
    }
    chains.set(fwChain, [`${ipX} saddr != { ${sources.join(", ")} } drop`]);
  }
  for (const ip of sp.loadBalancerIPs) {
    if (hasEndpoints) el("service-ips", key(ip, sp.port), `goto ${externalChain}`);
    if (usesFW) el("firewall-ips", key(ip, sp.port), `goto ${fwChain}`, sp.name);
    if (!hasExternal) el("no-endpoint-services", key(ip, sp.port), externalVerdict, sp.name);
  }
  if (sp.nodePort !== 0) {
    if (hasEndpoints) el("service-nodeports", `${proto} . ${sp.nodePort}`, `goto ${externalChain}`);
    if (!hasExternal) el("no-endpoint-nodeports", `${proto} . ${sp.nodePort}`, externalVerdict, sp.name);
  }
  if (hasInternal) {
    const match = `${ipX} daddr ${sp.clusterIP} ${proto} dport ${sp.port}`;
    if (ctx.masqueradeAll) chains.get(internalChain)!.push(`${match} jump mark-for-masquerade`);
    else if (ctx.localCidr) {
      chains.get(internalChain)!.push(`${match} ${ipX} saddr != ${ctx.localCidr} jump mark-for-masquerade`);
    }
  }
  if (usesExternalChain) {
    const ext = chains.get(externalChain)!;
    if (!sp.externalPolicyLocal) ext.push("jump mark-for-masquerade");
    else {
      if (ctx.localCidr)
        ext.push(`${ipX} saddr ${ctx.localCidr} goto ${clusterChain} comment "short-circuit pod traffic"`);
      ext.push(`fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"`);
      ext.push(`fib saddr type local goto ${clusterChain} comment "short-circuit local traffic"`);
    }
    if (hasExternal) ext.push(`goto ${externalPolicyChain}`);
  }
  if (affinity) {
    for (const e of sp.reachableEndpoints) {
      affinitySets.push({ name: `affinity-${epBase.get(e)!}`, timeoutSeconds: sp.affinityTimeoutSeconds! });
    }
  }
  const toEndpoints = (chain: string, eps: EndpointModel[]) => {
    const rules = chains.get(chain)!;
    if (affinity) {
      for (const e of eps)
        rules.push(`${ipX} saddr @affinity-${epBase.get(e)!} goto endpoint-${epBase.get(e)!}`);
    }
    if (useEndpointChains) {
      const entries = eps.map((e, i) => `${i} : goto endpoint-${epBase.get(e)!}`).join(", ");
      rules.push(`numgen random mod ${eps.length} vmap { ${entries} }`);
    } else if (eps.length === 1) {
      rules.push(`meta l4proto ${proto} dnat to ${dnatTarget(eps[0]!)}`);
    } else {
      const entries = eps.map((e, i) => `${i} : ${e.ip} . ${e.port}`).join(", ");
      rules.push(`meta l4proto ${proto} dnat ${ipX} to numgen random mod ${eps.length} map { ${entries} }`);
    }
  };
  if (usesClusterPolicyChain) toEndpoints(clusterChain, sp.clusterEndpoints);
  if (usesLocalPolicyChain) toEndpoints(localChain, sp.localEndpoints);
  if (useEndpointChains) {
    for (const e of sp.reachableEndpoints) {
      const b = epBase.get(e)!;
      const rules = chains.get(`endpoint-${b}`)!;
      rules.push(`${ipX} saddr ${e.ip} jump mark-for-masquerade`);
      if (affinity) rules.push(`update @affinity-${b} { ${ipX} saddr }`);
      rules.push(`meta l4proto ${proto} dnat to ${dnatTarget(e)}`);
    }
  } else {
    // Only endpoints on this node can send traffic through this node's rules back to themselves.
    for (const e of sp.reachableEndpoints) if (e.local) el("hairpin-endpoints", `${e.ip} . ${e.ip}`);
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
  const family = options.family ?? "IPv4";
  if (family !== "IPv4" && family !== "IPv6")
    throw new NetrulesError("InvalidInput", `unknown family ${String(family)}`);
  const tableName = options.tableName ?? "kube-proxy";
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/.test(tableName))
    throw new NetrulesError("InvalidInput", `invalid table name ${JSON.stringify(tableName)}`);
  const bit = options.masqueradeBit ?? 14;
  if (!Number.isInteger(bit) || bit < 0 || bit > 31)
    throw new NetrulesError("InvalidInput", `masqueradeBit ${bit} out of range 0-31`);
  const mark = `0x${(2 ** bit).toString(16)}`;
  const ipX = family === "IPv4" ? "ip" : "ip6";
  const addr = family === "IPv4" ? "ipv4_addr" : "ipv6_addr";
  const nftFamily = ipX;
  const table = `${nftFamily} ${tableName}`;
  let localCidr: string | undefined;
  if (options.clusterCIDR !== undefined) {
    const c = parseCidr(options.clusterCIDR);
    if (!c || c.family !== family)
      throw new NetrulesError(
        "InvalidInput",
        `clusterCIDR ${options.clusterCIDR} is not a valid ${family} CIDR`,
      );
    localCidr = c.text;
  }
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
  const nodeIPs = options.nodeIPs ?? [];
  const ctx: Ctx = {
    ipX,
    masqueradeAll: options.masqueradeAll ?? false,
    localCidr,
    nodeIPs,
    compact: options.layout === "compact",
  };
  const delayMs = options.staleChainDelayMs ?? 1000;
  const now = options.now ?? Date.now;
  const loopback = family === "IPv4" ? "127.0.0.0/8" : "::1";

  const flatChains = (n: number): string[] => {
    const dnat = (map: string, key: string) =>
      `meta l4proto { tcp, udp, sctp } dnat ${ipX} to ${key} . numgen random mod ${n} map @${map}`;
    const vipKey = `${ipX} daddr . meta l4proto . th dport`;
    const masq = ctx.masqueradeAll
      ? ["jump mark-for-masquerade"]
      : ctx.localCidr
        ? [`${ipX} saddr != ${ctx.localCidr} jump mark-for-masquerade`]
        : [];
    const out: string[] = [];
    const chain = (name: string, rules: string[]) => {
      out.push(`add chain ${table} ${name}`);
      for (const r of rules) out.push(`add rule ${table} ${name} ${r}`);
    };
    chain(`lb-${n}`, [...masq, dnat("flat-endpoints", vipKey)]);
    chain(`lbx-${n}`, ["jump mark-for-masquerade", dnat("flat-endpoints", vipKey)]);
    chain(`lbnp-${n}`, [
      "jump mark-for-masquerade",
      dnat("flat-nodeport-endpoints", "meta l4proto . th dport"),
    ]);
    return out;
  };
  let flatSizes = new Set<number>();

  let valid = false;
  // Kept between syncs: the model object per service port (its objects are regenerated from it
  // when a diff needs them), the refcounted map/set elements, and chains awaiting deletion.
  const cache = new Map<string, ServicePortModel>();
  let elements = new Map<string, Map<string, ElementState>>(); // set -> key -> state
  let stale = new Map<string, number>(); // chain -> time it became stale

  const baseDefinition = (): string[] => {
    const L: string[] = [];
    L.push(
      `add table ${table}`,
      `delete table ${table}`,
      `table ${table} {`,
      `\tcomment "rules for kube-proxy"`,
    );
    for (const [name, type, comment] of [...MAP_TYPES(addr), ...(ctx.compact ? flatMaps(ipX) : [])]) {
      const kind = type.includes(" : ") ? "map" : "set";
      const typeLine = type.startsWith("typeof ") ? type : `type ${type}`;
      L.push(`\t${kind} ${name} {`, `\t\t${typeLine}`, `\t\tcomment ${JSON.stringify(comment)}`, "\t}");
    }
    const chain = (name: string, hook: string | undefined, rules: string[]) => {
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
    if (nodePortCidrs.length > 0) {
      const ips = nodeIPs.filter(
        (ip) => nodePortCidrs.some((c) => cidrContains(c, ip)) && ip !== "::1" && !ip.startsWith("127."),
      );
      if (ips.length > 0) L.push(`add element ${table} nodeport-ips { ${ips.join(", ")} }`);
    }
    return L;
  };

  return {
    family,
    tableName,
    invalidate() {
      valid = false;
    },
    sync(model, syncOptions = {}) {
      const full = syncOptions.full === true || !valid;
      const t = now();
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

      const L: string[] = [];
      let joinedExtra = 0; // lines inside chunks pushed as one entry
      let elementsAdded = 0;
      let elementsDeleted = 0;
      const deletedChains: string[] = [];
      if (full) {
        L.push(...baseDefinition());
        elements = new Map();
        stale = new Map();
        const bySet = new Map<string, string[]>();
        const setsDone = new Set<string>();
        flatSizes = new Set();
        for (const sp of ports) {
          const objs = genService(sp, ctx);
          if (objs.flatSize !== undefined && !flatSizes.has(objs.flatSize)) {
            flatSizes.add(objs.flatSize);
            const fc = flatChains(objs.flatSize);
            L.push(fc.join("\n"));
            joinedExtra += fc.length - 1;
          }
          for (const s of objs.affinitySets) {
            if (setsDone.has(s.name)) continue;
            setsDone.add(s.name);
            L.push(
              `add set ${table} ${s.name} { type ${addr}; flags dynamic,timeout; timeout ${s.timeoutSeconds}s; }`,
            );
          }
          // One string per service: the per-line strings die young.
          const text: string[] = [];
          for (const [name, rules] of objs.chains) {
            text.push(`add chain ${table} ${name}`);
            for (const r of rules) text.push(`add rule ${table} ${name} ${r}`);
          }
          if (text.length > 0) {
            L.push(text.join("\n"));
            joinedExtra += text.length - 1;
          }
          for (const e of objs.elements) {
            if (PER_SERVICE_SETS.has(e.set)) {
              // Keys unique to one service: diffed per service, never kept in the state.
              let list = bySet.get(e.set);
              if (!list) {
                list = [];
                bySet.set(e.set, list);
              }
              list.push(elementText(e));
              continue;
            }
            let m = elements.get(e.set);
            if (!m) {
              m = new Map();
              elements.set(e.set, m);
            }
            const cur = m.get(e.key);
            if (cur) {
              cur.refs++;
              continue;
            }
            m.set(e.key, { value: e.value, comment: e.comment, refs: 1 });
            let list = bySet.get(e.set);
            if (!list) {
              list = [];
              bySet.set(e.set, list);
            }
            list.push(elementText(e));
          }
        }
        for (const [set, list] of bySet) {
          for (let i = 0; i < list.length; i += 1000) {
            L.push(`add element ${table} ${set} { ${list.slice(i, i + 1000).join(", ")} }`);
          }
          elementsAdded += list.length;
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
            let m = elements.get(e.set);
            if (!m) {
              m = new Map();
              elements.set(e.set, m);
            }
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
        for (const objs of changedOld) for (const n of objs.chains.keys()) oldChains.add(n);
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
          L.push(
            `add set ${table} ${name} { type ${addr}; flags dynamic,timeout; timeout ${s.timeoutSeconds}s; }`,
          );
        }
        for (const objs of changedNew) {
          if (objs.flatSize !== undefined && !flatSizes.has(objs.flatSize)) {
            flatSizes.add(objs.flatSize);
            L.push(...flatChains(objs.flatSize));
          }
        }
        for (const name of wanted.keys()) {
          if (oldChains.has(name) || stale.has(name)) L.push(`flush chain ${table} ${name}`);
          else L.push(`add chain ${table} ${name}`);
          stale.delete(name);
        }
        L.push(...dels);
        for (const [name, rules] of wanted) for (const r of rules) L.push(`add rule ${table} ${name} ${r}`);
        L.push(...adds);
        for (const c of oldChains) {
          if (wanted.has(c)) continue;
          L.push(`flush chain ${table} ${c}`);
          stale.set(c, t);
        }
        for (const c of deletedChains) L.push(`delete chain ${table} ${c}`);
        for (const s of oldSets) if (!wantedSets.has(s)) L.push(`delete set ${table} ${s}`);
      }
      valid = true;
      const payload = L.length > 0 ? `${L.join("\n")}\n` : "";
      return {
        family,
        payload,
        full,
        changedServicePorts: full ? ports.length : changedCount,
        elementsAdded,
        elementsDeleted,
        deletedChains,
        lines: L.length + joinedExtra,
      };
    },
  };
}

function sameObjects(a: ServiceObjects, b: ServiceObjects): boolean {
  if (a.chains.size !== b.chains.size || a.elements.length !== b.elements.length) return false;
  if (a.affinitySets.length !== b.affinitySets.length) return false;
  for (const [n, r] of a.chains) {
    const o = b.chains.get(n);
    if (!o || o.length !== r.length || o.some((x, i) => x !== r[i])) return false;
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
