import { isIP } from "node:net";
import { parseThresholdConfig } from "@kubenode/eviction";
import { parseGoDurationMs, parseQuantity } from "@kubenode/kube";
import { createSysctlAllowlist } from "../node/sysctls.js";
import { podCgroupName } from "../runtime/pod-cgroups.js";
import type { ConfigTaint, KubeletConfiguration } from "./configuration.js";
import { ConfigError } from "./errors.js";

// ---- Kubernetes name rules (apimachinery/pkg/util/validation), with upstream's messages ----

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Errors of IsDNS1123Subdomain (empty when valid). */
export function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push("must be no more than 253 characters");
  if (!DNS1123_SUBDOMAIN_RE.test(value)) {
    errs.push(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  }
  return errs;
}

/** Errors of IsQualifiedName: `[prefix/]name`, as label keys and taint keys are written. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split("/");
  let name: string;
  const errs: string[] = [];
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else for (const e of dns1123SubdomainErrors(prefix)) errs.push(`prefix part ${e}`);
  } else {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (name.length > 0 && !QUALIFIED_NAME_RE.test(name)) {
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
  return errs;
}

/** Errors of IsValidLabelValue. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push("must be no more than 63 characters");
  if (!LABEL_VALUE_RE.test(value)) {
    errs.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
  }
  return errs;
}

// ---- --node-labels (cmd/kubelet/app/options/options.go ValidateKubeletFlags) ----

/**
 * Labels the kubelet may set in the kubernetes.io / k8s.io namespaces
 * (k8s.io/kubelet/pkg/apis/well_known_labels.go KubeletLabels), sorted as upstream prints them.
 */
export const KUBELET_LABELS: readonly string[] = [
  "beta.kubernetes.io/arch",
  "beta.kubernetes.io/instance-type",
  "beta.kubernetes.io/os",
  "failure-domain.beta.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "kubernetes.io/arch",
  "kubernetes.io/hostname",
  "kubernetes.io/os",
  "node.kubernetes.io/instance-type",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
];

/** Namespaces (and their subdomains) the kubelet may set any label in (KubeletLabelNamespaces). */
export const KUBELET_LABEL_NAMESPACES: readonly string[] = ["kubelet.kubernetes.io", "node.kubernetes.io"];

function labelNamespace(key: string): string {
  const i = key.indexOf("/");
  return i < 0 ? "" : key.slice(0, i);
}

function isKubernetesLabel(key: string): boolean {
  const ns = labelNamespace(key);
  return ns === "kubernetes.io" || ns.endsWith(".kubernetes.io") || ns === "k8s.io" || ns.endsWith(".k8s.io");
}

/** IsKubeletLabel: in the allowed set, or in an allowed namespace or one of its subdomains. */
export function isKubeletLabel(key: string): boolean {
  if (KUBELET_LABELS.includes(key)) return true;
  const ns = labelNamespace(key);
  return KUBELET_LABEL_NAMESPACES.some((allowed) => ns === allowed || ns.endsWith(`.${allowed}`));
}

/**
 * Checks `--node-labels` as upstream does before starting: labels in the kubernetes.io / k8s.io
 * namespaces outside the kubelet's allowed set stop the kubelet (the NodeRestriction admission
 * plugin would reject them anyway), then every key and value must be valid.
 * @throws ConfigError code InvalidNodeLabels with upstream's message.
 */
export function validateNodeLabels(labels: Readonly<Record<string, string>>): void {
  const unknown = Object.keys(labels)
    .filter((k) => isKubernetesLabel(k) && !isKubeletLabel(k))
    .sort();
  if (unknown.length > 0) {
    throw new ConfigError(
      "InvalidNodeLabels",
      `unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [${unknown.join(" ")}]\n` +
        `--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix (${KUBELET_LABEL_NAMESPACES.join(", ")}) ` +
        `or be in the specifically allowed set (${KUBELET_LABELS.join(", ")})`,
    );
  }
  const invalid: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const keyErrs = qualifiedNameErrors(k);
    if (keyErrs.length > 0) invalid.push(`'${k}' - ${keyErrs.join(", ")}`);
    const valueErrs = labelValueErrors(v);
    if (valueErrs.length > 0) invalid.push(`'${v}' - ${valueErrs.join(", ")}`);
  }
  if (invalid.length > 0)
    throw new ConfigError("InvalidNodeLabels", `invalid node labels: ${invalid.join("; ")}`);
}

// ---- --register-with-taints (pkg/util/taints ParseTaints) ----

const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

/**
 * Parses `key=value:Effect,key2:Effect` as upstream's `--register-with-taints`. The effect is
 * required; key and value follow label rules.
 */
export function parseTaints(text: string): ConfigTaint[] {
  const out: ConfigTaint[] = [];
  if (text.trim() === "") return out;
  const seen = new Set<string>();
  for (const spec of text.split(",")) {
    const parts = spec.split(":");
    if (parts.length !== 2) throw new Error(`invalid taint spec: ${spec}`);
    const effect = parts[1]!;
    if (!(TAINT_EFFECTS as readonly string[]).includes(effect))
      throw new Error(`invalid taint effect: ${effect}, unsupported taint effect`);
    const kv = parts[0]!.split("=");
    if (kv.length > 2) throw new Error(`invalid taint spec: ${spec}`);
    const key = kv[0]!;
    const keyErrs = qualifiedNameErrors(key);
    if (keyErrs.length > 0) throw new Error(`invalid taint spec: ${spec}, ${keyErrs.join("; ")}`);
    const taint: ConfigTaint = { key, effect: effect as ConfigTaint["effect"] };
    if (kv.length === 2) {
      const valueErrs = labelValueErrors(kv[1]!);
      if (valueErrs.length > 0) throw new Error(`invalid taint spec: ${spec}, ${valueErrs.join("; ")}`);
      taint.value = kv[1]!;
    }
    const id = `${key}:${effect}`;
    if (seen.has(id)) throw new Error(`duplicated taints with the same key and effect: ${spec}`);
    seen.add(id);
    out.push(taint);
  }
  return out;
}

// ---- KubeletConfiguration (pkg/kubelet/apis/config/validation) ----

/** Milliseconds of a validated Go duration string. */
export function durationMs(text: string): number {
  return parseGoDurationMs(text);
}

/**
 * Validates a merged configuration, collecting every problem. Messages follow upstream's
 * ("invalid configuration: maxPods (--max-pods) -1 must not be a negative number"); several are
 * joined as Go's aggregate error prints them: `[e1, e2]`.
 * @throws ConfigError code InvalidConfig.
 */
export function validateConfiguration(c: KubeletConfiguration): void {
  const errs: string[] = [];
  const bad = (msg: string) => errs.push(`invalid configuration: ${msg}`);
  if (c.maxPods < 0) bad(`maxPods (--max-pods) ${c.maxPods} must not be a negative number`);
  if (c.nodeLeaseDurationSeconds <= 0) bad("nodeLeaseDurationSeconds must be greater than 0");
  if (c.port < 1 || c.port > 65535) bad(`port (--port) ${c.port} must be between 1 and 65535, inclusive`);
  if (c.healthzPort !== 0 && (c.healthzPort < 1 || c.healthzPort > 65535))
    bad(`healthzPort (--healthz-port) ${c.healthzPort} must be between 1 and 65535, inclusive`);
  if (c.authorization.mode !== "Webhook" && c.authorization.mode !== "AlwaysAllow")
    bad(
      `authorization.mode (--authorization-mode) ${JSON.stringify(c.authorization.mode)} must be one of AlwaysAllow, Webhook`,
    );
  if (Boolean(c.tlsCertFile) !== Boolean(c.tlsPrivateKeyFile))
    bad(
      "tlsCertFile (--tls-cert-file) and tlsPrivateKeyFile (--tls-private-key-file) must be given together",
    );
  for (const [field, flag] of [
    ["imageGCHighThresholdPercent", "--image-gc-high-threshold"],
    ["imageGCLowThresholdPercent", "--image-gc-low-threshold"],
  ] as const) {
    const v = c[field];
    if (v < 0 || v > 100) bad(`${field} (${flag}) ${v} must be between 0 and 100, inclusive`);
  }
  if (c.imageGCLowThresholdPercent >= c.imageGCHighThresholdPercent)
    bad(
      `imageGCLowThresholdPercent (--image-gc-low-threshold) ${c.imageGCLowThresholdPercent} must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) ${c.imageGCHighThresholdPercent}`,
    );
  if (c.cgroupDriver !== "cgroupfs" && c.cgroupDriver !== "systemd")
    bad(`cgroupDriver (--cgroup-driver) ${JSON.stringify(c.cgroupDriver)} must be one of cgroupfs, systemd`);
  try {
    podCgroupName({ metadata: { uid: "0" }, spec: { containers: [] } }, c.cgroupRoot);
  } catch (err) {
    bad(`cgroupRoot (--cgroup-root): ${(err as Error).message}`);
  }
  try {
    createSysctlAllowlist(c.allowedUnsafeSysctls);
  } catch (err) {
    bad(`allowedUnsafeSysctls (--allowed-unsafe-sysctls): ${(err as Error).message}`);
  }
  if (c.nodeStatusMaxImages < -1)
    bad(`nodeStatusMaxImages (--node-status-max-images) ${c.nodeStatusMaxImages} must be -1 or greater`);
  if (c.evictionMaxPodGracePeriod < 0)
    bad(`evictionMaxPodGracePeriod ${c.evictionMaxPodGracePeriod} must not be a negative number`);
  for (const [field, value] of [
    ["syncFrequency", c.syncFrequency],
    ["fileCheckFrequency", c.fileCheckFrequency],
    ["nodeStatusUpdateFrequency", c.nodeStatusUpdateFrequency],
    ["nodeStatusReportFrequency", c.nodeStatusReportFrequency],
    ["runtimeRequestTimeout (--runtime-request-timeout)", c.runtimeRequestTimeout],
  ] as const) {
    if (!(durationMs(value) > 0)) bad(`${field} (${value}) must be greater than 0`);
  }
  // Upstream: both non-negative, critical pods' share within the whole (validation.go).
  const shutdownMs = durationMs(c.shutdownGracePeriod);
  const criticalMs = durationMs(c.shutdownGracePeriodCriticalPods);
  if (shutdownMs < 0 || criticalMs < 0)
    bad("shutdownGracePeriod and shutdownGracePeriodCriticalPods must not be negative");
  else if (criticalMs > shutdownMs)
    bad(
      `shutdownGracePeriodCriticalPods ${c.shutdownGracePeriodCriticalPods} must be <= shutdownGracePeriod ${c.shutdownGracePeriod}`,
    );
  // 0s turns a cache off.
  for (const [field, value] of [
    ["authentication.webhook.cacheTTL", c.authentication.webhook.cacheTTL],
    ["authorization.webhook.cacheAuthorizedTTL", c.authorization.webhook.cacheAuthorizedTTL],
    ["authorization.webhook.cacheUnauthorizedTTL", c.authorization.webhook.cacheUnauthorizedTTL],
  ] as const) {
    if (!(durationMs(value) >= 0)) bad(`${field} (${value}) must not be negative`);
  }
  if (durationMs(c.evictionPressureTransitionPeriod) < 0)
    bad(`evictionPressureTransitionPeriod (${c.evictionPressureTransitionPeriod}) must not be negative`);
  for (const ip of c.clusterDNS) {
    if (isIP(ip) === 0) bad(`clusterDNS (--cluster-dns) ${JSON.stringify(ip)} is not a valid IP address`);
  }
  if (c.clusterDomain !== "") {
    // It ends up in every pod's resolv.conf search line: hold it to DNS rules.
    const e = dns1123SubdomainErrors(c.clusterDomain.replace(/\.$/, ""));
    if (e.length > 0)
      bad(`clusterDomain (--cluster-domain) ${JSON.stringify(c.clusterDomain)}: ${e.join(", ")}`);
  }
  if (!["text", "json"].includes(c.logging.format))
    errs.push(
      `logging.format: Unsupported value: ${JSON.stringify(c.logging.format)}: supported values: "json", "text"`,
    );
  if (!Number.isInteger(c.logging.verbosity) || c.logging.verbosity < 0)
    errs.push(`logging.verbosity: Invalid value: ${c.logging.verbosity}: must be a non-negative integer`);
  if (c.containerRuntimeEndpoint === "")
    bad("containerRuntimeEndpoint (--container-runtime-endpoint) is not set");
  else if (
    !/^(unix:\/\/)?\//.test(c.containerRuntimeEndpoint) &&
    !c.containerRuntimeEndpoint.startsWith("tcp://")
  )
    bad(
      `containerRuntimeEndpoint (--container-runtime-endpoint) ${JSON.stringify(c.containerRuntimeEndpoint)} must be unix:///path/to/socket`,
    );
  for (const [field, list] of [
    ["systemReserved", c.systemReserved],
    ["kubeReserved", c.kubeReserved],
  ] as const) {
    for (const [name, value] of Object.entries(list)) {
      if (!["cpu", "memory", "ephemeral-storage", "pid"].includes(name) && !name.startsWith("hugepages-"))
        bad(`${field}: unsupported resource ${JSON.stringify(name)} (cpu, memory, ephemeral-storage, pid)`);
      try {
        parseQuantity(value);
      } catch (err) {
        bad(`${field}[${name}] ${JSON.stringify(value)}: ${(err as Error).message}`);
      }
    }
  }
  // enforceNodeAllocatable options (pkg/kubelet/types NodeAllocatable*Key), with upstream's checks.
  const allowedEnforcement = [
    "pods",
    "system-reserved",
    "system-reserved-compressible",
    "kube-reserved",
    "kube-reserved-compressible",
    "none",
  ];
  for (const e of c.enforceNodeAllocatable) {
    if (!allowedEnforcement.includes(e)) {
      const quoted = allowedEnforcement.map((a) => JSON.stringify(a));
      bad(
        `option ${JSON.stringify(e)} specified for enforceNodeAllocatable (--enforce-node-allocatable). Valid options are ${quoted.slice(0, -1).join(", ")}, or ${quoted.at(-1)}`,
      );
    }
    if (e.startsWith("system-reserved") && !c.systemReservedCgroup)
      bad(
        `systemReservedCgroup (--system-reserved-cgroup) must be specified when ${JSON.stringify(e)} contained in enforceNodeAllocatable (--enforce-node-allocatable)`,
      );
    if (e.startsWith("kube-reserved") && !c.kubeReservedCgroup)
      bad(
        `kubeReservedCgroup (--kube-reserved-cgroup) must be specified when ${JSON.stringify(e)} contained in enforceNodeAllocatable (--enforce-node-allocatable)`,
      );
  }
  if (c.enforceNodeAllocatable.includes("none") && c.enforceNodeAllocatable.length > 1)
    bad(
      'enforceNodeAllocatable (--enforce-node-allocatable) may not contain additional enforcements when "none" is specified',
    );
  if (c.kubeAPIBurst < 0)
    bad(`kubeAPIBurst (--kube-api-burst) ${c.kubeAPIBurst} must not be a negative number`);
  if (c.kubeAPIQPS < 0) bad(`kubeAPIQPS (--kube-api-qps) ${c.kubeAPIQPS} must not be a negative number`);
  for (const t of c.registerWithTaints) {
    const keyErrs = qualifiedNameErrors(t.key ?? "");
    if (keyErrs.length > 0) bad(`registerWithTaints key ${JSON.stringify(t.key)}: ${keyErrs.join(", ")}`);
    if (!(TAINT_EFFECTS as readonly string[]).includes(t.effect))
      bad(
        `registerWithTaints ${JSON.stringify(t.key)}: invalid taint effect: ${t.effect}, unsupported taint effect`,
      );
    if (t.value !== undefined) {
      const ve = labelValueErrors(t.value);
      if (ve.length > 0) bad(`registerWithTaints ${JSON.stringify(t.key)} value: ${ve.join(", ")}`);
    }
  }
  try {
    parseThresholdConfig({
      ...(c.evictionHard ? { evictionHard: c.evictionHard } : {}),
      evictionSoft: c.evictionSoft,
      evictionSoftGracePeriod: c.evictionSoftGracePeriod,
      evictionMinimumReclaim: c.evictionMinimumReclaim,
      mergeDefaultEvictionSettings: c.mergeDefaultEvictionSettings,
      enforceNodeAllocatable: c.enforceNodeAllocatable,
    });
  } catch (err) {
    errs.push((err as Error).message);
  }
  if (errs.length === 1) throw new ConfigError("InvalidConfig", errs[0]!);
  if (errs.length > 1) throw new ConfigError("InvalidConfig", `[${errs.join(", ")}]`);
}

/**
 * The node name as upstream derives it (nodeutil.GetHostname): the override or the host name,
 * trimmed and lowercased; it must be a DNS-1123 subdomain because it names the Node and Lease.
 */
export function nodeNameFrom(hostnameOverride: string | undefined, hostname: string): string {
  const name = (hostnameOverride ?? hostname).trim().toLowerCase();
  if (name === "") throw new ConfigError("InvalidConfig", "empty hostname is invalid");
  const errs = dns1123SubdomainErrors(name);
  if (errs.length > 0)
    throw new ConfigError(
      "InvalidConfig",
      `node name ${JSON.stringify(name)} (--hostname-override) is invalid: ${errs.join(", ")}`,
    );
  return name;
}

/** `--node-ip`: valid IPs, at most one per family (dual-stack). */
export function validateNodeIPs(ips: readonly string[]): void {
  if (ips.length > 2)
    throw new ConfigError(
      "InvalidConfig",
      `--node-ip ${JSON.stringify(ips.join(","))}: at most two IPs (one per family) may be given`,
    );
  for (const ip of ips) {
    if (isIP(ip) === 0)
      throw new ConfigError("InvalidConfig", `--node-ip: ${JSON.stringify(ip)} is not a valid IP address`);
    if (ip === "0.0.0.0" || ip === "::")
      throw new ConfigError(
        "InvalidConfig",
        `--node-ip: ${ip} is not a usable node IP (unspecified address)`,
      );
  }
  if (ips.length === 2 && isIP(ips[0]!) === isIP(ips[1]!))
    throw new ConfigError(
      "InvalidConfig",
      `--node-ip ${JSON.stringify(ips.join(","))}: dual-stack node IPs must be one IPv4 and one IPv6`,
    );
}
