// PodSandboxConfig and ContainerConfig as upstream's kuberuntime builds them
// (kuberuntime_sandbox.go, kuberuntime_container.go, kuberuntime_container_linux.go, kubelet_pods.go).
import { join } from "node:path";
import {
  type ContainerConfig,
  type DeepPartial,
  MountPropagation,
  NamespaceMode,
  type PodSandboxConfig,
  Protocol,
} from "@kubenode/cri-client";
import type { Container, Pod } from "../api.js";
import { bytesOf, milliCpu, podQosClass } from "../qos.js";
import { type ClusterDnsSettings, podDnsConfig, type ResolvConf } from "./dns.js";
import { containerAnnotations, containerLabels, sandboxAnnotations, sandboxLabels } from "./labels.js";
import { type PodCgroupSettings, podCgroupParent } from "./pod-cgroups.js";
import { type ContainerMount, RuntimeStepError } from "./types.js";

/** Node-level settings the configs depend on. */
export interface ConfigSettings extends ClusterDnsSettings {
  podLogsDir: string;
  hostResolv: ResolvConf;
  /** Node memory capacity in bytes, for Burstable oom_score_adj. */
  nodeMemoryBytes: number;
  /** Pod-level cgroups (cgroupsPerQOS); absent: the runtime's default cgroup parent. */
  podCgroups?: PodCgroupSettings | undefined;
}

/** `<podLogsDir>/<ns>_<name>_<uid>` (BuildPodLogsDirectory). */
export function podLogDirectory(podLogsDir: string, pod: Pod): string {
  return join(podLogsDir, `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`);
}

/** `<container>/<restartCount>.log`, relative to the pod log directory (BuildContainerLogsPath). */
export function containerLogPath(containerName: string, restartCount: number): string {
  return `${containerName}/${restartCount}.log`;
}

/**
 * The sandbox hostname: empty on the host network; else spec.hostname or the pod name, cut to 63
 * characters without trailing `-`/`.` (GeneratePodHostNameAndDomain / truncatePodHostnameIfNeeded).
 */
export function podHostname(pod: Pod): string {
  if (pod.spec.hostNetwork) return "";
  const name = pod.spec.hostname || pod.metadata.name || "";
  return name.length <= 63 ? name : name.slice(0, 63).replace(/[-.]+$/, "");
}

const PROTOCOLS: Record<string, Protocol> = { TCP: Protocol.TCP, UDP: Protocol.UDP, SCTP: Protocol.SCTP };

function namespaceOptions(pod: Pod) {
  return {
    network: pod.spec.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: pod.spec.hostPID
      ? NamespaceMode.NODE
      : pod.spec.shareProcessNamespace
        ? NamespaceMode.POD
        : NamespaceMode.CONTAINER,
    ipc: pod.spec.hostIPC ? NamespaceMode.NODE : NamespaceMode.POD,
  };
}

/** PodSandboxConfig for `pod` (generatePodSandboxConfig). */
export function sandboxConfig(pod: Pod, attempt: number, s: ConfigSettings): DeepPartial<PodSandboxConfig> {
  const portMappings = [];
  for (const c of pod.spec.containers) {
    const seen = new Set<string>();
    for (const p of c.ports ?? []) {
      // MakePortMappings skips a repeated port name within one container.
      if (p.name) {
        if (seen.has(p.name)) continue;
        seen.add(p.name);
      }
      portMappings.push({
        protocol: PROTOCOLS[p.protocol ?? "TCP"] ?? Protocol.TCP,
        containerPort: p.containerPort,
        hostPort: p.hostPort ?? 0,
        hostIp: p.hostIP ?? "",
      });
    }
  }
  const privileged = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].some(
    (c) => c.securityContext?.privileged === true,
  );
  const psc = pod.spec.securityContext;
  const sysctls: Record<string, string> = {};
  for (const sc of psc?.sysctls ?? []) sysctls[sc.name] = sc.value;
  return {
    metadata: {
      name: pod.metadata.name ?? "",
      namespace: pod.metadata.namespace ?? "",
      uid: pod.metadata.uid ?? "",
      attempt,
    },
    hostname: podHostname(pod),
    logDirectory: podLogDirectory(s.podLogsDir, pod),
    dnsConfig: podDnsConfig(pod, s, s.hostResolv),
    portMappings,
    labels: sandboxLabels(pod),
    annotations: sandboxAnnotations(pod),
    linux: {
      // The pod cgroup under its QoS tier; containers inherit it from the sandbox config.
      ...(s.podCgroups ? { cgroupParent: podCgroupParent(pod, s.podCgroups) } : {}),
      sysctls,
      securityContext: {
        namespaceOptions: namespaceOptions(pod),
        privileged,
        ...(psc?.runAsUser !== undefined ? { runAsUser: { value: BigInt(psc.runAsUser) } } : {}),
        ...(psc?.runAsGroup !== undefined ? { runAsGroup: { value: BigInt(psc.runAsGroup) } } : {}),
        supplementalGroups: [
          ...(psc?.fsGroup !== undefined ? [psc.fsGroup] : []),
          ...(psc?.supplementalGroups ?? []),
        ].map((g) => BigInt(g)),
      },
    },
  };
}

/**
 * Expands `$(VAR)` references with `env` (third_party/forked/golang/expansion): defined names are
 * replaced, undefined ones stay as written, `$$` is a literal `$`.
 */
export function expandVars(input: string, env: ReadonlyMap<string, string>): string {
  // Most values hold no reference: skip the character loop (env values may be large).
  if (!input.includes("$")) return input;
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== "$" || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = env.get(name);
      out += value === undefined ? input.slice(i, close + 1) : value;
      i = close;
    } else {
      out += ch;
    }
  }
  return out;
}

/** The container's environment (env entries with `value`; each may refer to earlier ones). */
export function containerEnv(container: Container): Map<string, string> {
  const env = new Map<string, string>();
  for (const e of container.env ?? []) {
    if (e.valueFrom !== undefined) {
      // configMap/secret/field references need API lookups this kubelet does not do yet.
      throw new RuntimeStepError(
        "CreateContainerConfigError",
        `env var "${e.name}" of container "${container.name}" uses valueFrom, which this kubelet does not support`,
      );
    }
    env.set(e.name, expandVars(e.value ?? "", env));
  }
  if (container.envFrom && container.envFrom.length > 0) {
    throw new RuntimeStepError(
      "CreateContainerConfigError",
      `container "${container.name}" uses envFrom, which this kubelet does not support`,
    );
  }
  return env;
}

const CPU_PERIOD_US = 100_000;
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
const MIN_QUOTA_US = 1000;

/**
 * CRI linux resources of a container (cm/helpers_linux.go + kuberuntime_container_linux.go):
 * shares from the cpu request (else limit, else 2), CFS quota from the cpu limit, memory limit,
 * oom_score_adj from the QoS class (qos/policy.go).
 */
export function containerResources(pod: Pod, container: Container, nodeMemoryBytes: number) {
  const reqCpu = milliCpu(container.resources?.requests);
  const limCpu = milliCpu(container.resources?.limits);
  const shareBase = reqCpu ?? limCpu;
  const cpuShares =
    shareBase === undefined
      ? MIN_SHARES
      : Math.min(MAX_SHARES, Math.max(MIN_SHARES, Math.floor((shareBase * 1024) / 1000)));
  const cpuQuota = limCpu ? Math.max(MIN_QUOTA_US, Math.floor((limCpu * CPU_PERIOD_US) / 1000)) : 0;
  const memoryLimit = bytesOf(container.resources?.limits) ?? 0;
  const qos = podQosClass(pod);
  let oomScoreAdj: number;
  if (pod.spec.priorityClassName === "system-node-critical" || qos === "Guaranteed") oomScoreAdj = -997;
  else if (qos === "BestEffort") oomScoreAdj = 1000;
  else {
    // A missing request defaults to the limit (API defaulting; static pods are not defaulted).
    const memRequest = bytesOf(container.resources?.requests) ?? bytesOf(container.resources?.limits) ?? 0;
    const adj = nodeMemoryBytes > 0 ? 1000 - Math.floor((1000 * memRequest) / nodeMemoryBytes) : 999;
    oomScoreAdj = Math.min(999, Math.max(3, adj));
  }
  return {
    cpuShares: BigInt(cpuShares),
    cpuPeriod: BigInt(CPU_PERIOD_US),
    cpuQuota: BigInt(cpuQuota),
    ...(memoryLimit > 0 ? { memoryLimitInBytes: BigInt(memoryLimit) } : {}),
    oomScoreAdj: BigInt(oomScoreAdj),
  };
}

const PROPAGATION: Record<ContainerMount["propagation"], MountPropagation> = {
  None: MountPropagation.PROPAGATION_PRIVATE,
  HostToContainer: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
  Bidirectional: MountPropagation.PROPAGATION_BIDIRECTIONAL,
};

/** Linux's limit on one string passed to execve (MAX_ARG_STRLEN: 32 pages), its NUL included. */
export const MAX_ARG_STRLEN_BYTES = 131_072;

/**
 * Fails early, naming the culprit, when one environment variable (`NAME=value`) or one command or
 * argument is longer than execve accepts: the runtime would create the container and its process
 * would die with E2BIG ("argument list too long") before the image's entrypoint runs, which the pod
 * only shows as exit code 1. Upstream passes such a spec through; this is the clear error instead.
 */
function checkExecStrings(container: Container, env: ReadonlyMap<string, string>, argv: readonly string[]) {
  const tooLong = (what: string, bytes: number) =>
    new RuntimeStepError(
      "CreateContainerConfigError",
      `${what} of container "${container.name}" is ${bytes} bytes; Linux passes at most ${MAX_ARG_STRLEN_BYTES} bytes per variable or argument to a process (MAX_ARG_STRLEN), so it could not start`,
    );
  for (const [name, value] of env) {
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
    if (bytes > MAX_ARG_STRLEN_BYTES) throw tooLong(`env var "${name}"`, bytes);
  }
  argv.forEach((arg, i) => {
    const bytes = Buffer.byteLength(arg) + 1;
    if (bytes > MAX_ARG_STRLEN_BYTES) throw tooLong(`command/args[${i}]`, bytes);
  });
}

/** ContainerConfig for `container` (generateContainerConfig). */
export function containerConfig(
  pod: Pod,
  container: Container,
  restartCount: number,
  imageRef: string,
  s: Pick<ConfigSettings, "nodeMemoryBytes">,
  prepared: { env?: ReadonlyMap<string, string>; mounts?: readonly ContainerMount[] } = {},
): DeepPartial<ContainerConfig> {
  const env = prepared.env ?? containerEnv(container);
  const sc = container.securityContext;
  const psc = pod.spec.securityContext;
  const runAsUser = sc?.runAsUser ?? psc?.runAsUser;
  const runAsGroup = sc?.runAsGroup ?? psc?.runAsGroup;
  if ((sc?.runAsNonRoot ?? psc?.runAsNonRoot) && runAsUser === 0) {
    throw new RuntimeStepError("CreateContainerConfigError", "container's runAsUser breaks non-root policy");
  }
  const command = (container.command ?? []).map((c) => expandVars(c, env));
  const args = (container.args ?? []).map((a) => expandVars(a, env));
  checkExecStrings(container, env, [...command, ...args]);
  return {
    metadata: { name: container.name, attempt: restartCount },
    image: { image: imageRef, userSpecifiedImage: container.image ?? "" },
    command,
    args,
    workingDir: container.workingDir ?? "",
    envs: [...env].map(([key, value]) => ({ key, value })),
    // Volume mounts first (makeMounts); propagation None -> private.
    mounts: (prepared.mounts ?? []).map((m) => ({
      containerPath: m.containerPath,
      hostPath: m.hostPath,
      readonly: m.readonly,
      propagation: PROPAGATION[m.propagation],
    })),
    labels: containerLabels(pod, container),
    annotations: containerAnnotations(pod, container, restartCount),
    logPath: containerLogPath(container.name, restartCount),
    stdin: container.stdin ?? false,
    stdinOnce: container.stdinOnce ?? false,
    tty: container.tty ?? false,
    linux: {
      resources: containerResources(pod, container, s.nodeMemoryBytes),
      securityContext: {
        namespaceOptions: namespaceOptions(pod),
        privileged: sc?.privileged ?? false,
        readonlyRootfs: sc?.readOnlyRootFilesystem ?? false,
        ...(runAsUser !== undefined ? { runAsUser: { value: BigInt(runAsUser) } } : {}),
        ...(runAsGroup !== undefined ? { runAsGroup: { value: BigInt(runAsGroup) } } : {}),
        ...(sc?.capabilities
          ? {
              capabilities: {
                addCapabilities: sc.capabilities.add ?? [],
                dropCapabilities: sc.capabilities.drop ?? [],
              },
            }
          : {}),
        noNewPrivs: sc?.allowPrivilegeEscalation === false,
        supplementalGroups: [
          ...(psc?.fsGroup !== undefined ? [psc.fsGroup] : []),
          ...(psc?.supplementalGroups ?? []),
        ].map((g) => BigInt(g)),
      },
    },
  };
}
