import { parseGoDurationMs } from "@kubenode/kube";
import type { KubeProxyConfiguration } from "./config.js";
import { ProxyError } from "./errors.js";

type Kind = "string" | "bool" | "int" | "float" | "duration" | "list" | "gates";

interface FlagDef {
  name: string;
  kind: Kind;
  help: string;
  /** Applies the value to the configuration; absent for command flags (--config, --cleanup ...). */
  apply?: (c: KubeProxyConfiguration, v: never) => void;
  /** Still applied when --config is given (upstream: logging flags and --hostname-override). */
  overridesConfigFile?: boolean;
  /** Default shown in --help. */
  def?: string;
}

const set =
  <T>(fn: (c: KubeProxyConfiguration, v: T) => void) =>
  (c: KubeProxyConfiguration, v: never) =>
    fn(c, v as T);

/** Flags named as in upstream kube-proxy (cmd/kube-proxy/app/options.go). */
export const FLAGS: readonly FlagDef[] = [
  { name: "config", kind: "string", help: "The path to the configuration file (KubeProxyConfiguration)." },
  {
    name: "write-config-to",
    kind: "string",
    help: "If set, write the default configuration values to this file and exit.",
  },
  { name: "cleanup", kind: "bool", help: "If true cleanup iptables and nftables rules and exit." },
  {
    name: "init-only",
    kind: "bool",
    help: "If true, perform any initialization steps that must be done with full root privileges, and then exit.",
  },
  { name: "version", kind: "bool", help: "Print version information and quit." },
  { name: "help", kind: "bool", help: "help for kubenode-proxy" },
  {
    name: "master",
    kind: "string",
    help: "The address of the Kubernetes API server (overrides any value in kubeconfig).",
  },
  {
    name: "kubeconfig",
    kind: "string",
    help: "Path to kubeconfig file with authorization information.",
    apply: set<string>((c, v) => {
      c.clientConnection.kubeconfig = v;
    }),
  },
  {
    name: "hostname-override",
    kind: "string",
    help: "If non-empty, will be used as the name of the Node that kube-proxy is running on.",
    apply: set<string>((c, v) => {
      c.hostnameOverride = v;
    }),
    overridesConfigFile: true,
  },
  {
    name: "proxy-mode",
    kind: "string",
    help: "Which proxy mode to use: 'iptables' (default), 'nftables' or 'ipvs' (rule generation only).",
    apply: set<string>((c, v) => {
      c.mode = v as KubeProxyConfiguration["mode"];
    }),
  },
  {
    name: "cluster-cidr",
    kind: "string",
    help: "The CIDR range of the pods in the cluster (comma-separated for dual-stack). Traffic to a Service cluster IP from outside this range is masqueraded.",
    apply: set<string>((c, v) => {
      c.clusterCIDR = v;
    }),
  },
  {
    name: "masquerade-all",
    kind: "bool",
    help: "SNAT all traffic sent via Service cluster IPs.",
    apply: set<boolean>((c, v) => {
      c.iptables.masqueradeAll = v;
      c.nftables.masqueradeAll = v;
    }),
  },
  {
    name: "nodeport-addresses",
    kind: "list",
    help: "A list of CIDR ranges that contain valid node IPs, or 'primary'. NodePorts are only accepted on matching IPs of this host's interfaces. Empty means all local IPs in iptables mode and 'primary' in nftables mode.",
    apply: set<string[]>((c, v) => {
      c.nodePortAddresses = v;
    }),
  },
  {
    name: "bind-address",
    kind: "string",
    def: "0.0.0.0",
    help: "Overrides kube-proxy's idea of what its node's primary IP is.",
    apply: set<string>((c, v) => {
      c.bindAddress = v;
    }),
  },
  {
    name: "healthz-bind-address",
    kind: "string",
    def: "0.0.0.0:10256",
    help: "The IP address and port for the health check server to serve on. Set empty to disable.",
    apply: set<string>((c, v) => {
      c.healthzBindAddress = v;
    }),
  },
  {
    name: "metrics-bind-address",
    kind: "string",
    def: "127.0.0.1:10249",
    help: "The IP address and port for the metrics server to serve on. Set empty to disable.",
    apply: set<string>((c, v) => {
      c.metricsBindAddress = v;
    }),
  },
  {
    name: "sync-period",
    kind: "duration",
    def: "30s",
    help: "An interval (e.g. '5s', '1m') that determines how often rules are refreshed in the background.",
    apply: set<string>((c, v) => {
      c.iptables.syncPeriod = v;
      c.nftables.syncPeriod = v;
      c.ipvs.syncPeriod = v;
    }),
  },
  {
    name: "min-sync-period",
    kind: "duration",
    def: "1s",
    help: "The minimum interval between rule resyncs caused by Service or EndpointSlice changes.",
    apply: set<string>((c, v) => {
      c.iptables.minSyncPeriod = v;
      c.nftables.minSyncPeriod = v;
      c.ipvs.minSyncPeriod = v;
    }),
  },
  {
    name: "iptables-sync-period",
    kind: "duration",
    def: "30s",
    help: "Deprecated alias of --sync-period (iptables and nftables modes).",
    apply: set<string>((c, v) => {
      c.iptables.syncPeriod = v;
      c.nftables.syncPeriod = v;
    }),
  },
  {
    name: "iptables-min-sync-period",
    kind: "duration",
    def: "1s",
    help: "Deprecated alias of --min-sync-period (iptables and nftables modes).",
    apply: set<string>((c, v) => {
      c.iptables.minSyncPeriod = v;
      c.nftables.minSyncPeriod = v;
    }),
  },
  {
    name: "iptables-masquerade-bit",
    kind: "int",
    def: "14",
    help: "The bit of the fwmark space to mark packets requiring SNAT with. Must be within [0, 31].",
    apply: set<number>((c, v) => {
      c.iptables.masqueradeBit = v;
      c.nftables.masqueradeBit = v;
    }),
  },
  {
    name: "iptables-localhost-nodeports",
    kind: "bool",
    def: "true",
    help: "If false, NodePorts are not accepted on 127.0.0.1 (iptables mode).",
    apply: set<boolean>((c, v) => {
      c.iptables.localhostNodePorts = v;
    }),
  },
  {
    name: "ipvs-sync-period",
    kind: "duration",
    def: "30s",
    help: "The maximum interval of how often ipvs rules are refreshed.",
    apply: set<string>((c, v) => {
      c.ipvs.syncPeriod = v;
    }),
  },
  {
    name: "ipvs-min-sync-period",
    kind: "duration",
    help: "The minimum interval of how often the ipvs rules can be refreshed.",
    apply: set<string>((c, v) => {
      c.ipvs.minSyncPeriod = v;
    }),
  },
  {
    name: "ipvs-scheduler",
    kind: "string",
    help: "The ipvs scheduler type when proxy mode is ipvs.",
    apply: set<string>((c, v) => {
      c.ipvs.scheduler = v;
    }),
  },
  {
    name: "ipvs-strict-arp",
    kind: "bool",
    help: "Enable strict ARP by setting arp_ignore to 1 and arp_announce to 2.",
    apply: set<boolean>((c, v) => {
      c.ipvs.strictARP = v;
    }),
  },
  {
    name: "ipvs-exclude-cidrs",
    kind: "list",
    help: "CIDRs the ipvs proxier should not touch when cleaning up IPVS rules.",
    apply: set<string[]>((c, v) => {
      c.ipvs.excludeCIDRs = v;
    }),
  },
  {
    name: "conntrack-max-per-core",
    kind: "int",
    def: "32768",
    help: "Maximum number of NAT connections to track per CPU core (0 to leave the limit as-is and ignore conntrack-min).",
    apply: set<number>((c, v) => {
      c.conntrack.maxPerCore = v;
    }),
  },
  {
    name: "conntrack-min",
    kind: "int",
    def: "131072",
    help: "Minimum number of conntrack entries to allocate, regardless of conntrack-max-per-core.",
    apply: set<number>((c, v) => {
      c.conntrack.min = v;
    }),
  },
  {
    name: "conntrack-tcp-timeout-established",
    kind: "duration",
    def: "24h0m0s",
    help: "Idle timeout for established TCP connections (0 to leave as-is).",
    apply: set<string>((c, v) => {
      c.conntrack.tcpEstablishedTimeout = v;
    }),
  },
  {
    name: "conntrack-tcp-timeout-close-wait",
    kind: "duration",
    def: "1h0m0s",
    help: "NAT timeout for TCP connections in the CLOSE_WAIT state.",
    apply: set<string>((c, v) => {
      c.conntrack.tcpCloseWaitTimeout = v;
    }),
  },
  {
    name: "conntrack-tcp-be-liberal",
    kind: "bool",
    help: "Enable liberal mode for tracking TCP packets (nf_conntrack_tcp_be_liberal=1).",
    apply: set<boolean>((c, v) => {
      c.conntrack.tcpBeLiberal = v;
    }),
  },
  {
    name: "conntrack-udp-timeout",
    kind: "duration",
    help: "Idle timeout for UNREPLIED UDP connections (0 to leave as-is).",
    apply: set<string>((c, v) => {
      c.conntrack.udpTimeout = v;
    }),
  },
  {
    name: "conntrack-udp-timeout-stream",
    kind: "duration",
    help: "Idle timeout for ASSURED UDP connections (0 to leave as-is).",
    apply: set<string>((c, v) => {
      c.conntrack.udpStreamTimeout = v;
    }),
  },
  {
    name: "config-sync-period",
    kind: "duration",
    def: "15m0s",
    help: "How often configuration from the apiserver is refreshed. Must be greater than 0.",
    apply: set<string>((c, v) => {
      c.configSyncPeriod = v;
    }),
  },
  {
    name: "detect-local-mode",
    kind: "string",
    help: "Mode to use to detect local traffic (ClusterCIDR).",
    apply: set<string>((c, v) => {
      c.detectLocalMode = v;
    }),
  },
  {
    name: "oom-score-adj",
    kind: "int",
    def: "-999",
    help: "The oom-score-adj value for the kube-proxy process, within [-1000, 1000].",
    apply: set<number>((c, v) => {
      c.oomScoreAdj = v;
    }),
  },
  {
    name: "kube-api-qps",
    kind: "float",
    def: "5",
    help: "QPS to use while talking with kubernetes apiserver.",
    apply: set<number>((c, v) => {
      c.clientConnection.qps = v;
    }),
  },
  {
    name: "kube-api-burst",
    kind: "int",
    def: "10",
    help: "Burst to use while talking with kubernetes apiserver.",
    apply: set<number>((c, v) => {
      c.clientConnection.burst = v;
    }),
  },
  {
    name: "kube-api-content-type",
    kind: "string",
    help: "Content type of requests sent to apiserver.",
    apply: set<string>((c, v) => {
      c.clientConnection.contentType = v;
    }),
  },
  {
    name: "profiling",
    kind: "bool",
    help: "If true enables profiling via web interface on /debug/pprof handler (not implemented; accepted for compatibility).",
    apply: set<boolean>((c, v) => {
      c.enableProfiling = v;
    }),
  },
  {
    name: "bind-address-hard-fail",
    kind: "bool",
    help: "If true kube-proxy will treat failure to bind to a port as fatal and exit.",
    apply: set<boolean>((c, v) => {
      c.bindAddressHardFail = v;
    }),
  },
  {
    name: "feature-gates",
    kind: "gates",
    help: "A set of key=value pairs that describe feature gates.",
    apply: set<Record<string, boolean>>((c, v) => {
      c.featureGates = { ...c.featureGates, ...v };
    }),
  },
  {
    name: "logging-format",
    kind: "string",
    def: "text",
    help: 'Sets the log format. Permitted formats: "json", "text".',
    apply: set<string>((c, v) => {
      c.logging.format = v;
    }),
    overridesConfigFile: true,
  },
  {
    name: "v",
    kind: "int",
    def: "0",
    help: "number for the log level verbosity",
    apply: set<number>((c, v) => {
      c.logging.verbosity = v;
    }),
    overridesConfigFile: true,
  },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

/** The command line, parsed. */
export interface ParsedFlags {
  /** Flag name -> raw value as given (last one wins). */
  values: Map<string, string>;
  config?: string;
  writeConfigTo?: string;
  master?: string;
  cleanup: boolean;
  initOnly: boolean;
  version: boolean;
  help: boolean;
}

function flagError(name: string, message: string): ProxyError {
  return new ProxyError("InvalidFlag", `invalid argument for --${name}: ${message}`, { field: `--${name}` });
}

function boolValue(name: string, raw: string): boolean {
  if (/^(true|1|t|T|TRUE|True)$/.test(raw)) return true;
  if (/^(false|0|f|F|FALSE|False)$/.test(raw)) return false;
  throw flagError(name, `${JSON.stringify(raw)} is not a boolean`);
}

function convert(def: FlagDef, raw: string): unknown {
  switch (def.kind) {
    case "bool":
      return boolValue(def.name, raw);
    case "int": {
      if (!/^[+-]?\d+$/.test(raw)) throw flagError(def.name, `${JSON.stringify(raw)} is not an integer`);
      return Number(raw);
    }
    case "float": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n))
        throw flagError(def.name, `${JSON.stringify(raw)} is not a number`);
      return n;
    }
    case "duration":
      try {
        parseGoDurationMs(raw);
      } catch {
        throw flagError(
          def.name,
          `${JSON.stringify(raw)} is not a duration (want e.g. "30s", "1m", "500ms")`,
        );
      }
      return raw;
    case "list":
      return raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    case "gates": {
      const out: Record<string, boolean> = {};
      for (const pair of raw.split(",").filter(Boolean)) {
        const [k, v] = pair.split("=");
        if (!k || v === undefined) throw flagError(def.name, `${JSON.stringify(pair)} is not key=true|false`);
        out[k.trim()] = boolValue(def.name, v.trim());
      }
      return out;
    }
    default:
      return raw;
  }
}

/** Parses argv (without node and script) in pflag style: `--name=value`, `--name value`, `--bool`. */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h") {
      values.set("help", "true");
      continue;
    }
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m)
      throw new ProxyError(
        "InvalidFlag",
        `unexpected argument ${JSON.stringify(arg)} (kubenode-proxy takes flags only)`,
        { field: arg },
      );
    const name = m[1]!;
    const def = BY_NAME.get(name);
    if (!def) throw new ProxyError("InvalidFlag", `unknown flag: --${name}`, { field: `--${name}` });
    let raw = m[2];
    if (raw === undefined) {
      if (def.kind === "bool") raw = "true";
      else {
        raw = argv[++i];
        if (raw === undefined) throw flagError(name, "flag needs an argument");
      }
    }
    convert(def, raw); // validate now, so the error names the flag
    values.set(name, raw);
  }
  const get = (n: string) => values.get(n);
  const bool = (n: string) => (values.has(n) ? boolValue(n, values.get(n)!) : false);
  return {
    values,
    ...(get("config") !== undefined ? { config: get("config")! } : {}),
    ...(get("write-config-to") !== undefined ? { writeConfigTo: get("write-config-to")! } : {}),
    ...(get("master") !== undefined ? { master: get("master")! } : {}),
    cleanup: bool("cleanup"),
    initOnly: bool("init-only"),
    version: bool("version"),
    help: bool("help"),
  };
}

/**
 * Applies flags to a configuration. With a config file, upstream ignores most flags: only
 * logging flags and --hostname-override win. Returns the flags that were ignored.
 */
export function applyFlags(config: KubeProxyConfiguration, flags: ParsedFlags, fromFile: boolean): string[] {
  const ignored: string[] = [];
  for (const [name, raw] of flags.values) {
    const def = BY_NAME.get(name)!;
    if (!def.apply) continue;
    if (fromFile && !def.overridesConfigFile) {
      ignored.push(`--${name}`);
      continue;
    }
    def.apply(config, convert(def, raw) as never);
  }
  return ignored;
}

/** The --help text. */
export function usage(): string {
  const lines = [
    "kubenode-proxy: the Kubernetes network proxy, on @kubenode/netrules.",
    "It reflects Services and EndpointSlices into iptables or nftables rules on this node.",
    "",
    "Usage:",
    "  kubenode-proxy [flags]",
    "",
    "Flags:",
  ];
  for (const f of FLAGS) {
    const type = f.kind === "bool" ? "" : ` ${f.kind}`;
    const def = f.def ? ` (default ${f.def})` : "";
    lines.push(`      --${f.name}${type}`);
    lines.push(`            ${f.help}${def}`);
  }
  return `${lines.join("\n")}\n`;
}
