import { parseGoDurationMs } from "@kubenode/kube";
import type { ConfigTaint, KubeletConfiguration } from "./configuration.js";
import { ConfigError } from "./errors.js";
import { parseTaints } from "./validation.js";

/** Flags that are not KubeletConfiguration fields (upstream's KubeletFlags). */
export interface KubeletFlags {
  /** `--config`: path of the KubeletConfiguration file. */
  config?: string;
  /** `--kubeconfig`: API credentials; absent = standalone mode (static pods only). */
  kubeconfig?: string;
  /**
   * `--bootstrap-kubeconfig`: credentials (a bootstrap token) used only to request a client
   * certificate when `--kubeconfig` has no valid one; the result is written to `--kubeconfig`.
   */
  bootstrapKubeconfig?: string;
  /** `--cert-dir`: where issued certificates go; default `<root-dir>/pki`. */
  certDir?: string;
  /** `--hostname-override`: the node name instead of the host name. */
  hostnameOverride?: string;
  /** `--node-ip`: IPs (at most one per family) reported as InternalIP and pods' hostIPs. */
  nodeIPs: string[];
  /** `--node-labels`: labels added at registration. */
  nodeLabels: Record<string, string>;
  /** `--root-dir`: the kubelet's state directory. */
  rootDir: string;
  help: boolean;
  /** `--version` (`raw` prints more detail). */
  version: false | true | "raw";
}

type FlagType =
  | "string"
  | "bool"
  | "int"
  | "duration"
  | "strings"
  | "map"
  | "langleMap"
  | "taints"
  | "version";

interface FlagDef {
  name: string;
  short?: string;
  type: FlagType;
  /** Shown in --help as the value placeholder and default. */
  def?: string;
  help: string;
  /** Sets a KubeletConfiguration field (these flags override the config file, as upstream). */
  config?: (c: KubeletConfiguration, value: never) => void;
  /** Sets a KubeletFlags field. */
  flag?: (f: KubeletFlags, value: never) => void;
}

const cfg =
  <T>(fn: (c: KubeletConfiguration, v: T) => void) =>
  (c: KubeletConfiguration, v: never) =>
    fn(c, v as T);
const flg =
  <T>(fn: (f: KubeletFlags, v: T) => void) =>
  (f: KubeletFlags, v: never) =>
    fn(f, v as T);

/** The flags of kubenode-kubelet, named and typed as upstream's (cmd/kubelet/app/options). */
export const FLAGS: readonly FlagDef[] = [
  {
    name: "config",
    type: "string",
    help: "The kubelet will load its initial configuration from this file (KubeletConfiguration, kubelet.config.k8s.io/v1beta1). Command-line flags override the file.",
    flag: flg<string>((f, v) => {
      f.config = v;
    }),
  },
  {
    name: "kubeconfig",
    type: "string",
    help: "Path to a kubeconfig file specifying how to connect to the API server. Without it the kubelet runs standalone: static pods only.",
    flag: flg<string>((f, v) => {
      if (v) f.kubeconfig = v;
      else delete f.kubeconfig;
    }),
  },
  {
    name: "bootstrap-kubeconfig",
    type: "string",
    help: "Path to a kubeconfig file that will be used to get client certificate for kubelet. If the file specified by --kubeconfig does not exist, the bootstrap kubeconfig is used to request a client certificate from the API server. On success, a kubeconfig file referencing the generated client certificate and key is written to the path specified by --kubeconfig. The client certificate and key file will be stored in the directory pointed by --cert-dir.",
    flag: flg<string>((f, v) => {
      if (v) f.bootstrapKubeconfig = v;
      else delete f.bootstrapKubeconfig;
    }),
  },
  {
    name: "cert-dir",
    type: "string",
    def: "<root-dir>/pki",
    help: "The directory where the TLS certs are located. If --tls-cert-file and --tls-private-key-file are provided, this flag will be ignored.",
    flag: flg<string>((f, v) => {
      if (v) f.certDir = v;
      else delete f.certDir;
    }),
  },
  {
    name: "rotate-certificates",
    type: "bool",
    help: "Auto rotate the kubelet client certificates by requesting new certificates from the kube-apiserver when the certificate expiration approaches. (DEPRECATED: set rotateCertificates in the config file instead.)",
    config: cfg<boolean>((c, v) => {
      c.rotateCertificates = v;
    }),
  },
  {
    name: "rotate-server-certificates",
    type: "bool",
    help: "Auto-request and rotate the kubelet serving certificates by requesting new certificates from the kube-apiserver when the certificate expiration approaches. (DEPRECATED: set serverTLSBootstrap in the config file instead.)",
    config: cfg<boolean>((c, v) => {
      c.serverTLSBootstrap = v;
    }),
  },
  {
    name: "hostname-override",
    type: "string",
    help: "If non-empty, will use this string as identification instead of the actual hostname.",
    flag: flg<string>((f, v) => {
      if (v) f.hostnameOverride = v;
      else delete f.hostnameOverride;
    }),
  },
  {
    name: "node-ip",
    type: "strings",
    help: "IP address (or comma-separated dual-stack IP addresses) of the node.",
    flag: flg<string[]>((f, v) => {
      f.nodeIPs = v;
    }),
  },
  {
    name: "node-labels",
    type: "map",
    help: "Labels to add when registering the node in the cluster, as key=value pairs separated by ','. Labels in the 'kubernetes.io' and 'k8s.io' namespaces must begin with an allowed prefix (kubelet.kubernetes.io, node.kubernetes.io) or be in the specifically allowed set.",
    flag: flg<Record<string, string>>((f, v) => {
      f.nodeLabels = { ...f.nodeLabels, ...v };
    }),
  },
  {
    name: "root-dir",
    type: "string",
    def: "/var/lib/kubelet",
    help: "Directory path for managing kubelet files (volume mounts, etc).",
    flag: flg<string>((f, v) => {
      f.rootDir = v;
    }),
  },
  {
    name: "container-runtime-endpoint",
    type: "string",
    def: "unix:///run/containerd/containerd.sock",
    help: "The endpoint of the remote runtime service (CRI).",
    config: cfg<string>((c, v) => {
      c.containerRuntimeEndpoint = v;
    }),
  },
  {
    name: "register-node",
    type: "bool",
    def: "true",
    help: "Register the node with the API server. If false, the Node must already exist (created by an administrator); the kubelet adopts it.",
    config: cfg<boolean>((c, v) => {
      c.registerNode = v;
    }),
  },
  {
    name: "register-with-taints",
    type: "taints",
    help: 'Register the node with the given list of taints (comma separated "<key>=<value>:<effect>"). No-op if register-node is false.',
    config: cfg<ConfigTaint[]>((c, v) => {
      c.registerWithTaints = v;
    }),
  },
  {
    name: "pod-manifest-path",
    type: "string",
    help: "Path to the directory containing static pod files to run, or the path to a single static pod file. Files starting with dots are ignored.",
    config: cfg<string>((c, v) => {
      c.staticPodPath = v;
    }),
  },
  {
    name: "max-pods",
    type: "int",
    def: "110",
    help: "Number of Pods that can run on this kubelet.",
    config: cfg<number>((c, v) => {
      c.maxPods = v;
    }),
  },
  {
    name: "cluster-dns",
    type: "strings",
    help: "Comma-separated list of DNS server IP addresses. Used as the nameservers of pods with dnsPolicy ClusterFirst.",
    config: cfg<string[]>((c, v) => {
      c.clusterDNS = v;
    }),
  },
  {
    name: "cluster-domain",
    type: "string",
    help: "Domain for this cluster. If set, containers search this domain in addition to the host's search domains.",
    config: cfg<string>((c, v) => {
      c.clusterDomain = v;
    }),
  },
  {
    name: "runtime-request-timeout",
    type: "duration",
    def: "2m0s",
    help: "Timeout of all runtime requests except long running requests (pull, logs, exec, attach).",
    config: cfg<string>((c, v) => {
      c.runtimeRequestTimeout = v;
    }),
  },
  {
    name: "eviction-hard",
    type: "langleMap",
    def: "imagefs.available<15%,imagefs.inodesFree<5%,memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%",
    help: "A set of eviction thresholds (e.g. memory.available<1Gi) that if met would trigger a pod eviction.",
    config: cfg<Record<string, string>>((c, v) => {
      c.evictionHard = v;
    }),
  },
  {
    name: "eviction-soft",
    type: "langleMap",
    help: "A set of eviction thresholds (e.g. memory.available<1.5Gi) that if met over a corresponding grace period would trigger a pod eviction.",
    config: cfg<Record<string, string>>((c, v) => {
      c.evictionSoft = v;
    }),
  },
  {
    name: "eviction-soft-grace-period",
    type: "map",
    help: "A set of eviction grace periods (e.g. memory.available=1m30s) that correspond to how long a soft eviction threshold must hold before triggering a pod eviction.",
    config: cfg<Record<string, string>>((c, v) => {
      c.evictionSoftGracePeriod = v;
    }),
  },
  {
    name: "eviction-minimum-reclaim",
    type: "map",
    help: "A set of minimum reclaims (e.g. imagefs.available=2Gi) that describes the minimum amount of resource the kubelet will reclaim when performing a pod eviction if that resource is under pressure.",
    config: cfg<Record<string, string>>((c, v) => {
      c.evictionMinimumReclaim = v;
    }),
  },
  {
    name: "image-gc-high-threshold",
    type: "int",
    def: "85",
    help: "The percent of disk usage after which image garbage collection is always run. Values must be within the range [0, 100], To disable image garbage collection, set to 100.",
    config: cfg<number>((c, v) => {
      c.imageGCHighThresholdPercent = v;
    }),
  },
  {
    name: "image-gc-low-threshold",
    type: "int",
    def: "80",
    help: "The percent of disk usage before which image garbage collection is never run. Lowest disk usage to garbage collect to. Values must be within the range [0, 100] and should not be larger than that of --image-gc-high-threshold.",
    config: cfg<number>((c, v) => {
      c.imageGCLowThresholdPercent = v;
    }),
  },
  {
    name: "minimum-image-ttl-duration",
    type: "duration",
    def: "2m0s",
    help: "Minimum age for an unused image before it is garbage collected. Examples: '300ms', '10s' or '2h45m'.",
    config: cfg<string>((c, v) => {
      c.imageMinimumGCAge = v;
    }),
  },
  {
    name: "cgroups-per-qos",
    type: "bool",
    def: "false",
    help: "Create a cgroup hierarchy of QoS tiers and pods under the cgroup root; pods are placed in their pod cgroup.",
    config: cfg<boolean>((c, v) => {
      c.cgroupsPerQOS = v;
    }),
  },
  {
    name: "cgroup-driver",
    type: "string",
    def: "cgroupfs",
    help: "Driver that the kubelet uses to name cgroups for the runtime. Possible values: 'cgroupfs', 'systemd'.",
    config: cfg<string>((c, v) => {
      c.cgroupDriver = v;
    }),
  },
  {
    name: "cgroup-root",
    type: "string",
    def: "",
    help: "Optional root cgroup to use for pods. Default: '', which means use the container runtime default.",
    config: cfg<string>((c, v) => {
      c.cgroupRoot = v;
    }),
  },
  {
    name: "allowed-unsafe-sysctls",
    type: "strings",
    help: "Comma-separated allowlist of unsafe sysctls or unsafe sysctl patterns (ending in *). Use these at your own risk.",
    config: cfg<string[]>((c, v) => {
      c.allowedUnsafeSysctls = v;
    }),
  },
  {
    name: "address",
    type: "string",
    def: "0.0.0.0",
    help: "The IP address for the kubelet to serve on (set to 0.0.0.0 or :: for listening on all interfaces).",
    config: cfg<string>((c, v) => {
      c.address = v;
    }),
  },
  {
    name: "port",
    type: "int",
    def: "10250",
    help: "The port for the kubelet to serve on.",
    config: cfg<number>((c, v) => {
      c.port = v;
    }),
  },
  {
    name: "healthz-bind-address",
    type: "string",
    def: "127.0.0.1",
    help: "The IP address for the healthz server to serve on.",
    config: cfg<string>((c, v) => {
      c.healthzBindAddress = v;
    }),
  },
  {
    name: "healthz-port",
    type: "int",
    def: "10248",
    help: "The port of the localhost healthz endpoint (set to 0 to disable).",
    config: cfg<number>((c, v) => {
      c.healthzPort = v;
    }),
  },
  {
    name: "tls-cert-file",
    type: "string",
    help: "File containing x509 certificate used for serving HTTPS (with intermediate certs, if any, concatenated after server cert). If not given, a self-signed certificate and key are generated in <root-dir>/pki.",
    config: cfg<string>((c, v) => {
      c.tlsCertFile = v;
    }),
  },
  {
    name: "tls-private-key-file",
    type: "string",
    help: "File containing x509 private key matching --tls-cert-file.",
    config: cfg<string>((c, v) => {
      c.tlsPrivateKeyFile = v;
    }),
  },
  {
    name: "client-ca-file",
    type: "string",
    help: "If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate.",
    config: cfg<string>((c, v) => {
      c.authentication.x509.clientCAFile = v;
    }),
  },
  {
    name: "anonymous-auth",
    type: "bool",
    def: "false",
    help: "Enables anonymous requests to the Kubelet server. Requests that are not rejected by another authentication method are treated as anonymous requests (username system:anonymous, group system:unauthenticated).",
    config: cfg<boolean>((c, v) => {
      c.authentication.anonymous.enabled = v;
    }),
  },
  {
    name: "authentication-token-webhook",
    type: "bool",
    def: "true",
    help: "Use the TokenReview API to determine authentication for bearer tokens.",
    config: cfg<boolean>((c, v) => {
      c.authentication.webhook.enabled = v;
    }),
  },
  {
    name: "authorization-mode",
    type: "string",
    def: "Webhook",
    help: "Authorization mode for Kubelet server. Valid options are AlwaysAllow or Webhook. Webhook mode uses the SubjectAccessReview API to determine authorization.",
    config: cfg<string>((c, v) => {
      c.authorization.mode = v;
    }),
  },
  {
    name: "v",
    short: "v",
    type: "int",
    def: "0",
    help: "Number for the log level verbosity.",
    config: cfg<number>((c, v) => {
      c.logging.verbosity = v;
    }),
  },
  {
    name: "logging-format",
    type: "string",
    def: "text",
    help: 'Sets the log format. Permitted formats: "json", "text".',
    config: cfg<string>((c, v) => {
      c.logging.format = v;
    }),
  },
  {
    name: "version",
    type: "version",
    help: "Print version information and quit; --version=raw prints more detail.",
    flag: flg<true | "raw" | false>((f, v) => {
      f.version = v;
    }),
  },
  {
    name: "help",
    short: "h",
    type: "bool",
    help: "help for kubenode-kubelet",
    flag: flg<boolean>((f, v) => {
      f.help = v;
    }),
  },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));
const BY_SHORT = new Map(FLAGS.filter((f) => f.short).map((f) => [f.short!, f]));

/** Go's strconv.ParseBool. */
function parseBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

/** `a=b,c=d` (cliflag MapStringString) or `a<b,c<d` (LangleSeparatedMapStringString). */
function parseMap(text: string, sep: "=" | "<"): Record<string, string> {
  const out: Record<string, string> = {};
  if (text.trim() === "") return out;
  for (const pair of text.split(",")) {
    const item = pair.trim();
    if (item === "") continue;
    const i = item.indexOf(sep);
    if (i < 0) throw new Error(`malformed pair, expect string${sep}string`);
    out[item.slice(0, i).trim()] = item.slice(i + 1).trim();
  }
  return out;
}

function convert(def: FlagDef, raw: string): unknown {
  const invalid = (why: string) =>
    new ConfigError(
      "InvalidFlag",
      `invalid argument ${JSON.stringify(raw)} for "--${def.name}" flag: ${why}`,
    );
  switch (def.type) {
    case "string":
      return raw;
    case "bool": {
      const b = parseBool(raw);
      if (b === undefined) throw invalid(`strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`);
      return b;
    }
    case "version": {
      if (raw === "raw") return "raw";
      const b = parseBool(raw);
      if (b === undefined) throw invalid(`valid values are "true", "false" and "raw"`);
      return b;
    }
    case "int": {
      if (!/^[+-]?\d+$/.test(raw.trim()))
        throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`);
      const n = Number(raw);
      if (n < -(2 ** 31) || n > 2 ** 31 - 1)
        throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(raw)}: value out of range`);
      return n;
    }
    case "duration":
      try {
        parseGoDurationMs(raw);
      } catch {
        throw invalid(`time: invalid duration ${JSON.stringify(raw)}`);
      }
      return raw.trim();
    case "strings":
      return raw.trim() === ""
        ? []
        : raw
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "");
    case "map":
    case "langleMap":
      try {
        return parseMap(raw, def.type === "map" ? "=" : "<");
      } catch (err) {
        throw invalid((err as Error).message);
      }
    case "taints":
      try {
        return parseTaints(raw);
      } catch (err) {
        throw invalid((err as Error).message);
      }
  }
}

/** What {@link parseFlags} found. */
export interface ParsedFlags {
  flags: KubeletFlags;
  /** Applies the config-backed flags to a configuration, in command-line order. */
  applyTo(config: KubeletConfiguration): void;
  /** Names of the flags given (without dashes), in order. */
  given: string[];
}

/**
 * Parses kubelet flags with pflag's rules: `--name=value`, `--name value`, `-v 4`, bool flags as
 * `--name` or `--name=false`, `--` ends flags. Errors use pflag's wording ("unknown flag: --foo",
 * "flag needs an argument: --kubeconfig", "invalid argument ... for ... flag: ...").
 * @throws ConfigError code InvalidFlag.
 */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const flags: KubeletFlags = {
    nodeIPs: [],
    nodeLabels: {},
    rootDir: "/var/lib/kubelet",
    help: false,
    version: false,
  };
  const configSetters: ((c: KubeletConfiguration) => void)[] = [];
  const given: string[] = [];
  const positional: string[] = [];
  const setFlag = (def: FlagDef, raw: string) => {
    const value = convert(def, raw);
    given.push(def.name);
    if (def.flag) def.flag(flags, value as never);
    if (def.config) {
      const set = def.config;
      configSetters.push((c) => set(c, value as never));
    }
  };
  const takesValue = (def: FlagDef) => def.type !== "bool" && def.type !== "version";

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const body = arg.slice(2);
      const eq = body.indexOf("=");
      const name = eq < 0 ? body : body.slice(0, eq);
      const def = BY_NAME.get(name);
      if (!def) throw new ConfigError("InvalidFlag", `unknown flag: --${name}`);
      if (eq >= 0) setFlag(def, body.slice(eq + 1));
      else if (!takesValue(def)) setFlag(def, "true");
      else {
        if (i + 1 >= argv.length) throw new ConfigError("InvalidFlag", `flag needs an argument: --${name}`);
        setFlag(def, argv[++i]!);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      const letter = arg[1]!;
      const def = BY_SHORT.get(letter);
      if (!def) throw new ConfigError("InvalidFlag", `unknown shorthand flag: '${letter}' in ${arg}`);
      const rest = arg.slice(2);
      if (rest.startsWith("=")) setFlag(def, rest.slice(1));
      else if (rest !== "") {
        if (!takesValue(def))
          throw new ConfigError("InvalidFlag", `unknown shorthand flag: '${rest[0]}' in ${arg}`);
        setFlag(def, rest);
      } else if (!takesValue(def)) setFlag(def, "true");
      else {
        if (i + 1 >= argv.length)
          throw new ConfigError("InvalidFlag", `flag needs an argument: '${letter}' in -${letter}`);
        setFlag(def, argv[++i]!);
      }
      continue;
    }
    positional.push(arg);
  }
  // Upstream's kubelet takes no arguments.
  if (positional.length > 0 && !flags.help)
    throw new ConfigError("InvalidFlag", `unknown command ${JSON.stringify(positional[0])}`);
  return {
    flags,
    given,
    applyTo(config) {
      for (const set of configSetters) set(config);
    },
  };
}

/** Usage text for `--help`. */
export function usage(bin = "kubenode-kubelet"): string {
  const lines = [
    `${bin}: a TypeScript kubelet. It runs the pods bound to this node (and static pods) on a CRI`,
    "runtime, keeps the Node's status and lease current, and evicts pods under node pressure.",
    "",
    "Usage:",
    `  ${bin} [flags]`,
    "",
    "Flags:",
  ];
  const cols = FLAGS.map((f) => {
    const head = `${f.short ? `-${f.short}, ` : "    "}--${f.name}${
      f.type === "bool" || f.type === "version"
        ? ""
        : ` ${f.type === "int" ? "int" : f.type === "duration" ? "duration" : "string"}`
    }`;
    return { head, help: `${f.help}${f.def !== undefined ? ` (default ${f.def})` : ""}` };
  });
  const width = Math.max(...cols.map((c) => c.head.length)) + 3;
  for (const c of cols) lines.push(`  ${c.head.padEnd(width)}${c.help}`);
  return `${lines.join("\n")}\n`;
}
