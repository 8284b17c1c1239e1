import { NetrulesError } from "./errors.js";
import { type IPFamily, joinHostPort, parseCidr } from "./ip.js";
import type { EndpointModel, Protocol, ProxyModel, ServicePortModel } from "./model.js";

/** Options of {@link buildIpvsState}. */
export interface IpvsOptions {
  family?: IPFamily | undefined;
  /** This node's IPs: one NodePort virtual server each. */
  nodeIPs?: readonly string[] | undefined;
  /** IPVS scheduler. Default "rr". */
  scheduler?: string | undefined;
  masqueradeBit?: number | undefined;
  masqueradeAll?: boolean | undefined;
  clusterCIDR?: string | undefined;
}

/** A real server (endpoint) behind a virtual server. */
export interface IpvsRealServer {
  address: string;
  port: number;
  weight: number;
}

/** One IPVS virtual server: a service IP (or node IP for NodePorts) and port. */
export interface IpvsVirtualServer {
  kind: "ClusterIP" | "ExternalIP" | "LoadBalancer" | "NodePort";
  service: string;
  address: string;
  port: number;
  protocol: Protocol;
  scheduler: string;
  /** ClientIP affinity maps to IPVS persistence (-p). */
  persistentTimeoutSeconds: number | undefined;
  realServers: IpvsRealServer[];
}

/** An ipset kube-proxy's IPVS mode maintains. */
export interface IpsetData {
  name: string;
  type: string;
  comment: string;
  entries: string[];
}

/**
 * Everything IPVS mode programs for one family, as data: virtual servers, the addresses bound to
 * the kube-ipvs0 dummy interface, ipsets, and the iptables helper rules. This kernel-independent
 * form is what the tests check; this machine's kernel has no IPVS, so nothing here is applied.
 */
export interface IpvsState {
  family: IPFamily;
  virtualServers: IpvsVirtualServer[];
  /** Addresses kube-proxy binds to the kube-ipvs0 dummy interface. */
  dummyAddresses: string[];
  ipsets: IpsetData[];
  /** `iptables-restore --noflush` payload of the helper chains. */
  iptablesPayload: string;
}

/** The dummy interface IPVS mode binds service addresses to. */
export const IPVS_DUMMY_INTERFACE = "kube-ipvs0";

function protoName(p: Protocol): string {
  return p.toLowerCase();
}

function realServers(eps: EndpointModel[]): IpvsRealServer[] {
  return eps.map((e) => ({ address: e.ip, port: e.port, weight: 1 }));
}

/** Builds the IPVS-mode state for `model` (mirrors pkg/proxy/ipvs's syncProxyRules, as data). */
export function buildIpvsState(model: ProxyModel, options: IpvsOptions = {}): IpvsState {
  const family = options.family ?? "IPv4";
  const scheduler = options.scheduler ?? "rr";
  const mark = `0x${(2 ** (options.masqueradeBit ?? 14)).toString(16)}`;
  const cidr = options.clusterCIDR ? parseCidr(options.clusterCIDR)?.text : undefined;
  if (options.clusterCIDR && !cidr)
    throw new NetrulesError("InvalidInput", `clusterCIDR ${options.clusterCIDR} is not a valid CIDR`);
  const sets = new Map<string, IpsetData>();
  const set = (name: string, type: string, comment: string) => {
    let s = sets.get(name);
    if (!s) {
      s = { name, type, comment, entries: [] };
      sets.set(name, s);
    }
    return s;
  };
  // Mirrors pkg/proxy/ipvs/ipset.go: the sets exist even when empty.
  set(
    "KUBE-LOOP-BACK",
    "hash:ip,port,ip",
    "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
  );
  set("KUBE-CLUSTER-IP", "hash:ip,port", "Kubernetes service cluster ip + port for masquerade purpose");
  set(
    "KUBE-EXTERNAL-IP",
    "hash:ip,port",
    "Kubernetes service external ip + port for masquerade and filter purpose",
  );
  set(
    "KUBE-EXTERNAL-IP-LOCAL",
    "hash:ip,port",
    "Kubernetes service external ip + port with externalTrafficPolicy=local",
  );
  set("KUBE-LOAD-BALANCER", "hash:ip,port", "Kubernetes service lb portal");
  set(
    "KUBE-LOAD-BALANCER-LOCAL",
    "hash:ip,port",
    "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
  );
  set(
    "KUBE-LOAD-BALANCER-FW",
    "hash:ip,port",
    "Kubernetes service load balancer ip + port for load balancer with sourceRange",
  );
  set(
    "KUBE-LOAD-BALANCER-SOURCE-CIDR",
    "hash:ip,port,net",
    "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
  );
  set("KUBE-NODE-PORT-TCP", "bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose");
  set(
    "KUBE-NODE-PORT-LOCAL-TCP",
    "bitmap:port",
    "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
  );
  set("KUBE-NODE-PORT-UDP", "bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose");
  set(
    "KUBE-NODE-PORT-LOCAL-UDP",
    "bitmap:port",
    "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
  );
  set("KUBE-HEALTH-CHECK-NODE-PORT", "bitmap:port", "Kubernetes health check node port");

  const virtualServers: IpvsVirtualServer[] = [];
  const dummy = new Set<string>();
  const ports = model.servicePorts.filter((sp) => sp.family === family);
  const vs = (
    sp: ServicePortModel,
    kind: IpvsVirtualServer["kind"],
    address: string,
    port: number,
    eps: EndpointModel[],
  ) =>
    virtualServers.push({
      kind,
      service: sp.name,
      address,
      port,
      protocol: sp.protocol,
      scheduler,
      persistentTimeoutSeconds: sp.affinityTimeoutSeconds,
      realServers: realServers(eps),
    });
  for (const sp of ports) {
    const p = protoName(sp.protocol);
    const internal = sp.internalPolicyLocal ? sp.localEndpoints : sp.clusterEndpoints;
    const external = sp.externalPolicyLocal ? sp.localEndpoints : sp.clusterEndpoints;
    for (const e of sp.reachableEndpoints)
      set("KUBE-LOOP-BACK", "", "").entries.push(`${e.ip},${p}:${e.port},${e.ip}`);
    set("KUBE-CLUSTER-IP", "", "").entries.push(`${sp.clusterIP},${p}:${sp.port}`);
    vs(sp, "ClusterIP", sp.clusterIP, sp.port, internal);
    dummy.add(sp.clusterIP);
    for (const ip of sp.externalIPs) {
      set(sp.externalPolicyLocal ? "KUBE-EXTERNAL-IP-LOCAL" : "KUBE-EXTERNAL-IP", "", "").entries.push(
        `${ip},${p}:${sp.port}`,
      );
      vs(sp, "ExternalIP", ip, sp.port, external);
      dummy.add(ip);
    }
    for (const ip of sp.loadBalancerIPs) {
      set("KUBE-LOAD-BALANCER", "", "").entries.push(`${ip},${p}:${sp.port}`);
      if (sp.externalPolicyLocal)
        set("KUBE-LOAD-BALANCER-LOCAL", "", "").entries.push(`${ip},${p}:${sp.port}`);
      if (sp.loadBalancerSourceRanges.length > 0) {
        set("KUBE-LOAD-BALANCER-FW", "", "").entries.push(`${ip},${p}:${sp.port}`);
        for (const c of sp.loadBalancerSourceRanges) {
          set("KUBE-LOAD-BALANCER-SOURCE-CIDR", "", "").entries.push(`${ip},${p}:${sp.port},${c}`);
        }
      }
      vs(sp, "LoadBalancer", ip, sp.port, external);
      dummy.add(ip);
    }
    if (sp.nodePort !== 0 && (sp.protocol === "TCP" || sp.protocol === "UDP")) {
      set(`KUBE-NODE-PORT-${sp.protocol}`, "", "").entries.push(String(sp.nodePort));
      if (sp.externalPolicyLocal)
        set(`KUBE-NODE-PORT-LOCAL-${sp.protocol}`, "", "").entries.push(String(sp.nodePort));
      for (const ip of options.nodeIPs ?? []) vs(sp, "NodePort", ip, sp.nodePort, external);
    }
    if (sp.healthCheckNodePort !== 0)
      set("KUBE-HEALTH-CHECK-NODE-PORT", "", "").entries.push(String(sp.healthCheckNodePort));
  }
  for (const s of sets.values()) s.entries = [...new Set(s.entries)].sort();

  // Helper iptables rules (a subset of upstream's, matching the ipsets above).
  const masqSrc = options.masqueradeAll ? "" : cidr ? ` ! -s ${cidr}` : undefined;
  const nat = [
    "*nat",
    ":KUBE-SERVICES - [0:0]",
    ":KUBE-POSTROUTING - [0:0]",
    ":KUBE-NODE-PORT - [0:0]",
    ":KUBE-LOAD-BALANCER - [0:0]",
    ":KUBE-MARK-MASQ - [0:0]",
    `-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
    ...(masqSrc !== undefined
      ? [
          `-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP src,dst${masqSrc} -j KUBE-MARK-MASQ`,
        ]
      : []),
    `-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ`,
    `-A KUBE-SERVICES -m comment --comment "Kubernetes service lb portal" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER`,
    `-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT`,
    `-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT`,
    `-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT`,
    `-A KUBE-LOAD-BALANCER -m comment --comment "Kubernetes service load balancer ip + port with externalTrafficPolicy=local" -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN`,
    "-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ",
    `-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN`,
    `-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ`,
    `-A KUBE-NODE-PORT -p udp -m comment --comment "Kubernetes nodeport UDP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-UDP dst -j RETURN`,
    `-A KUBE-NODE-PORT -p udp -m comment --comment "Kubernetes nodeport UDP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-UDP dst -j KUBE-MARK-MASQ`,
    "COMMIT",
  ];
  const filter = [
    "*filter",
    ":KUBE-PROXY-FIREWALL - [0:0]",
    ":KUBE-SOURCE-RANGES-FIREWALL - [0:0]",
    `-A KUBE-PROXY-FIREWALL -m comment --comment "Kubernetes service load balancer ip + port for load balancer with sourceRange" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL`,
    `-A KUBE-SOURCE-RANGES-FIREWALL -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN`,
    "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP",
    "COMMIT",
  ];
  return {
    family,
    virtualServers,
    dummyAddresses: [...dummy].sort(),
    ipsets: [...sets.values()],
    iptablesPayload: `${filter.join("\n")}\n${nat.join("\n")}\n`,
  };
}

/** `ipvsadm-restore` input (the `ipvsadm -S -n` format) for the state's virtual servers. */
export function ipvsadmRestoreText(state: IpvsState): string {
  const flag = (p: Protocol) => (p === "TCP" ? "-t" : p === "UDP" ? "-u" : "--sctp-service");
  const lines: string[] = [];
  for (const v of state.virtualServers) {
    const svc = `${flag(v.protocol)} ${joinHostPort(v.address, v.port)}`;
    lines.push(
      `-A ${svc} -s ${v.scheduler}${v.persistentTimeoutSeconds !== undefined ? ` -p ${v.persistentTimeoutSeconds}` : ""}`,
    );
    for (const r of v.realServers)
      lines.push(`-a ${svc} -r ${joinHostPort(r.address, r.port)} -m -w ${r.weight}`);
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/** `ipset restore` input that creates, flushes and fills the state's ipsets. */
export function ipsetRestoreText(state: IpvsState): string {
  const family = state.family === "IPv4" ? "inet" : "inet6";
  const lines: string[] = [];
  for (const s of state.ipsets) {
    const opts = s.type.startsWith("bitmap:port")
      ? "range 0-65535"
      : `family ${family} hashsize 1024 maxelem 65536`;
    lines.push(`create ${s.name} ${s.type} ${opts} comment -exist`);
    lines.push(`flush ${s.name}`);
    for (const e of s.entries) lines.push(`add ${s.name} ${e} comment ${JSON.stringify(s.comment)} -exist`);
  }
  return `${lines.join("\n")}\n`;
}
