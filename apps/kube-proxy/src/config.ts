import { isIP } from "node:net";
import { parseGoDurationMs } from "@kubenode/kube";
import { parse as parseYaml } from "yaml";
import { ProxyError } from "./errors.js";

/** Proxy modes. `ipvs` only generates rules here (these kernels have no IPVS). */
export type ProxyMode = "iptables" | "nftables" | "ipvs";

export const CONFIG_API_VERSION = "kubeproxy.config.k8s.io/v1alpha1";
export const CONFIG_KIND = "KubeProxyConfiguration";

/**
 * KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1), the fields kubenode-proxy reads.
 * Durations are Go duration strings, as in the upstream file format.
 */
export interface KubeProxyConfiguration {
  apiVersion: string;
  kind: string;
  bindAddress: string;
  healthzBindAddress: string;
  metricsBindAddress: string;
  bindAddressHardFail: boolean;
  enableProfiling: boolean;
  clientConnection: {
    kubeconfig: string;
    acceptContentTypes: string;
    contentType: string;
    qps: number;
    burst: number;
  };
  hostnameOverride: string;
  mode: ProxyMode | "";
  iptables: {
    masqueradeAll: boolean;
    masqueradeBit: number;
    localhostNodePorts: boolean;
    syncPeriod: string;
    minSyncPeriod: string;
  };
  ipvs: {
    syncPeriod: string;
    minSyncPeriod: string;
    scheduler: string;
    excludeCIDRs: string[];
    strictARP: boolean;
    tcpTimeout: string;
    tcpFinTimeout: string;
    udpTimeout: string;
  };
  nftables: {
    masqueradeAll: boolean;
    masqueradeBit: number;
    syncPeriod: string;
    minSyncPeriod: string;
  };
  conntrack: {
    maxPerCore: number;
    min: number;
    tcpEstablishedTimeout: string;
    tcpCloseWaitTimeout: string;
    tcpBeLiberal: boolean;
    udpTimeout: string;
    udpStreamTimeout: string;
  };
  configSyncPeriod: string;
  nodePortAddresses: string[];
  clusterCIDR: string;
  detectLocalMode: string;
  oomScoreAdj: number;
  portRange: string;
  logging: { format: string; verbosity: number };
  featureGates: Record<string, boolean>;
  showHiddenMetricsForVersion: string;
}

/** The upstream v1alpha1 defaults (pkg/proxy/apis/config/v1alpha1/defaults.go). */
export function defaultConfig(): KubeProxyConfiguration {
  return {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    bindAddress: "0.0.0.0",
    healthzBindAddress: "0.0.0.0:10256",
    metricsBindAddress: "127.0.0.1:10249",
    bindAddressHardFail: false,
    enableProfiling: false,
    clientConnection: {
      kubeconfig: "",
      acceptContentTypes: "",
      contentType: "application/vnd.kubernetes.protobuf",
      qps: 5,
      burst: 10,
    },
    hostnameOverride: "",
    mode: "",
    iptables: {
      masqueradeAll: false,
      masqueradeBit: 14,
      localhostNodePorts: true,
      syncPeriod: "30s",
      minSyncPeriod: "1s",
    },
    ipvs: {
      syncPeriod: "30s",
      minSyncPeriod: "0s",
      scheduler: "",
      excludeCIDRs: [],
      strictARP: false,
      tcpTimeout: "0s",
      tcpFinTimeout: "0s",
      udpTimeout: "0s",
    },
    nftables: { masqueradeAll: false, masqueradeBit: 14, syncPeriod: "30s", minSyncPeriod: "1s" },
    conntrack: {
      maxPerCore: 32768,
      min: 131072,
      tcpEstablishedTimeout: "24h0m0s",
      tcpCloseWaitTimeout: "1h0m0s",
      tcpBeLiberal: false,
      udpTimeout: "0s",
      udpStreamTimeout: "0s",
    },
    configSyncPeriod: "15m0s",
    nodePortAddresses: [],
    clusterCIDR: "",
    detectLocalMode: "ClusterCIDR",
    oomScoreAdj: -999,
    portRange: "",
    logging: { format: "text", verbosity: 0 },
    featureGates: {},
    showHiddenMetricsForVersion: "",
  };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(field: string, message: string): never {
  throw new ProxyError("InvalidConfig", `invalid configuration: ${field}: ${message}`, { field });
}

/** Overlays `src` onto `dst` field by field, checking each value's type against the default's. */
function overlay(dst: Json, src: Json, path: string, unknown: string[]): void {
  for (const [key, value] of Object.entries(src)) {
    const field = path ? `${path}.${key}` : key;
    if (!(key in dst)) {
      unknown.push(field);
      continue;
    }
    const cur = dst[key];
    if (value === null || value === undefined) continue;
    if (key === "featureGates") {
      if (!isObject(value)) fail(field, "must be a map of feature name to true/false");
      for (const [gate, on] of Object.entries(value)) {
        if (typeof on !== "boolean")
          fail(`${field}.${gate}`, `must be true or false, got ${JSON.stringify(on)}`);
      }
      dst[key] = { ...value };
    } else if (Array.isArray(cur)) {
      if (!Array.isArray(value) || !value.every((x) => typeof x === "string"))
        fail(field, `must be a list of strings, got ${JSON.stringify(value)}`);
      dst[key] = [...value];
    } else if (isObject(cur)) {
      if (!isObject(value)) fail(field, `must be an object, got ${JSON.stringify(value)}`);
      overlay(cur, value, field, unknown);
    } else if (typeof cur === "number") {
      if (typeof value !== "number" || !Number.isFinite(value))
        fail(field, `must be a number, got ${JSON.stringify(value)}`);
      dst[key] = value;
    } else if (typeof cur === "boolean") {
      if (typeof value !== "boolean") fail(field, `must be true or false, got ${JSON.stringify(value)}`);
      dst[key] = value;
    } else {
      if (typeof value !== "string") fail(field, `must be a string, got ${JSON.stringify(value)}`);
      dst[key] = value;
    }
  }
}

/** Result of {@link parseConfigText}. */
export interface ParsedConfig {
  config: KubeProxyConfiguration;
  /** Fields the file set that kubenode-proxy does not know (upstream decodes leniently and warns). */
  unknownFields: string[];
}

/** Parses a KubeProxyConfiguration YAML/JSON document over the defaults. */
export function parseConfigText(text: string, source = "(config)"): ParsedConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ProxyError("InvalidConfig", `${source} is not valid YAML: ${(err as Error).message}`, {
      cause: err,
      field: "config",
    });
  }
  if (!isObject(doc)) fail("config", `${source} must hold a ${CONFIG_KIND} object`);
  if (doc.kind !== CONFIG_KIND)
    fail("kind", `must be ${JSON.stringify(CONFIG_KIND)}, got ${JSON.stringify(doc.kind)}`);
  if (doc.apiVersion !== CONFIG_API_VERSION)
    fail(
      "apiVersion",
      `must be ${JSON.stringify(CONFIG_API_VERSION)}, got ${JSON.stringify(doc.apiVersion)}`,
    );
  const config = defaultConfig();
  const unknownFields: string[] = [];
  overlay(config as unknown as Json, doc, "", unknownFields);
  return { config, unknownFields };
}

function checkDuration(errors: string[], field: string, text: string, { positive = false } = {}): number {
  let ms: number;
  try {
    ms = parseGoDurationMs(text);
  } catch {
    errors.push(`${field}: invalid duration ${JSON.stringify(text)} (want e.g. "30s", "1m", "500ms")`);
    return 0;
  }
  if (positive && ms <= 0) errors.push(`${field}: must be greater than 0, got ${JSON.stringify(text)}`);
  else if (ms < 0) errors.push(`${field}: must be greater than or equal to 0, got ${JSON.stringify(text)}`);
  return ms;
}

function isCidr(text: string): 4 | 6 | 0 {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return 0;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  if (family === 4 && bits <= 32) return 4;
  if (family === 6 && bits <= 128) return 6;
  return 0;
}

function checkHostPort(errors: string[], field: string, value: string): void {
  if (value === "") return; // empty disables the server
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || (host !== "" && isIP(host ?? "") === 0) || !(port >= 0 && port <= 65535)) {
    errors.push(
      `${field}: must be IP:port (e.g. "0.0.0.0:10256", "[::]:10256"), got ${JSON.stringify(value)}`,
    );
  }
}

/** The settings of the selected mode, resolved to numbers. */
export interface ResolvedConfig {
  config: KubeProxyConfiguration;
  mode: ProxyMode;
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  masqueradeBit: number;
  masqueradeAll: boolean;
  configSyncPeriodMs: number;
  clusterCIDRs: string[];
  conntrack: {
    maxPerCore: number;
    min: number;
    tcpEstablishedTimeoutMs: number;
    tcpCloseWaitTimeoutMs: number;
    tcpBeLiberal: boolean;
    udpTimeoutMs: number;
    udpStreamTimeoutMs: number;
  };
}

const MODES = new Set(["", "iptables", "nftables", "ipvs"]);
const LOCAL_MODES = new Set(["", "ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"]);

/**
 * Validates a configuration (mirrors pkg/proxy/apis/config/validation) and resolves the
 * settings of the selected mode. Throws one InvalidConfig error listing every field at fault.
 */
export function validateConfig(config: KubeProxyConfiguration): ResolvedConfig {
  const errors: string[] = [];
  if (!MODES.has(config.mode))
    errors.push(`mode: must be one of "iptables", "nftables", "ipvs", got ${JSON.stringify(config.mode)}`);
  const mode: ProxyMode = config.mode === "" ? "iptables" : config.mode;
  const sections = { iptables: config.iptables, nftables: config.nftables, ipvs: config.ipvs } as const;
  const periods: Record<string, { sync: number; min: number }> = {};
  for (const [name, sec] of Object.entries(sections)) {
    const sync = checkDuration(errors, `${name}.syncPeriod`, sec.syncPeriod, { positive: true });
    const min = checkDuration(errors, `${name}.minSyncPeriod`, sec.minSyncPeriod);
    if (sync > 0 && min > sync)
      errors.push(
        `${name}.syncPeriod: must be greater than or equal to ${name}.minSyncPeriod (${sec.minSyncPeriod}), got ${sec.syncPeriod}`,
      );
    periods[name] = { sync, min };
  }
  for (const [name, bit] of [
    ["iptables.masqueradeBit", config.iptables.masqueradeBit],
    ["nftables.masqueradeBit", config.nftables.masqueradeBit],
  ] as const) {
    if (!Number.isInteger(bit) || bit < 0 || bit > 31)
      errors.push(`${name}: must be within [0, 31], got ${bit}`);
  }
  if (isIP(config.bindAddress) === 0)
    errors.push(`bindAddress: not a valid IP address: ${JSON.stringify(config.bindAddress)}`);
  checkHostPort(errors, "healthzBindAddress", config.healthzBindAddress);
  checkHostPort(errors, "metricsBindAddress", config.metricsBindAddress);
  const configSyncPeriodMs = checkDuration(errors, "configSyncPeriod", config.configSyncPeriod, {
    positive: true,
  });
  if (!Number.isInteger(config.oomScoreAdj) || config.oomScoreAdj < -1000 || config.oomScoreAdj > 1000)
    errors.push(`oomScoreAdj: must be within [-1000, 1000], got ${config.oomScoreAdj}`);
  if (config.clientConnection.qps < 0) errors.push(`clientConnection.qps: must be >= 0`);
  if (!Number.isInteger(config.clientConnection.burst) || config.clientConnection.burst < 0)
    errors.push(`clientConnection.burst: must be a non-negative integer`);
  const clusterCIDRs = config.clusterCIDR
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const families = clusterCIDRs.map((c) => isCidr(c));
  clusterCIDRs.forEach((c, i) => {
    if (families[i] === 0) errors.push(`clusterCIDR: invalid CIDR ${JSON.stringify(c)}`);
  });
  if (clusterCIDRs.length > 2 || (clusterCIDRs.length === 2 && families[0] === families[1]))
    errors.push(`clusterCIDR: at most one CIDR per IP family, got ${JSON.stringify(config.clusterCIDR)}`);
  config.nodePortAddresses.forEach((a, i) => {
    if (a !== "primary" && isCidr(a) === 0)
      errors.push(`nodePortAddresses[${i}]: must be a CIDR or "primary", got ${JSON.stringify(a)}`);
  });
  if (config.nodePortAddresses.includes("primary") && config.nodePortAddresses.length > 1)
    errors.push(`nodePortAddresses: "primary" cannot be combined with CIDRs`);
  config.ipvs.excludeCIDRs.forEach((c, i) => {
    if (isCidr(c) === 0) errors.push(`ipvs.excludeCIDRs[${i}]: invalid CIDR ${JSON.stringify(c)}`);
  });
  if (!LOCAL_MODES.has(config.detectLocalMode))
    errors.push(
      `detectLocalMode: must be one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix, got ${JSON.stringify(config.detectLocalMode)}`,
    );
  if (config.portRange !== "" && !/^\d+([-+]\d+)?$/.test(config.portRange))
    errors.push(
      `portRange: must be "begin-end", "port" or "begin+offset", got ${JSON.stringify(config.portRange)}`,
    );
  if (config.logging.format !== "text" && config.logging.format !== "json")
    errors.push(`logging.format: must be "text" or "json", got ${JSON.stringify(config.logging.format)}`);
  if (!Number.isInteger(config.logging.verbosity) || config.logging.verbosity < 0)
    errors.push(`logging.verbosity: must be a non-negative integer, got ${config.logging.verbosity}`);
  const ct = config.conntrack;
  if (!Number.isInteger(ct.maxPerCore) || ct.maxPerCore < 0)
    errors.push(`conntrack.maxPerCore: must be greater than or equal to 0, got ${ct.maxPerCore}`);
  if (!Number.isInteger(ct.min) || ct.min < 0)
    errors.push(`conntrack.min: must be greater than or equal to 0, got ${ct.min}`);
  const conntrack = {
    maxPerCore: ct.maxPerCore,
    min: ct.min,
    tcpEstablishedTimeoutMs: checkDuration(
      errors,
      "conntrack.tcpEstablishedTimeout",
      ct.tcpEstablishedTimeout,
    ),
    tcpCloseWaitTimeoutMs: checkDuration(errors, "conntrack.tcpCloseWaitTimeout", ct.tcpCloseWaitTimeout),
    tcpBeLiberal: ct.tcpBeLiberal,
    udpTimeoutMs: checkDuration(errors, "conntrack.udpTimeout", ct.udpTimeout),
    udpStreamTimeoutMs: checkDuration(errors, "conntrack.udpStreamTimeout", ct.udpStreamTimeout),
  };
  for (const f of ["tcpTimeout", "tcpFinTimeout", "udpTimeout"] as const)
    checkDuration(errors, `ipvs.${f}`, config.ipvs[f]);
  if (errors.length > 0) {
    const field = errors[0]!.split(":")[0]!;
    throw new ProxyError("InvalidConfig", `invalid configuration:\n  ${errors.join("\n  ")}`, { field });
  }
  const p = periods[mode]!;
  const masq = mode === "nftables" ? config.nftables : config.iptables;
  return {
    config,
    mode,
    syncPeriodMs: p.sync,
    minSyncPeriodMs: p.min,
    masqueradeBit: masq.masqueradeBit,
    masqueradeAll: masq.masqueradeAll,
    configSyncPeriodMs,
    clusterCIDRs,
    conntrack,
  };
}
