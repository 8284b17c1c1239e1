// The runtime manager: the only module of the kubelet that speaks CRI (upstream's kuberuntime).
import { mkdir, readFile, rm, statfs } from "node:fs/promises";
import { totalmem } from "node:os";
import { join } from "node:path";
import {
  ContainerState,
  type CriClient,
  type ContainerStatus as CriContainerStatus,
  CriError,
  createCriClient,
  NamespaceMode,
  PodSandboxState,
  type PodSandboxStatus,
  pullImageWithSecrets,
} from "@kubenode/cri-client";
import { type Logger, silentLogger } from "@kubenode/kube";
import type { Container } from "../api.js";
import { type ConfigSettings, containerConfig, podLogDirectory, sandboxConfig } from "./cri-config.js";
import { parseResolvConf, type ResolvConf } from "./dns.js";
import { ensureEtcHosts, wantsManagedHosts } from "./etc-hosts.js";
import {
  CONTAINER_HASH_ANNOTATION,
  CONTAINER_NAME_LABEL,
  CONTAINER_RESTART_COUNT_ANNOTATION,
  intAnnotation,
  POD_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  POD_UID_LABEL,
  TERMINATION_MESSAGE_PATH_ANNOTATION,
  TERMINATION_MESSAGE_POLICY_ANNOTATION,
} from "./labels.js";
import type { PodCgroupSettings } from "./pod-cgroups.js";
import { createTerminationMessageFile, terminationMessage } from "./termination-message.js";
import {
  ExecTimeoutError,
  type FsUsage,
  type PodRuntime,
  type RuntimeContainerState,
  type RuntimeHealth,
  type RuntimeImage,
  type RuntimeImageService,
  type RuntimePod,
  type RuntimeSandbox,
  RuntimeStepError,
  type RuntimeVersion,
  type StartContainerRequest,
} from "./types.js";

/** Options of {@link createCriRuntime}. */
export interface CriRuntimeOptions {
  /** CRI socket (`unix:///run/containerd/containerd.sock`). Ignored when `client` is given. */
  endpoint?: string;
  /** An existing CRI client (closed by the caller). */
  client?: CriClient;
  /** Per-call deadline (`--runtime-request-timeout`), default 2 min. */
  requestTimeoutMs?: number;
  /** Container log root (podLogsDir), default /var/log/pods. */
  podLogsDir?: string;
  /** Kubelet state directory (`--root-dir`, default /var/lib/kubelet): termination message files, /etc/hosts. */
  rootDir?: string;
  /** Pod-level cgroups under `kubepods` (cgroupsPerQOS); absent: the runtime's default parent. */
  podCgroups?: PodCgroupSettings;
  clusterDNS?: readonly string[];
  clusterDomain?: string;
  /** Host resolver config file for dnsPolicy Default, default /etc/resolv.conf ("" = none). */
  resolvConf?: string;
  logger?: Logger;
}

const NS_PER_MS = 1_000_000n;

function nsToMs(ns: bigint): number {
  return Number(ns / NS_PER_MS);
}

function isNotFound(err: unknown): boolean {
  return err instanceof CriError && err.code === "NotFound";
}

/** How grpc-js words a deadline it enforced itself (with its timings and the socket's path). */
const CLIENT_DEADLINE = /^Deadline exceeded after /;

/** The text upstream shows for a CRI error (Go's status error: `rpc error: code = X desc = …`). */
export function criErrorText(err: unknown): string {
  if (err instanceof CriError && err.runtimeMessage !== undefined) {
    // Go's client says "context deadline exceeded" for its own deadline (--runtime-request-timeout).
    const desc =
      err.code === "DeadlineExceeded" && CLIENT_DEADLINE.test(err.runtimeMessage)
        ? "context deadline exceeded"
        : err.runtimeMessage;
    return `rpc error: code = ${err.code} desc = ${desc}`;
  }
  return err instanceof Error ? err.message : String(err);
}

const STATES: Record<number, RuntimeContainerState> = {
  [ContainerState.CONTAINER_CREATED]: "created",
  [ContainerState.CONTAINER_RUNNING]: "running",
  [ContainerState.CONTAINER_EXITED]: "exited",
};

// docker/distribution reference grammar: [domain/]path[:tag][@digest]. The first component is a
// domain only when it has a "." or a ":port" or is "localhost"; path components are lowercase.
const DOMAIN =
  /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** Whether `image` is a valid image reference (docker/distribution's grammar). */
export function isValidImageRef(image: string): boolean {
  if (image.length === 0 || image.length > 4096) return false;
  let rest = image;
  const at = rest.indexOf("@");
  if (at >= 0) {
    if (!DIGEST.test(rest.slice(at + 1))) return false;
    rest = rest.slice(0, at);
  }
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    if (!TAG.test(rest.slice(colon + 1))) return false;
    rest = rest.slice(0, colon);
  }
  const parts = rest.split("/");
  const first = parts[0] ?? "";
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    if (!DOMAIN.test(first)) return false;
    parts.shift();
  }
  return parts.length > 0 && parts.every((p) => PATH_COMPONENT.test(p));
}

/** The effective pull policy: the API default is Always for `:latest` or untagged images. */
export function pullPolicy(container: Container): "Always" | "IfNotPresent" | "Never" {
  if (container.imagePullPolicy) return container.imagePullPolicy;
  const image = container.image ?? "";
  if (image.includes("@")) return "IfNotPresent";
  const last = image.slice(image.lastIndexOf("/") + 1);
  const tag = last.includes(":") ? last.slice(last.indexOf(":") + 1) : "latest";
  return tag === "latest" ? "Always" : "IfNotPresent";
}

/**
 * Creates the CRI runtime module. Pods are recognised by the labels the kubelet writes
 * (`io.kubernetes.pod.uid`), restart counts read back from annotations, so a restarted kubelet
 * sees exactly what the previous one left.
 */
export function createCriRuntime(options: CriRuntimeOptions): PodRuntime & { readonly cri: CriClient } {
  if (!options.client && !options.endpoint) {
    throw new RuntimeStepError("CreatePodSandboxError", "createCriRuntime: endpoint or client is required");
  }
  const ownsClient = !options.client;
  const cri =
    options.client ??
    createCriClient({
      endpoint: options.endpoint!,
      timeoutMs: options.requestTimeoutMs,
    });
  const log = (options.logger ?? silentLogger).withName("runtime");
  let hostResolv: ResolvConf = { nameservers: [], searches: [], options: [] };
  let runtimeName = "containerd";
  const settings = (): ConfigSettings => ({
    podLogsDir: options.podLogsDir ?? "/var/log/pods",
    clusterDNS: options.clusterDNS ?? [],
    clusterDomain: options.clusterDomain ?? "",
    hostResolv,
    nodeMemoryBytes: totalmem(),
    podCgroups: options.podCgroups,
  });
  const rootDir = options.rootDir ?? "/var/lib/kubelet";
  // Statuses that no longer change: exited containers (final, with their termination message) and
  // running ones (start time fixed).
  const containerCache = new Map<
    string,
    { state: ContainerState; status: CriContainerStatus; message: string }
  >();
  const sandboxCache = new Map<string, PodSandboxStatus>();

  async function sandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    const cached = sandboxCache.get(id);
    if (cached) return cached;
    try {
      const { status } = await cri.podSandboxStatus({ podSandboxId: id });
      if (status) sandboxCache.set(id, status);
      return status;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function containerStatus(
    id: string,
    state: ContainerState,
  ): Promise<{ status: CriContainerStatus; message: string } | undefined> {
    const cached = containerCache.get(id);
    if (cached && cached.state === state) return cached;
    try {
      const { status } = await cri.containerStatus({ containerId: id });
      if (!status) return undefined;
      // An exited container's message carries its termination message (getContainerStatus).
      const message =
        status.state === ContainerState.CONTAINER_EXITED
          ? await terminationMessage({
              exitCode: status.exitCode,
              reason: status.reason,
              message: status.message,
              logPath: status.logPath,
              mounts: status.mounts,
              terminationMessagePath: status.annotations[TERMINATION_MESSAGE_PATH_ANNOTATION] ?? "",
              terminationMessagePolicy: status.annotations[TERMINATION_MESSAGE_POLICY_ANNOTATION] ?? "",
            })
          : status.message;
      const entry = { state: status.state, status, message };
      containerCache.set(id, entry);
      return entry;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  function toSandbox(status: PodSandboxStatus, attempt: number): RuntimeSandbox {
    const ready = status.state === PodSandboxState.SANDBOX_READY;
    const hostNetwork = status.linux?.namespaces?.options?.network === NamespaceMode.NODE;
    const ips =
      ready && status.network?.ip
        ? [status.network.ip, ...status.network.additionalIps.map((p) => p.ip)]
        : [];
    return {
      id: status.id,
      state: ready ? "ready" : "notready",
      attempt,
      createdAtMs: nsToMs(status.createdAt),
      ips,
      hostNetwork,
    };
  }

  async function collect(filterUid?: string): Promise<RuntimePod[]> {
    const labelSelector = filterUid ? { [POD_UID_LABEL]: filterUid } : {};
    const [{ items: sandboxes }, { containers }] = await Promise.all([
      cri.listPodSandbox({ filter: { labelSelector } }),
      cri.listContainers({ filter: { labelSelector } }),
    ]);
    const pods = new Map<string, RuntimePod>();
    const podOf = (labels: Record<string, string>): RuntimePod | undefined => {
      const uid = labels[POD_UID_LABEL];
      if (!uid) return undefined; // not created by a kubelet
      let p = pods.get(uid);
      if (!p) {
        p = {
          uid,
          name: labels[POD_NAME_LABEL] ?? "",
          namespace: labels[POD_NAMESPACE_LABEL] ?? "",
          sandboxes: [],
          containers: [],
        };
        pods.set(uid, p);
      }
      return p;
    };
    const liveSandboxes = new Set<string>();
    await Promise.all(
      sandboxes.map(async (sb) => {
        const pod = podOf(sb.labels);
        if (!pod) return;
        liveSandboxes.add(sb.id);
        // The sandbox state moves (ready -> notready): refresh the cached status when it did.
        const cached = sandboxCache.get(sb.id);
        if (cached && cached.state !== sb.state) sandboxCache.delete(sb.id);
        const status = await sandboxStatus(sb.id);
        if (status) pod.sandboxes.push(toSandbox(status, sb.metadata?.attempt ?? 0));
      }),
    );
    const liveContainers = new Set<string>();
    await Promise.all(
      containers.map(async (c) => {
        const pod = podOf(c.labels);
        if (!pod) return;
        liveContainers.add(c.id);
        const found = await containerStatus(c.id, c.state);
        if (!found) return;
        const st = found.status;
        pod.containers.push({
          id: c.id,
          name: c.labels[CONTAINER_NAME_LABEL] ?? c.metadata?.name ?? "",
          sandboxId: c.podSandboxId,
          state: STATES[st.state] ?? "unknown",
          restartCount: intAnnotation(c.annotations, CONTAINER_RESTART_COUNT_ANNOTATION),
          hash: c.annotations[CONTAINER_HASH_ANNOTATION] ?? "",
          image: st.image?.image ?? c.image?.image ?? "",
          imageRef: st.imageRef || c.imageRef,
          createdAtMs: nsToMs(st.createdAt),
          startedAtMs: nsToMs(st.startedAt),
          finishedAtMs: nsToMs(st.finishedAt),
          exitCode: st.exitCode,
          reason: st.reason,
          message: found.message,
        });
      }),
    );
    if (!filterUid) {
      for (const id of containerCache.keys()) if (!liveContainers.has(id)) containerCache.delete(id);
      for (const id of sandboxCache.keys()) if (!liveSandboxes.has(id)) sandboxCache.delete(id);
    }
    for (const p of pods.values()) {
      p.sandboxes.sort((a, b) => b.createdAtMs - a.createdAtMs);
      p.containers.sort((a, b) => b.createdAtMs - a.createdAtMs);
    }
    return [...pods.values()];
  }

  // containerd 1.6 does not pin its sandbox image: read it from the CRI plugin's config (Status
  // verbose info) so image GC keeps it, as upstream kept its pod-infra image.
  async function sandboxImage(): Promise<string | undefined> {
    try {
      const { info } = await cri.status({ verbose: true });
      const config = JSON.parse(info.config ?? "{}") as { sandboxImage?: unknown };
      return typeof config.sandboxImage === "string" ? config.sandboxImage : undefined;
    } catch {
      return undefined;
    }
  }

  const images: RuntimeImageService = {
    async listImages(): Promise<RuntimeImage[]> {
      const [{ images: list }, pause] = await Promise.all([cri.listImages({}), sandboxImage()]);
      return list.map((img) => {
        const names = [...img.repoTags, ...img.repoDigests];
        return {
          id: img.id,
          names,
          sizeBytes: Number(img.size),
          pinned: img.pinned || (pause !== undefined && names.includes(pause)),
        };
      });
    },
    async removeImage(id) {
      // An empty reference would delete an arbitrary image on containerd 1.6 (prefix match).
      if (!id) throw new TypeError("removeImage: empty image ID");
      try {
        await cri.removeImage({ image: { image: id } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async imageFsUsage(): Promise<FsUsage | undefined> {
      const info = await cri.imageFsInfo({});
      const mountpoint = info.imageFilesystems[0]?.fsId?.mountpoint;
      if (!mountpoint) return undefined;
      const st = await statfs(mountpoint);
      return { capacityBytes: st.blocks * st.bsize, availableBytes: st.bavail * st.bsize };
    },
  };

  const runtime: PodRuntime & { readonly cri: CriClient } = {
    get name() {
      return runtimeName;
    },
    cri,
    async start() {
      const v = await cri.connect();
      runtimeName = v.runtimeName || runtimeName;
      const resolvPath = options.resolvConf ?? "/etc/resolv.conf";
      if (resolvPath) {
        try {
          hostResolv = parseResolvConf(await readFile(resolvPath, "utf8"));
        } catch (err) {
          log.warn("cannot read the host resolver config; Default DNS policy pods get none", {
            path: resolvPath,
            err: String(err),
          });
        }
      }
      log.info("connected to the container runtime", {
        runtime: v.runtimeName,
        version: v.runtimeVersion,
        apiVersion: v.runtimeApiVersion,
      });
    },
    async stop() {
      if (ownsClient) cri.close();
    },
    async version(): Promise<RuntimeVersion> {
      const v = await cri.version({});
      return {
        runtimeName: v.runtimeName,
        runtimeVersion: v.runtimeVersion,
        runtimeApiVersion: v.runtimeApiVersion,
      };
    },
    async health(): Promise<RuntimeHealth> {
      const { status } = await cri.status({});
      const conds = status?.conditions ?? [];
      const cond = (type: string) => conds.find((c) => c.type === type);
      const rt = cond("RuntimeReady");
      const net = cond("NetworkReady");
      const problems: string[] = [];
      // Upstream prints conditions as `<Type>=<bool> reason:<r> message:<m>` (kubelet.go updateRuntimeUp).
      if (!rt?.status)
        problems.push(
          `container runtime not ready: RuntimeReady=false reason:${rt?.reason ?? ""} message:${rt?.message ?? ""}`,
        );
      if (!net?.status)
        problems.push(
          `container runtime network not ready: NetworkReady=false reason:${net?.reason ?? ""} message:${net?.message ?? ""}`,
        );
      return {
        runtimeReady: rt?.status === true,
        networkReady: net?.status === true,
        ...(problems.length > 0 ? { message: problems.join(", ") } : {}),
      };
    },
    listPods: () => collect(),
    async getPod(uid) {
      const [pod] = await collect(uid);
      return pod;
    },
    async runSandbox(pod, attempt) {
      const s = settings();
      // The pod log directory exists before RunPodSandbox (kuberuntime_sandbox.go createPodSandbox).
      await mkdir(podLogDirectory(s.podLogsDir, pod), { recursive: true, mode: 0o755 });
      const config = sandboxConfig(pod, attempt, s);
      let id: string;
      try {
        ({ podSandboxId: id } = await cri.runPodSandbox({ config }));
      } catch (err) {
        throw new RuntimeStepError(
          "CreatePodSandboxError",
          `Failed to create pod sandbox: ${criErrorText(err)}`,
          {
            cause: err,
          },
        );
      }
      const status = await sandboxStatus(id);
      if (!status)
        throw new RuntimeStepError("CreatePodSandboxError", `sandbox ${id} vanished after creation`);
      return toSandbox(status, attempt);
    },
    async stopSandbox(id) {
      try {
        await cri.stopPodSandbox({ podSandboxId: id });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      sandboxCache.delete(id);
    },
    async removeSandbox(id) {
      try {
        await cri.stopPodSandbox({ podSandboxId: id });
        await cri.removePodSandbox({ podSandboxId: id });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      sandboxCache.delete(id);
    },
    async ensureImage(pod, container, pullSecrets, signal) {
      const image = container.image ?? "";
      if (!isValidImageRef(image)) {
        // images/types.go ErrInvalidImageName, message from applyDefaultImageTag.
        throw new RuntimeStepError(
          "InvalidImageName",
          `Failed to apply default image tag "${image}": couldn't parse image name "${image}": invalid reference format`,
        );
      }
      const policy = pullPolicy(container);
      if (policy !== "Always") {
        const { image: present } = await cri.imageStatus({ image: { image } }, { signal });
        if (present?.id) return present.id;
        if (policy === "Never") {
          throw new RuntimeStepError(
            "ErrImageNeverPull",
            `Container image "${image}" is not present with pull policy of Never`,
          );
        }
      }
      try {
        const { imageRef } = await pullImageWithSecrets(cri, image, pullSecrets, {
          sandboxConfig: sandboxConfig(pod, 0, settings()),
          signal,
        });
        return imageRef;
      } catch (err) {
        throw new RuntimeStepError("ErrImagePull", criErrorText(err), { cause: err });
      }
    },
    async startContainer(req: StartContainerRequest) {
      const { pod, container, sandbox, imageRef, restartCount } = req;
      const s = settings();
      let config: ReturnType<typeof containerConfig>;
      try {
        config = containerConfig(pod, container, restartCount, imageRef, s, {
          ...(req.env ? { env: req.env } : {}),
          ...(req.mounts ? { mounts: req.mounts } : {}),
        });
      } catch (err) {
        if (err instanceof RuntimeStepError) throw err;
        throw new RuntimeStepError("CreateContainerConfigError", String(err), { cause: err });
      }
      await mkdir(join(podLogDirectory(s.podLogsDir, pod), container.name), { recursive: true, mode: 0o755 });
      // makeMounts: after the volume mounts, the managed /etc/hosts; the termination message file
      // after every other mount. Failing to prepare either is a CreateContainerConfigError, as a
      // failing GenerateRunContainerOptions is upstream.
      try {
        const hosts = wantsManagedHosts(container)
          ? await ensureEtcHosts({
              rootDir,
              pod,
              podIPs: sandbox.ips,
              clusterDomain: s.clusterDomain,
            })
          : undefined;
        const termination = await createTerminationMessageFile(rootDir, pod, container);
        config.mounts = [
          ...(config.mounts ?? []),
          ...(hosts ? [hosts] : []),
          ...(termination
            ? [{ containerPath: termination.containerPath, hostPath: termination.hostPath, readonly: false }]
            : []),
        ];
      } catch (err) {
        if (err instanceof RuntimeStepError) throw err;
        throw new RuntimeStepError(
          "CreateContainerConfigError",
          err instanceof Error ? err.message : String(err),
          {
            cause: err,
          },
        );
      }
      let containerId: string;
      try {
        ({ containerId } = await cri.createContainer({
          podSandboxId: sandbox.id,
          config,
          sandboxConfig: sandboxConfig(pod, sandbox.attempt, s),
        }));
      } catch (err) {
        throw new RuntimeStepError("CreateContainerError", criErrorText(err), { cause: err });
      }
      try {
        await cri.startContainer({ containerId });
      } catch (err) {
        throw new RuntimeStepError("RunContainerError", criErrorText(err), { cause: err });
      }
      return containerId;
    },
    async stopContainer(id, gracePeriodSeconds) {
      try {
        await cri.stopContainer({
          containerId: id,
          timeout: BigInt(Math.max(0, Math.ceil(gracePeriodSeconds))),
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async removeContainer(id) {
      // The container's termination message file goes with it (it lives under the root dir).
      const known = containerCache.get(id)?.status;
      const termPath = known?.annotations[TERMINATION_MESSAGE_PATH_ANNOTATION];
      const termFile = termPath
        ? known?.mounts.find((m) => m.containerPath === termPath)?.hostPath
        : undefined;
      try {
        await cri.removeContainer({ containerId: id });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      containerCache.delete(id);
      if (termFile?.startsWith(join(rootDir, "pods"))) await rm(termFile, { force: true });
    },
    images,
    async execSync(id, command, timeoutMs) {
      // CRI takes whole seconds; a sub-second timeout still gets one second, as upstream rounds up.
      const timeoutSeconds = timeoutMs > 0 ? Math.max(1, Math.ceil(timeoutMs / 1000)) : 0;
      try {
        const r = await cri.execSync({ containerId: id, cmd: [...command], timeout: BigInt(timeoutSeconds) });
        const stdout = r.stdout.toString("utf8");
        const stderr = r.stderr.toString("utf8");
        return { exitCode: r.exitCode, output: stdout + stderr, stderr };
      } catch (err) {
        // containerd ends a timed-out exec with DeadlineExceeded (remote_runtime.go turns that
        // into the exec TimeoutError).
        if (
          err instanceof CriError &&
          (err.code === "DeadlineExceeded" || /timeout .* exceeded/.test(err.runtimeMessage ?? ""))
        )
          throw new ExecTimeoutError(command, { cause: err });
        throw err;
      }
    },
  };
  return runtime;
}
