import { parseGoDurationMs } from "@kubenode/kube";
import { parseDocument } from "yaml";
import { ConfigError } from "./errors.js";

/** The group/version of the config file, as upstream's `--config`. */
export const KUBELET_CONFIG_API_VERSION = "kubelet.config.k8s.io/v1beta1";
export const KUBELET_CONFIG_KIND = "KubeletConfiguration";

/** core/v1 Taint, as in `registerWithTaints`. */
export interface ConfigTaint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/**
 * KubeletConfiguration (kubelet.config.k8s.io/v1beta1) after defaulting: the fields this kubelet
 * acts on, typed, with upstream's names and value formats (durations as Go duration strings).
 * Every other v1beta1 field is accepted and type-checked, stays in the object under its name, and
 * is listed in {@link DecodedConfigFile.ignoredFields} when a file sets it.
 */
export interface KubeletConfiguration {
  apiVersion: typeof KUBELET_CONFIG_API_VERSION;
  kind: typeof KUBELET_CONFIG_KIND;
  /** Directory or file of static pod manifests (`--pod-manifest-path`); "" = none. */
  staticPodPath: string;
  podLogsDir: string;
  syncFrequency: string;
  fileCheckFrequency: string;
  address: string;
  port: number;
  healthzPort: number;
  healthzBindAddress: string;
  /** Whether the :10250 server runs (upstream enableServer, default true). */
  enableServer: boolean;
  /** Serving certificate and key files; both "" = self-signed in `<rootDir>/pki`. */
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  authentication: KubeletAuthentication;
  authorization: KubeletAuthorization;
  /** Graceful node shutdown budget (Go duration; 0s = off) and the part kept for critical pods. */
  shutdownGracePeriod: string;
  shutdownGracePeriodCriticalPods: string;
  clusterDomain: string;
  clusterDNS: string[];
  /** Host resolver configuration for dnsPolicy Default ("" disables DNS lookups). */
  resolvConf: string;
  nodeStatusUpdateFrequency: string;
  nodeStatusReportFrequency: string;
  nodeLeaseDurationSeconds: number;
  nodeStatusMaxImages: number;
  runtimeRequestTimeout: string;
  maxPods: number;
  podPidsLimit: number;
  serializeImagePulls: boolean;
  evictionHard: Record<string, string> | undefined;
  evictionSoft: Record<string, string>;
  evictionSoftGracePeriod: Record<string, string>;
  evictionPressureTransitionPeriod: string;
  evictionMaxPodGracePeriod: number;
  evictionMinimumReclaim: Record<string, string>;
  mergeDefaultEvictionSettings: boolean;
  systemReserved: Record<string, string>;
  kubeReserved: Record<string, string>;
  enforceNodeAllocatable: string[];
  localStorageCapacityIsolation: boolean;
  /** Image GC: run at this image filesystem usage (100 = never), free down to the low one. */
  imageGCHighThresholdPercent: number;
  imageGCLowThresholdPercent: number;
  /** Minimum age of an unused image before image GC may remove it (Go duration). */
  imageMinimumGCAge: string;
  /** Sysctls (names or `prefix*`) pods may set beside the safe ones (`--allowed-unsafe-sysctls`). */
  allowedUnsafeSysctls: string[];
  /**
   * Pod cgroups under `<cgroupRoot>/kubepods` per QoS tier. Default **false** here (upstream: true):
   * several kubelets on one host (the local cluster) would otherwise share `/kubepods`.
   */
  cgroupsPerQOS: boolean;
  /** `cgroupfs` or `systemd`: how cgroup names are written for the runtime. */
  cgroupDriver: string;
  /** Parent of `kubepods`; "" is `/`. */
  cgroupRoot: string;
  registerWithTaints: ConfigTaint[];
  registerNode: boolean;
  containerRuntimeEndpoint: string;
  imageServiceEndpoint: string;
  providerID: string;
  kubeAPIQPS: number;
  kubeAPIBurst: number;
  /** Request a new client certificate (a CSR) when the current one nears expiry (70-90% of its life). */
  rotateCertificates: boolean;
  /**
   * Request the serving certificate from the cluster (a kubernetes.io/kubelet-serving CSR) instead
   * of using tlsCertFile or a self-signed one; renewed as it nears expiry. Nothing is served on
   * :10250 until the CSR is approved and issued.
   */
  serverTLSBootstrap: boolean;
  logging: { format: string; verbosity: number; flushFrequency: string | number; [key: string]: unknown };
  /** Other v1beta1 fields, as given (accepted, not acted on). */
  [field: string]: unknown;
}

/** KubeletConfiguration `authentication` (defaults: anonymous off, webhook on with a 2 min cache). */
export interface KubeletAuthentication {
  x509: { clientCAFile: string };
  webhook: { enabled: boolean; cacheTTL: string };
  anonymous: { enabled: boolean };
}

/** KubeletConfiguration `authorization` (defaults: Webhook, 5 min / 30 s caches). */
export interface KubeletAuthorization {
  mode: string;
  webhook: { cacheAuthorizedTTL: string; cacheUnauthorizedTTL: string };
}

// ---- schema: every v1beta1 field with its JSON type, for strict decoding ----

/** `numberOrDuration`: logging.flushFrequency takes nanoseconds or a Go duration string. */
type Scalar = "string" | "bool" | "int" | "float" | "duration" | "numberOrDuration";
type Kind =
  | Scalar
  | "strings"
  | "ints"
  | "stringMap"
  | "boolMap"
  | "stringsMap"
  | "quantityMap"
  | "taints"
  | "list"
  | { readonly [field: string]: Kind };

const duration = "duration" as const;
const LOGGING: Kind = {
  format: "string",
  flushFrequency: "numberOrDuration",
  verbosity: "int",
  vmodule: "list",
  options: {
    json: { splitStream: "bool", infoBufferSize: "string" },
    text: { splitStream: "bool", infoBufferSize: "string" },
  },
};

/** Field names and types of KubeletConfiguration v1beta1 (k8s.io/kubelet/config/v1beta1/types.go). */
const SCHEMA: { readonly [field: string]: Kind } = {
  apiVersion: "string",
  kind: "string",
  enableServer: "bool",
  staticPodPath: "string",
  podLogsDir: "string",
  syncFrequency: duration,
  fileCheckFrequency: duration,
  httpCheckFrequency: duration,
  staticPodURL: "string",
  staticPodURLHeader: "stringsMap",
  address: "string",
  port: "int",
  readOnlyPort: "int",
  tlsCertFile: "string",
  tlsPrivateKeyFile: "string",
  tlsCipherSuites: "strings",
  tlsCurvePreferences: "ints",
  tlsMinVersion: "string",
  rotateCertificates: "bool",
  serverTLSBootstrap: "bool",
  authentication: {
    x509: { clientCAFile: "string" },
    webhook: { enabled: "bool", cacheTTL: duration },
    anonymous: { enabled: "bool" },
  },
  authorization: {
    mode: "string",
    webhook: { cacheAuthorizedTTL: duration, cacheUnauthorizedTTL: duration },
  },
  registryPullQPS: "int",
  registryBurst: "int",
  imagePullCredentialsVerificationPolicy: "string",
  preloadedImagesVerificationAllowlist: "strings",
  eventRecordQPS: "int",
  eventBurst: "int",
  enableDebuggingHandlers: "bool",
  enableContentionProfiling: "bool",
  healthzPort: "int",
  healthzBindAddress: "string",
  oomScoreAdj: "int",
  clusterDomain: "string",
  clusterDNS: "strings",
  streamingConnectionIdleTimeout: duration,
  nodeStatusUpdateFrequency: duration,
  nodeStatusReportFrequency: duration,
  nodeLeaseDurationSeconds: "int",
  imageMinimumGCAge: duration,
  imageMaximumGCAge: duration,
  imageGCHighThresholdPercent: "int",
  imageGCLowThresholdPercent: "int",
  volumeStatsAggPeriod: duration,
  kubeletCgroups: "string",
  systemCgroups: "string",
  cgroupRoot: "string",
  cgroupsPerQOS: "bool",
  cgroupDriver: "string",
  cpuManagerPolicy: "string",
  singleProcessOOMKill: "bool",
  cpuManagerPolicyOptions: "stringMap",
  cpuManagerReconcilePeriod: duration,
  draManagerReconcilePeriod: duration,
  memoryManagerPolicy: "string",
  topologyManagerPolicy: "string",
  topologyManagerScope: "string",
  topologyManagerPolicyOptions: "stringMap",
  qosReserved: "stringMap",
  runtimeRequestTimeout: duration,
  hairpinMode: "string",
  maxPods: "int",
  podCIDR: "string",
  podPidsLimit: "int",
  resolvConf: "string",
  runOnce: "bool",
  cpuCFSQuota: "bool",
  cpuCFSQuotaPeriod: duration,
  nodeStatusMaxImages: "int",
  maxOpenFiles: "int",
  contentType: "string",
  kubeAPIQPS: "int",
  kubeAPIBurst: "int",
  serializeImagePulls: "bool",
  maxParallelImagePulls: "int",
  evictionHard: "stringMap",
  evictionSoft: "stringMap",
  evictionSoftGracePeriod: "stringMap",
  evictionPressureTransitionPeriod: duration,
  evictionMaxPodGracePeriod: "int",
  evictionMinimumReclaim: "stringMap",
  mergeDefaultEvictionSettings: "bool",
  podsPerCore: "int",
  enableControllerAttachDetach: "bool",
  protectKernelDefaults: "bool",
  makeIPTablesUtilChains: "bool",
  iptablesMasqueradeBit: "int",
  iptablesDropBit: "int",
  featureGates: "boolMap",
  failSwapOn: "bool",
  memorySwap: { swapBehavior: "string" },
  containerLogMaxSize: "string",
  containerLogMaxFiles: "int",
  containerLogMaxWorkers: "int",
  containerLogMonitorInterval: duration,
  configMapAndSecretChangeDetectionStrategy: "string",
  systemReserved: "stringMap",
  kubeReserved: "stringMap",
  reservedSystemCPUs: "string",
  showHiddenMetricsForVersion: "string",
  systemReservedCgroup: "string",
  kubeReservedCgroup: "string",
  enforceNodeAllocatable: "strings",
  allowedUnsafeSysctls: "strings",
  volumePluginDir: "string",
  providerID: "string",
  kernelMemcgNotification: "bool",
  logging: LOGGING,
  enableSystemLogHandler: "bool",
  enableSystemLogQuery: "bool",
  shutdownGracePeriod: duration,
  shutdownGracePeriodCriticalPods: duration,
  shutdownGracePeriodByPodPriority: "list",
  crashLoopBackOff: { maxContainerRestartPeriod: duration },
  reservedMemory: "list",
  enableProfilingHandler: "bool",
  enableDebugFlagsHandler: "bool",
  seccompDefault: "bool",
  memoryThrottlingFactor: "float",
  memoryReservationPolicy: "string",
  registerWithTaints: "taints",
  registerNode: "bool",
  tracing: { endpoint: "string", samplingRatePerMillion: "int" },
  localStorageCapacityIsolation: "bool",
  containerRuntimeEndpoint: "string",
  imageServiceEndpoint: "string",
  failCgroupV1: "bool",
  userNamespaces: { idsPerPod: "int" },
  podHousekeepingPeriod: duration,
};

/** Fields this kubelet acts on; a file setting any other known field gets it listed as ignored. */
const HONOURED = new Set([
  "apiVersion",
  "kind",
  "staticPodPath",
  "podLogsDir",
  "fileCheckFrequency",
  "syncFrequency",
  "clusterDomain",
  "clusterDNS",
  "resolvConf",
  "nodeStatusUpdateFrequency",
  "nodeStatusReportFrequency",
  "nodeLeaseDurationSeconds",
  "nodeStatusMaxImages",
  "runtimeRequestTimeout",
  "maxPods",
  "evictionHard",
  "evictionSoft",
  "evictionSoftGracePeriod",
  "evictionPressureTransitionPeriod",
  "evictionMaxPodGracePeriod",
  "evictionMinimumReclaim",
  "mergeDefaultEvictionSettings",
  "systemReserved",
  "kubeReserved",
  "enforceNodeAllocatable",
  "localStorageCapacityIsolation",
  "imageGCHighThresholdPercent",
  "imageGCLowThresholdPercent",
  "imageMinimumGCAge",
  "allowedUnsafeSysctls",
  "cgroupsPerQOS",
  "cgroupDriver",
  "cgroupRoot",
  "registerWithTaints",
  "registerNode",
  "containerRuntimeEndpoint",
  "port",
  "address",
  "healthzPort",
  "healthzBindAddress",
  "enableServer",
  "tlsCertFile",
  "tlsPrivateKeyFile",
  "authentication",
  "authorization",
  "shutdownGracePeriod",
  "shutdownGracePeriodCriticalPods",
  "rotateCertificates",
  "serverTLSBootstrap",
  "logging",
]);

/**
 * Upstream's v1beta1 defaults (pkg/kubelet/apis/config/v1beta1/defaults.go and defaults_linux.go)
 * for the fields listed in {@link KubeletConfiguration}. `evictionHard` stays undefined so the
 * eviction block applies its Linux defaults (memory.available<100Mi, nodefs.available<10%,
 * nodefs.inodesFree<5%, imagefs.available<15%, imagefs.inodesFree<5%).
 */
export function defaultKubeletConfiguration(): KubeletConfiguration {
  return {
    apiVersion: KUBELET_CONFIG_API_VERSION,
    kind: KUBELET_CONFIG_KIND,
    staticPodPath: "",
    podLogsDir: "/var/log/pods",
    syncFrequency: "1m0s",
    fileCheckFrequency: "20s",
    address: "0.0.0.0",
    port: 10250,
    healthzPort: 10248,
    healthzBindAddress: "127.0.0.1",
    enableServer: true,
    tlsCertFile: "",
    tlsPrivateKeyFile: "",
    authentication: {
      x509: { clientCAFile: "" },
      webhook: { enabled: true, cacheTTL: "2m0s" },
      anonymous: { enabled: false },
    },
    authorization: {
      mode: "Webhook",
      webhook: { cacheAuthorizedTTL: "5m0s", cacheUnauthorizedTTL: "30s" },
    },
    shutdownGracePeriod: "0s",
    shutdownGracePeriodCriticalPods: "0s",
    clusterDomain: "",
    clusterDNS: [],
    resolvConf: "/etc/resolv.conf",
    nodeStatusUpdateFrequency: "10s",
    nodeStatusReportFrequency: "5m0s",
    nodeLeaseDurationSeconds: 40,
    nodeStatusMaxImages: 50,
    runtimeRequestTimeout: "2m0s",
    maxPods: 110,
    podPidsLimit: -1,
    serializeImagePulls: true,
    evictionHard: undefined,
    evictionSoft: {},
    evictionSoftGracePeriod: {},
    evictionPressureTransitionPeriod: "5m0s",
    evictionMaxPodGracePeriod: 0,
    evictionMinimumReclaim: {},
    mergeDefaultEvictionSettings: false,
    systemReserved: {},
    kubeReserved: {},
    enforceNodeAllocatable: ["pods"],
    localStorageCapacityIsolation: true,
    imageGCHighThresholdPercent: 85,
    imageGCLowThresholdPercent: 80,
    imageMinimumGCAge: "2m0s",
    allowedUnsafeSysctls: [],
    cgroupsPerQOS: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot: "",
    registerWithTaints: [],
    registerNode: true,
    containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
    imageServiceEndpoint: "",
    providerID: "",
    kubeAPIQPS: 50,
    kubeAPIBurst: 100,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    logging: { format: "text", verbosity: 0, flushFrequency: "5s" },
  };
}

// ---- strict decoding ----

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return "number";
  return typeof v;
}

interface DecodeState {
  unknown: string[];
  invalid: string[];
}

const GO_TYPE: Record<string, string> = {
  string: "string",
  bool: "bool",
  int: "int32",
  float: "float64",
  duration: "Duration",
  strings: "[]string",
  ints: "[]int32",
  stringMap: "map[string]string",
  boolMap: "map[string]bool",
  stringsMap: "map[string][]string",
  taints: "[]Taint",
  list: "[]object",
};

function checkValue(path: string, kind: Kind, value: unknown, st: DecodeState): void {
  // null means "unset" for every field, as in Go's JSON decoding.
  if (value === null) return;
  const bad = () => {
    st.invalid.push(
      `cannot unmarshal ${typeName(value)} into field ${path} of type ${
        typeof kind === "string" ? (GO_TYPE[kind] ?? kind) : "object"
      }`,
    );
  };
  if (typeof kind === "object") {
    if (typeName(value) !== "object") {
      bad();
      return;
    }
    decodeObject(path, kind, value as Record<string, unknown>, st);
    return;
  }
  switch (kind) {
    case "string":
      if (typeof value !== "string") bad();
      return;
    case "bool":
      if (typeof value !== "boolean") bad();
      return;
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) bad();
      return;
    case "float":
      if (typeof value !== "number") bad();
      return;
    case "duration":
    case "numberOrDuration":
      if (kind === "numberOrDuration" && typeof value === "number") return;
      if (typeof value !== "string") {
        bad();
        return;
      }
      try {
        parseGoDurationMs(value);
      } catch {
        st.invalid.push(`invalid value for field ${path}: time: invalid duration ${JSON.stringify(value)}`);
      }
      return;
    case "strings":
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) bad();
      return;
    case "ints":
      if (!Array.isArray(value) || value.some((v) => !Number.isInteger(v))) bad();
      return;
    case "list":
      if (!Array.isArray(value)) bad();
      return;
    case "stringMap":
    case "quantityMap":
    case "boolMap":
    case "stringsMap": {
      if (typeName(value) !== "object") {
        bad();
        return;
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const ok =
          kind === "boolMap"
            ? typeof v === "boolean"
            : kind === "stringsMap"
              ? Array.isArray(v) && v.every((x) => typeof x === "string")
              : typeof v === "string";
        if (!ok)
          st.invalid.push(
            `cannot unmarshal ${typeName(v)} into field ${path}[${JSON.stringify(k)}] of type ${
              kind === "boolMap" ? "bool" : kind === "stringsMap" ? "[]string" : "string"
            }`,
          );
      }
      return;
    }
    case "taints": {
      if (!Array.isArray(value)) {
        bad();
        return;
      }
      value.forEach((t, i) => {
        if (typeName(t) !== "object") {
          st.invalid.push(`cannot unmarshal ${typeName(t)} into field ${path}[${i}] of type Taint`);
          return;
        }
        decodeObject(
          `${path}[${i}]`,
          { key: "string", value: "string", effect: "string", timeAdded: "string" },
          t as Record<string, unknown>,
          st,
        );
      });
      return;
    }
  }
}

function decodeObject(
  prefix: string,
  schema: { readonly [field: string]: Kind },
  obj: Record<string, unknown>,
  st: DecodeState,
): void {
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const kind = schema[k];
    if (kind === undefined) {
      st.unknown.push(path);
      continue;
    }
    checkValue(path, kind, v, st);
  }
}

/** Result of decoding a config file. */
export interface DecodedConfigFile {
  /** The fields the file sets, type-checked, not defaulted. */
  fields: Record<string, unknown>;
  /** Known v1beta1 fields the file sets that this kubelet does not act on. */
  ignoredFields: string[];
}

/**
 * Decodes a KubeletConfiguration document (YAML or JSON) strictly: the apiVersion/kind must be
 * kubelet.config.k8s.io/v1beta1 KubeletConfiguration, and unknown fields, duplicate fields and
 * values of the wrong type are errors naming every offending field at once.
 *
 * Upstream's decoder reports the same unknown/duplicate fields as a "strict decoding error" but,
 * for v1beta1, then falls back to lenient decoding with a log line; we refuse to start instead, so
 * a typo such as `maxPod: 20` never silently runs a node with the default.
 */
export function decodeKubeletConfiguration(text: string): DecodedConfigFile {
  // YAML 1.1 as sigs.k8s.io/yaml (go-yaml v2) reads it: `yes`/`on` are booleans, `010` is octal.
  const doc = parseDocument(text, { version: "1.1", uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const dup = doc.errors.filter((e) => e.code === "DUPLICATE_KEY");
    if (dup.length > 0) {
      throw new ConfigError(
        "InvalidConfigFile",
        `strict decoding error: ${dup
          .map((e) => {
            const key = /^["']?([^"':\s]+)/.exec(text.slice(e.pos[0]))?.[1] ?? "?";
            return `duplicate field ${JSON.stringify(key)} (line ${text.slice(0, e.pos[0]).split("\n").length})`;
          })
          .join(", ")}`,
      );
    }
    throw new ConfigError("InvalidConfigFile", `yaml: ${doc.errors[0]!.message.replace(/\s+/g, " ")}`);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  if (typeName(raw) !== "object") {
    throw new ConfigError(
      "InvalidConfigFile",
      `expected a ${KUBELET_CONFIG_KIND} object, got ${raw === undefined ? "an empty document" : typeName(raw)}`,
    );
  }
  const fields = raw as Record<string, unknown>;
  if (fields.kind === undefined || fields.kind === "") {
    throw new ConfigError("InvalidConfigFile", "Object 'Kind' is missing in the config file");
  }
  if (fields.apiVersion !== KUBELET_CONFIG_API_VERSION || fields.kind !== KUBELET_CONFIG_KIND) {
    throw new ConfigError(
      "InvalidConfigFile",
      `no kind ${JSON.stringify(fields.kind)} is registered for version ${JSON.stringify(
        fields.apiVersion ?? "",
      )}: want apiVersion ${KUBELET_CONFIG_API_VERSION}, kind ${KUBELET_CONFIG_KIND}`,
    );
  }
  const st: DecodeState = { unknown: [], invalid: [] };
  decodeObject("", SCHEMA, fields, st);
  if (st.unknown.length > 0) {
    throw new ConfigError(
      "InvalidConfigFile",
      `strict decoding error: ${st.unknown.map((f) => `unknown field ${JSON.stringify(f)}`).join(", ")}`,
    );
  }
  if (st.invalid.length > 0) throw new ConfigError("InvalidConfigFile", st.invalid.join("; "));
  const ignoredFields = Object.keys(fields).filter((k) => !HONOURED.has(k) && fields[k] !== null);
  return { fields, ignoredFields };
}

/**
 * Fields whose Go type is not a pointer: upstream's defaulting cannot tell an explicit zero from an
 * absent field, so `0`, `""` and `0s` get the default too (e.g. `maxPods: 0` means 110).
 */
const ZERO_MEANS_DEFAULT = new Set([
  "podLogsDir",
  "syncFrequency",
  "fileCheckFrequency",
  "address",
  "port",
  "healthzBindAddress",
  "nodeStatusUpdateFrequency",
  "nodeStatusReportFrequency",
  "nodeLeaseDurationSeconds",
  "runtimeRequestTimeout",
  "maxPods",
  "kubeAPIBurst",
  "evictionPressureTransitionPeriod",
  "containerRuntimeEndpoint",
]);

/** `over` merged into `base` field by field (objects recursively); null/undefined keep the base. */
function mergeDefined(base: unknown, over: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    if (v === null || v === undefined) continue;
    out[k] =
      v && typeof v === "object" && !Array.isArray(v)
        ? mergeDefined(out[k] ?? {}, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function isZeroDuration(text: string): boolean {
  try {
    return parseGoDurationMs(text) === 0;
  } catch {
    return false;
  }
}

/**
 * Applies decoded fields over upstream's defaults. Objects (logging) merge field by field; a null
 * leaves the default, as an absent field does.
 */
export function applyDefaults(fields: Record<string, unknown>): KubeletConfiguration {
  const out = defaultKubeletConfiguration();
  for (const [k, v] of Object.entries(fields)) {
    if (v === null || v === undefined) continue;
    if (ZERO_MEANS_DEFAULT.has(k) && (v === 0 || v === "" || (typeof v === "string" && isZeroDuration(v))))
      continue;
    if (k === "logging") {
      out.logging = { ...out.logging, ...(v as Record<string, unknown>) };
      continue;
    }
    if (k === "authentication" || k === "authorization") {
      out[k] = mergeDefined(out[k], v as Record<string, unknown>) as never;
      continue;
    }
    out[k] = v;
  }
  // Upstream: an explicit nodeStatusUpdateFrequency without nodeStatusReportFrequency makes the
  // report frequency follow it (backward compatibility), else 5m.
  const update = fields.nodeStatusUpdateFrequency;
  const report = fields.nodeStatusReportFrequency;
  if (
    (report == null || (typeof report === "string" && isZeroDuration(report))) &&
    typeof update === "string" &&
    !isZeroDuration(update)
  ) {
    out.nodeStatusReportFrequency = update;
  }
  return out;
}
