import { validateDNS1035Label, validateDNS1123Label, validateDNS1123Subdomain } from "@kubenode/kube";
import { NetrulesError } from "./errors.js";
import { type Cidr, canonicalIP, type IPFamily, joinHostPort, parseCidr, parseIPSloppy } from "./ip.js";
import type { EndpointLike, EndpointSliceLike, ServiceLike } from "./types.js";

/** Transport protocols a Service port can use. */
export type Protocol = "TCP" | "UDP" | "SCTP";

/** One endpoint (address + port) of a service port, as the proxy sees it. */
export interface EndpointModel {
  ip: string;
  port: number;
  /** "ip:port" or "[ip]:port": the string upstream hashes into endpoint chain names. */
  address: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** True when the endpoint runs on this node (nodeName matches). */
  local: boolean;
  nodeName: string | undefined;
  zone: string | undefined;
  zoneHints: string[];
  nodeHints: string[];
}

/**
 * One Service port in one IP family: the unit kube-proxy programs. A dual-stack Service
 * yields one entry per family; each backend programs the entries of its family.
 */
export interface ServicePortModel {
  /** Unique id: "IPv4|ns/name:port|TCP". */
  key: string;
  family: IPFamily;
  namespace: string;
  serviceName: string;
  portName: string;
  /** Upstream's ServicePortName string: "ns/name:port", or "ns/name" for an unnamed port. */
  name: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  /** 0 when the port has no NodePort. */
  nodePort: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  /** ClientIP affinity timeout; undefined when sessionAffinity is None. */
  affinityTimeoutSeconds: number | undefined;
  externallyAccessible: boolean;
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  /** 0 when none. */
  healthCheckNodePort: number;
  /** Every endpoint known for this port and family, sorted by address. */
  endpoints: EndpointModel[];
  /** Endpoints used for Cluster traffic policy (ready ones, else serving+terminating). */
  clusterEndpoints: EndpointModel[];
  /** Endpoints used for Local traffic policy (local ready ones, else local serving+terminating). */
  localEndpoints: EndpointModel[];
  /** Union of the two: every endpoint this node may send traffic to. */
  reachableEndpoints: EndpointModel[];
  /** True when the service has a usable endpoint anywhere in the cluster. */
  hasEndpoints: boolean;
  usesClusterEndpoints: boolean;
  usesLocalEndpoints: boolean;
}

/**
 * A problem with one input object. Usually the whole object is skipped and everything else is
 * programmed; a bad entry of a list kube-proxy filters entry by entry (an external IP, a
 * LoadBalancer ingress IP or source range) skips only that entry (`skipped: "field"`).
 */
export interface ModelError {
  kind: "Service" | "EndpointSlice";
  /** The object's namespace and name as given (they may be the invalid values themselves). */
  namespace: string;
  name: string;
  /** The field at fault, e.g. "spec.ports[0].port". */
  field: string;
  /** What is wrong; an invalid value is quoted as a JSON string, so the message is one safe line. */
  message: string;
  /** What was left out: the whole object (default) or only the field named. */
  skipped: "object" | "field";
}

/** Input of {@link buildProxyModel}. */
export interface ProxyModelInput {
  services: readonly ServiceLike[];
  endpointSlices: readonly EndpointSliceLike[];
  /** This node's name: endpoints with this nodeName are local. */
  nodeName: string;
  /** This node's zone (topology.kubernetes.io/zone label), for topology-aware hints. */
  nodeZone?: string | undefined;
}

/** Options of {@link buildProxyModel}. */
export interface ProxyModelOptions {
  /**
   * The previous model: ServicePortModel objects are reused (same reference) for Services whose
   * input objects (the Service and its EndpointSlices) are the same references as last time,
   * which lets backends skip unchanged services cheaply.
   */
  previous?: ProxyModel | undefined;
}

/** Normalised, validated proxy state for one node. */
export interface ProxyModel {
  nodeName: string;
  nodeZone: string | undefined;
  /** In input order (services), then port order, then family (the order of the Service's clusterIPs). */
  servicePorts: ServicePortModel[];
  /** @internal input identity (Service object -> source), for reuse by the next build. */
  readonly sources: SourceMap;
}

/** @internal */
export type SourceMap = Map<ServiceLike, ServiceSource>;

/** @internal */
export const NO_SLICES: EndpointSliceLike[] = [];

/** @internal */
export interface ServiceSource {
  service: ServiceLike;
  slices: EndpointSliceLike[];
  ports: ServicePortModel[];
  errors: ModelError[];
}

/** Which of a service port's two policy chains carries each kind of traffic. */
export interface TrafficRouting {
  /** The cluster-policy chain (all usable endpoints) is needed. */
  usesClusterPolicyChain: boolean;
  /** The local-policy chain (this node's endpoints) is needed. */
  usesLocalPolicyChain: boolean;
  /** Policy chain for ClusterIP traffic: "local" under internalTrafficPolicy Local. */
  internal: "cluster" | "local";
  hasInternalEndpoints: boolean;
  /** Policy chain for external traffic (NodePort, externalIPs, LB): "local" under externalTrafficPolicy Local. */
  external: "cluster" | "local";
  hasExternalEndpoints: boolean;
  /** External traffic goes through the service's external chain (it has endpoints and is reachable from outside). */
  usesExternalChain: boolean;
}

/**
 * Routes a service port's traffic to its policy chains, as both upstream proxiers do
 * (pkg/proxy/{iptables,nftables}/proxier.go): a Local policy with no local endpoint leaves that
 * kind of traffic without endpoints even when other nodes have some.
 */
export function trafficRouting(sp: ServicePortModel): TrafficRouting {
  const noLocal = sp.localEndpoints.length === 0;
  return {
    usesClusterPolicyChain: sp.clusterEndpoints.length > 0 && sp.usesClusterEndpoints,
    usesLocalPolicyChain: !noLocal && sp.usesLocalEndpoints,
    internal: sp.internalPolicyLocal ? "local" : "cluster",
    hasInternalEndpoints: sp.hasEndpoints && !(sp.internalPolicyLocal && noLocal),
    external: sp.externalPolicyLocal ? "local" : "cluster",
    hasExternalEndpoints: sp.hasEndpoints && !(sp.externalPolicyLocal && noLocal),
    usesExternalChain: sp.hasEndpoints && sp.externallyAccessible,
  };
}

/** "ns/name" or "ns/name:port" built from names that passed Kubernetes' name rules. */
const RULE_SAFE_NAME = /^[a-z0-9-]+\/[a-z0-9-]+(?::[a-z0-9-]+)?$/;
const RULE_SAFE_PART = /^[a-z0-9-]*$/;

/**
 * @internal Backends call this before a service port's names go into rule text: a model made by
 * {@link buildProxyModel} always passes, a hand-made one with names that could break out of a
 * comment or a chain name (quotes, spaces, newlines, braces) is refused instead of applied.
 */
export function assertRuleSafe(sp: ServicePortModel): void {
  if (
    RULE_SAFE_NAME.test(sp.name) &&
    RULE_SAFE_PART.test(sp.namespace) &&
    RULE_SAFE_PART.test(sp.serviceName) &&
    RULE_SAFE_PART.test(sp.portName)
  )
    return;
  throw new NetrulesError(
    "InvalidInput",
    `service port ${JSON.stringify(sp.name)} has names that are not valid Kubernetes names; build the model with buildProxyModel`,
  );
}

/** The label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** Default ClientIP affinity timeout (core/v1 DefaultClientIPServiceAffinitySeconds). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

const PROTOCOLS = new Set<string>(["TCP", "UDP", "SCTP"]);
const NONE: string[] = [];

function validPort(p: unknown): p is number {
  return typeof p === "number" && Number.isInteger(p) && p >= 1 && p <= 65535;
}

class ObjectError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** An invalid value, quoted so that no character of it can break a log line. */
function quoted(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Checks a name against one of Kubernetes' name rules (as the API server would): names reach
 * chain names and rule comments, so anything else must never get that far.
 */
function checkName(field: string, value: unknown, validate: (v: unknown) => string[]): void {
  if (value === undefined || value === null || value === "") throw new ObjectError(field, "Required value");
  const problems = validate(value);
  if (problems.length > 0)
    throw new ObjectError(field, `Invalid value: ${quoted(value)}: ${problems.join("; ")}`);
}

interface ParsedSlice {
  family: IPFamily;
  ports: { name: string; port: number; protocol: Protocol }[];
  /** The validated endpoints, as given. */
  endpoints: EndpointLike[];
  /** Canonical text of each endpoint's first address (kube-proxy only uses that one). */
  ips: string[];
}

// Validates a slice without copying its endpoints: EndpointModels are made from them directly,
// one per endpoint and service port (100k per full build at 10k services x 10 endpoints).
function parseSlice(slice: EndpointSliceLike): ParsedSlice | undefined {
  // Mirrors ValidateEndpointSlice: the name is a DNS-1123 subdomain, port names DNS-1123 labels.
  checkName("metadata.name", slice.metadata?.name, validateDNS1123Subdomain);
  checkName("metadata.namespace", slice.metadata?.namespace, validateDNS1123Label);
  const type = slice.addressType;
  if (type === "FQDN") return undefined; // kube-proxy ignores FQDN slices
  if (type !== "IPv4" && type !== "IPv6") {
    throw new ObjectError("addressType", `unknown addressType ${JSON.stringify(type)}`);
  }
  const ports: ParsedSlice["ports"] = [];
  (slice.ports ?? []).forEach((p, i) => {
    const protocol = p.protocol ?? "TCP";
    if (!PROTOCOLS.has(protocol)) {
      throw new ObjectError(`ports[${i}].protocol`, `unknown protocol ${JSON.stringify(protocol)}`);
    }
    const name = p.name ?? "";
    if (name !== "") checkName(`ports[${i}].name`, name, validateDNS1123Label);
    if (p.port === undefined || p.port === null) return; // a port with no number matches nothing
    if (!validPort(p.port))
      throw new ObjectError(`ports[${i}].port`, `port ${String(p.port)} out of range 1-65535`);
    ports.push({ name, port: p.port, protocol: protocol as Protocol });
  });
  const endpoints = slice.endpoints ?? [];
  const ips: string[] = new Array(endpoints.length);
  for (let i = 0; i < endpoints.length; i++) {
    const addresses = endpoints[i]!.addresses ?? [];
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw new ObjectError(`endpoints[${i}].addresses`, "endpoint has no addresses");
    }
    for (let j = 0; j < addresses.length; j++) {
      const ip = canonicalIP(addresses[j]!, type);
      if (ip === undefined) {
        throw new ObjectError(
          `endpoints[${i}].addresses[${j}]`,
          `invalid ${type} address ${JSON.stringify(addresses[j])}`,
        );
      }
      if (j === 0) ips[i] = ip;
    }
  }
  return { family: type, ports, endpoints, ips };
}

interface ParsedServicePort {
  portName: string;
  protocol: Protocol;
  port: number;
  nodePort: number;
}

interface ParsedService {
  namespace: string;
  name: string;
  clusterIPs: Map<IPFamily, string>;
  ports: ParsedServicePort[];
  externalIPs: { family: IPFamily; ip: string }[];
  lbIPs: { family: IPFamily; ip: string }[];
  sourceRanges: Cidr[];
  affinityTimeoutSeconds: number | undefined;
  externallyAccessible: boolean;
  etpLocal: boolean;
  itpLocal: boolean;
  healthCheckNodePort: number;
}

function parseService(svc: ServiceLike, fieldErrors: ObjectError[]): ParsedService | undefined {
  // Mirrors ValidateService: names and namespaces reach chain names and comments, so they are
  // checked with the API server's own rules before anything else.
  checkName("metadata.name", svc.metadata?.name, validateDNS1035Label);
  checkName("metadata.namespace", svc.metadata?.namespace, validateDNS1123Label);
  const spec = svc.spec;
  if (!spec) throw new ObjectError("spec", "service has no spec");
  const type = spec.type ?? "ClusterIP";
  if (type === "ExternalName") return undefined; // not proxied
  if (!["ClusterIP", "NodePort", "LoadBalancer"].includes(type)) {
    throw new ObjectError("spec.type", `unknown service type ${JSON.stringify(type)}`);
  }
  const rawIPs =
    spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (rawIPs.length === 0 || rawIPs[0] === "None" || rawIPs[0] === "") return undefined; // headless / unallocated
  const clusterIPs = new Map<IPFamily, string>();
  rawIPs.forEach((raw, i) => {
    const ip = parseIPSloppy(raw);
    if (!ip) throw new ObjectError(`spec.clusterIPs[${i}]`, `invalid cluster IP ${JSON.stringify(raw)}`);
    if (clusterIPs.has(ip.family)) {
      throw new ObjectError(`spec.clusterIPs[${i}]`, `more than one ${ip.family} cluster IP`);
    }
    clusterIPs.set(ip.family, ip.ip);
  });
  const ports: ParsedServicePort[] = [];
  const seen = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    const protocol = p.protocol ?? "TCP";
    if (!PROTOCOLS.has(protocol)) {
      throw new ObjectError(`spec.ports[${i}].protocol`, `unknown protocol ${JSON.stringify(protocol)}`);
    }
    if (!validPort(p.port))
      throw new ObjectError(`spec.ports[${i}].port`, `port ${String(p.port)} out of range 1-65535`);
    const nodePort = p.nodePort ?? 0;
    if (nodePort !== 0 && !validPort(nodePort)) {
      throw new ObjectError(`spec.ports[${i}].nodePort`, `nodePort ${String(nodePort)} out of range 1-65535`);
    }
    const portName = p.name ?? "";
    // Service port names are DNS-1123 labels (validateServicePort), not IANA_SVC_NAMEs.
    if (portName !== "") checkName(`spec.ports[${i}].name`, portName, validateDNS1123Label);
    const id = `${portName}/${protocol}`;
    if (seen.has(id))
      throw new ObjectError(`spec.ports[${i}]`, `duplicate port name ${JSON.stringify(portName)}`);
    seen.add(id);
    ports.push({
      portName,
      protocol: protocol as Protocol,
      port: p.port,
      nodePort: type === "ClusterIP" ? 0 : nodePort,
    });
  });
  // Mirrors kube-proxy's MapIPsByIPFamily / MapCIDRsByIPFamily: an entry that does not parse is
  // skipped (and logged), the rest of the Service is programmed.
  const externalIPs: { family: IPFamily; ip: string }[] = [];
  (spec.externalIPs ?? []).forEach((raw, i) => {
    const ip = parseIPSloppy(raw);
    if (ip) externalIPs.push(ip);
    else
      fieldErrors.push(
        new ObjectError(
          `spec.externalIPs[${i}]`,
          `Invalid value: ${quoted(raw)}: not an IP address; skipped`,
        ),
      );
  });
  const lbIPs: { family: IPFamily; ip: string }[] = [];
  if (type === "LoadBalancer") {
    (svc.status?.loadBalancer?.ingress ?? []).forEach((ing, i) => {
      if (!ing.ip) return; // hostname-only ingress is not proxied
      // ipMode Proxy: the load balancer delivers to the node itself, kube-proxy does not capture the VIP.
      if (ing.ipMode === "Proxy") return;
      const ip = parseIPSloppy(ing.ip);
      if (ip) lbIPs.push(ip);
      else
        fieldErrors.push(
          new ObjectError(
            `status.loadBalancer.ingress[${i}].ip`,
            `Invalid value: ${quoted(ing.ip)}: not an IP address; skipped`,
          ),
        );
    });
  }
  const rawRanges = type === "LoadBalancer" ? (spec.loadBalancerSourceRanges ?? []) : [];
  const sourceRanges: Cidr[] = [];
  rawRanges.forEach((raw, i) => {
    const c = typeof raw === "string" ? parseCidr(raw.trim()) : undefined;
    if (c) sourceRanges.push(c);
    else
      fieldErrors.push(
        new ObjectError(
          `spec.loadBalancerSourceRanges[${i}]`,
          `Invalid value: ${quoted(raw)}: not a CIDR; skipped`,
        ),
      );
  });
  if (rawRanges.length > 0 && sourceRanges.length === 0 && lbIPs.length > 0) {
    // Upstream would program the LoadBalancer IPs with no firewall at all: open to every source,
    // although the user asked to restrict them. Ours fail closed: the LoadBalancer IPs are left
    // out (ClusterIP and NodePort are programmed as usual).
    fieldErrors.push(
      new ObjectError(
        "spec.loadBalancerSourceRanges",
        "no valid source range left; LoadBalancer IPs skipped rather than opened to every source",
      ),
    );
    lbIPs.length = 0;
  }
  let affinityTimeoutSeconds: number | undefined;
  if (spec.sessionAffinity === "ClientIP") {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    if (!Number.isInteger(t) || t < 1 || t > 86400) {
      throw new ObjectError(
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
        `timeout ${t} out of range 1-86400`,
      );
    }
    affinityTimeoutSeconds = t;
  } else if (spec.sessionAffinity !== undefined && spec.sessionAffinity !== "None") {
    throw new ObjectError(
      "spec.sessionAffinity",
      `unknown session affinity ${JSON.stringify(spec.sessionAffinity)}`,
    );
  }
  // Mirrors apiservice.ExternallyAccessible / ExternalPolicyLocal.
  const externallyAccessible = type === "LoadBalancer" || type === "NodePort" || externalIPs.length > 0;
  const healthCheckNodePort = spec.healthCheckNodePort ?? 0;
  if (healthCheckNodePort !== 0 && !validPort(healthCheckNodePort)) {
    throw new ObjectError("spec.healthCheckNodePort", `port ${healthCheckNodePort} out of range 1-65535`);
  }
  const etpLocal = externallyAccessible && spec.externalTrafficPolicy === "Local";
  return {
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    clusterIPs,
    ports,
    externalIPs,
    lbIPs,
    sourceRanges,
    affinityTimeoutSeconds,
    externallyAccessible,
    etpLocal,
    itpLocal: spec.internalTrafficPolicy === "Local",
    healthCheckNodePort: etpLocal && type === "LoadBalancer" ? healthCheckNodePort : 0,
  };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Mirrors kube-proxy's topology check: all ready endpoints carry hints and one is for us. */
function topologyFilter(
  endpoints: EndpointModel[],
  nodeName: string,
  nodeZone: string | undefined,
): ((ep: EndpointModel) => boolean) | undefined {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length === 0) return undefined;
  if (ready.every((e) => e.nodeHints.length > 0) && ready.some((e) => e.nodeHints.includes(nodeName))) {
    return (e) => e.nodeHints.includes(nodeName);
  }
  if (
    nodeZone !== undefined &&
    ready.every((e) => e.zoneHints.length > 0) &&
    ready.some((e) => e.zoneHints.includes(nodeZone))
  ) {
    return (e) => e.zoneHints.includes(nodeZone);
  }
  return undefined;
}

function categorize(sp: ServicePortModel, nodeName: string, nodeZone: string | undefined): void {
  // Mirrors pkg/proxy/topology.go CategorizeEndpoints.
  const eps = sp.endpoints;
  let cluster: EndpointModel[] = [];
  let local: EndpointModel[] = [];
  let hasAny = false;
  if (sp.usesClusterEndpoints) {
    const topo = topologyFilter(eps, nodeName, nodeZone);
    cluster = eps.filter((e) => e.ready && (topo === undefined || topo(e)));
    if (cluster.length === 0) cluster = eps.filter((e) => e.serving && e.terminating);
    if (cluster.length > 0) hasAny = true;
  }
  if (sp.usesLocalEndpoints) {
    let localReady = false;
    let localServingTerminating = false;
    for (const e of eps) {
      if (e.ready) {
        hasAny = true;
        if (e.local) localReady = true;
      } else if (e.serving && e.terminating) {
        hasAny = true;
        if (e.local) localServingTerminating = true;
      }
    }
    if (localReady) local = eps.filter((e) => e.local && e.ready);
    else if (localServingTerminating) local = eps.filter((e) => e.local && e.serving && e.terminating);
  }
  sp.clusterEndpoints = cluster;
  sp.localEndpoints = local;
  sp.hasEndpoints = hasAny;
  if (!sp.usesLocalEndpoints) sp.reachableEndpoints = cluster;
  else if (!sp.usesClusterEndpoints) sp.reachableEndpoints = local;
  else {
    const seen = new Set(cluster);
    sp.reachableEndpoints = [...cluster, ...local.filter((e) => !seen.has(e))];
  }
}

/** The texts of the items of one family; the shared empty array when there are none. */
function ofFamily<T extends { family: IPFamily }>(
  items: readonly T[],
  family: IPFamily,
  text: (item: T) => string,
): string[] {
  if (items.length === 0) return NONE;
  const out: string[] = [];
  for (const item of items) if (item.family === family) out.push(text(item));
  return out;
}

/** Appends one EndpointModel per endpoint of `slice`, for the slice port numbered `port`. */
function addEndpoints(out: EndpointModel[], slice: ParsedSlice, port: number, nodeName: string): void {
  const { endpoints, ips } = slice;
  for (let i = 0; i < endpoints.length; i++) {
    const ep = endpoints[i]!;
    const ip = ips[i]!;
    const conditions = ep.conditions;
    // Mirrors the EndpointSlice API defaults: ready unset means ready, serving unset means ready.
    const ready = conditions?.ready ?? true;
    const hints = ep.hints;
    out.push({
      ip,
      port,
      address: joinHostPort(ip, port),
      ready,
      serving: conditions?.serving ?? ready,
      terminating: conditions?.terminating ?? false,
      local: ep.nodeName === nodeName,
      nodeName: ep.nodeName ?? undefined,
      zone: ep.zone ?? undefined,
      zoneHints: hints?.forZones ? hints.forZones.map((z) => z.name) : NONE,
      nodeHints: hints?.forNodes ? hints.forNodes.map((n) => n.name) : NONE,
    });
  }
}

/**
 * Sorts endpoints by their "ip:port" string, as upstream does for stable output, and keeps the
 * first of several with the same address (the same endpoint listed in two slices). Slices are
 * usually already in order, so that is checked first.
 */
function sortAndDedupe(eps: EndpointModel[]): void {
  let ordered = true;
  for (let i = 1; i < eps.length; i++) {
    if (eps[i - 1]!.address >= eps[i]!.address) {
      ordered = false;
      break;
    }
  }
  if (ordered) return;
  // Array.prototype.sort is stable: the first occurrence of an address stays first among equals.
  eps.sort((a, b) => compareStrings(a.address, b.address));
  let kept = 1;
  for (let i = 1; i < eps.length; i++) {
    if (eps[i]!.address !== eps[kept - 1]!.address) eps[kept++] = eps[i]!;
  }
  eps.length = kept;
}

/** @internal */
export function buildService(
  svc: ServiceLike,
  slices: EndpointSliceLike[],
  nodeName: string,
  nodeZone: string | undefined,
  errors: ModelError[],
): ServicePortModel[] {
  const namespace = svc.metadata?.namespace ?? "";
  const svcName = svc.metadata?.name ?? "";
  let parsed: ParsedService | undefined;
  const fieldErrors: ObjectError[] = [];
  try {
    if (!svcName) throw new ObjectError("metadata.name", "service has no name");
    parsed = parseService(svc, fieldErrors);
  } catch (err) {
    if (!(err instanceof ObjectError)) throw err;
    errors.push({
      kind: "Service",
      namespace,
      name: svcName,
      field: err.field,
      message: err.message,
      skipped: "object",
    });
    return [];
  }
  for (const e of fieldErrors)
    errors.push({
      kind: "Service",
      namespace,
      name: svcName,
      field: e.field,
      message: e.message,
      skipped: "field",
    });
  if (!parsed) return [];
  const p = parsed;
  const parsedSlices: ParsedSlice[] = [];
  for (const slice of slices) {
    try {
      const ps = parseSlice(slice);
      if (ps) parsedSlices.push(ps);
    } catch (err) {
      if (!(err instanceof ObjectError)) throw err;
      errors.push({
        kind: "EndpointSlice",
        namespace: slice.metadata?.namespace ?? "",
        name: slice.metadata?.name ?? "",
        field: err.field,
        message: err.message,
        skipped: "object",
      });
    }
  }
  const out: ServicePortModel[] = [];
  for (const [family, clusterIP] of p.clusterIPs) {
    for (const port of p.ports) {
      const name = `${namespace}/${svcName}${port.portName ? `:${port.portName}` : ""}`;
      const endpoints: EndpointModel[] = [];
      for (const slice of parsedSlices) {
        if (slice.family !== family) continue;
        const sp = slice.ports.find((x) => x.name === port.portName && x.protocol === port.protocol);
        if (sp) addEndpoints(endpoints, slice, sp.port, nodeName);
      }
      sortAndDedupe(endpoints);
      const model: ServicePortModel = {
        key: `${family}|${name}|${port.protocol}`,
        family,
        namespace,
        serviceName: svcName,
        portName: port.portName,
        name,
        protocol: port.protocol,
        clusterIP,
        port: port.port,
        nodePort: port.nodePort,
        externalIPs: ofFamily(p.externalIPs, family, (x) => x.ip),
        loadBalancerIPs: ofFamily(p.lbIPs, family, (x) => x.ip),
        loadBalancerSourceRanges: ofFamily(p.sourceRanges, family, (c) => c.text),
        affinityTimeoutSeconds: p.affinityTimeoutSeconds,
        externallyAccessible: p.externallyAccessible,
        externalPolicyLocal: p.etpLocal,
        internalPolicyLocal: p.itpLocal,
        healthCheckNodePort: p.healthCheckNodePort,
        endpoints,
        clusterEndpoints: [],
        localEndpoints: [],
        reachableEndpoints: [],
        hasEndpoints: false,
        // Mirrors BaseServicePortInfo.UsesClusterEndpoints / UsesLocalEndpoints.
        usesClusterEndpoints: !p.itpLocal || p.externallyAccessible,
        usesLocalEndpoints: p.itpLocal || (p.etpLocal && p.externallyAccessible),
      };
      categorize(model, nodeName, nodeZone);
      out.push(model);
    }
  }
  return out;
}

function sameSlices(
  a: EndpointSliceLike[],
  found: EndpointSliceLike | EndpointSliceLike[] | undefined,
): boolean {
  if (found === undefined) return a.length === 0;
  if (!Array.isArray(found)) return a.length === 1 && a[0] === found;
  const b = found;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Builds the normalised proxy model from Services and EndpointSlices: a pure function. Invalid
 * objects are reported in `errors` (one entry per object, naming the field) and skipped; every
 * other Service is still in the model.
 */
export function buildProxyModel(
  input: ProxyModelInput,
  options: ProxyModelOptions = {},
): { model: ProxyModel; errors: ModelError[] } {
  const { nodeName } = input;
  if (typeof nodeName !== "string" || nodeName === "") {
    throw new NetrulesError("InvalidInput", "buildProxyModel: nodeName must be a non-empty string");
  }
  const nodeZone = input.nodeZone;
  const prev =
    options.previous && options.previous.nodeName === nodeName && options.previous.nodeZone === nodeZone
      ? options.previous
      : undefined;
  // Two-level maps keyed by the input's own namespace and name strings: V8 caches a string's hash
  // on the string, so lookups with the informer's (reused) strings are cheaper than building
  // "ns/name" keys on every build.
  // Most services have one slice: it is stored as is, and only services with several get an array.
  const slicesByService = new Map<string, Map<string, EndpointSliceLike | EndpointSliceLike[]>>();
  const errors: ModelError[] = [];
  for (const slice of input.endpointSlices) {
    const ns = slice.metadata?.namespace ?? "";
    const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue; // not managed for a Service; upstream ignores these too
    let byName = slicesByService.get(ns);
    if (!byName) {
      byName = new Map();
      slicesByService.set(ns, byName);
    }
    const cur = byName.get(svc);
    if (cur === undefined) byName.set(svc, slice);
    else if (Array.isArray(cur)) cur.push(slice);
    else byName.set(svc, [cur, slice]);
  }
  // Sources are keyed by the Service object itself: reuse needs object identity anyway.
  const sources: SourceMap = new Map();
  const seen = new Map<string, Set<string>>();
  const servicePorts: ServicePortModel[] = [];
  for (const svc of input.services) {
    const ns = svc.metadata?.namespace ?? "";
    const name = svc.metadata?.name ?? "";
    let names = seen.get(ns);
    if (!names) {
      names = new Set();
      seen.set(ns, names);
    }
    if (names.has(name)) {
      errors.push({
        kind: "Service",
        namespace: ns,
        name,
        field: "metadata.name",
        message: "duplicate service in input",
        skipped: "object",
      });
      continue;
    }
    names.add(name);
    const found = slicesByService.get(ns)?.get(name);
    const old = prev?.sources.get(svc);
    let src: ServiceSource;
    if (old && sameSlices(old.slices, found)) {
      src = old;
    } else {
      const slices = found === undefined ? NO_SLICES : Array.isArray(found) ? found : [found];
      const errs: ModelError[] = [];
      src = {
        service: svc,
        slices,
        ports: buildService(svc, slices, nodeName, nodeZone, errs),
        errors: errs,
      };
    }
    sources.set(svc, src);
    for (const e of src.errors) errors.push(e);
    for (const p of src.ports) servicePorts.push(p);
  }
  return { model: { nodeName, nodeZone, servicePorts, sources }, errors };
}
