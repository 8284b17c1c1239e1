import type { Container, Pod } from "../api.js";

/**
 * The replaceable runtime module: everything the kubelet asks of a container runtime, at the level
 * of pod sandboxes and containers. The CRI implementation ({@link createCriRuntime}) is the only code
 * that speaks CRI; a virtual node implements this interface in memory (see examples/virtual-node.ts).
 *
 * Decisions (restart policy, backoff, what to start or kill, status) are the pod workers'; a runtime
 * only carries them out and reports what exists.
 */
export interface PodRuntime {
  /** Prefix of container IDs in pod status (`containerd` gives `containerd://<id>`). */
  readonly name: string;
  /** Connects and checks the runtime. Called once by `kubelet.start()`. */
  start(): Promise<void>;
  /** Closes connections. Running containers are left running (a restarted kubelet adopts them). */
  stop(): Promise<void>;
  /** Runtime name and version, e.g. for node status. */
  version(): Promise<RuntimeVersion>;
  /** Runtime health (CRI Status): RuntimeReady and NetworkReady. */
  health(): Promise<RuntimeHealth>;
  /**
   * Every pod the runtime holds that this kubelet created (sandboxes and containers), with
   * exit codes and times of exited containers. PLEG calls this every second.
   */
  listPods(): Promise<RuntimePod[]>;
  /** One pod's sandboxes and containers, fresh from the runtime; `undefined` when it has none. */
  getPod(uid: string): Promise<RuntimePod | undefined>;
  /** Creates and starts a sandbox (network, DNS, hostname) for `pod`; returns it as running. */
  runSandbox(pod: Pod, attempt: number): Promise<RuntimeSandbox>;
  /** Stops a sandbox (and whatever still runs in it). Unknown IDs are ignored. */
  stopSandbox(id: string): Promise<void>;
  /** Removes a stopped sandbox and its containers. Unknown IDs are ignored. */
  removeSandbox(id: string): Promise<void>;
  /**
   * Makes the container's image present according to its imagePullPolicy, with the pod's pull
   * secrets (`.dockerconfigjson` texts). Returns the image ID to run. Throws {@link RuntimeStepError}
   * with `ErrImagePull`, `ErrImageNeverPull` or `InvalidImageName`. `signal` aborts a pull when the
   * pod is deleted while it starts.
   */
  ensureImage(
    pod: Pod,
    container: Container,
    pullSecrets: readonly string[],
    signal?: AbortSignal,
  ): Promise<string>;
  /**
   * Creates and starts `container` of `pod` in `sandbox` as restart number `restartCount`.
   * Throws {@link RuntimeStepError} with `CreateContainerConfigError`, `CreateContainerError` or
   * `RunContainerError`.
   */
  startContainer(request: StartContainerRequest): Promise<string>;
  /**
   * Stops a container: SIGTERM, then SIGKILL after `gracePeriodSeconds`. Unknown IDs are ignored.
   */
  stopContainer(id: string, gracePeriodSeconds: number): Promise<void>;
  /** Removes a stopped container. Unknown IDs are ignored. */
  removeContainer(id: string): Promise<void>;
  /**
   * The runtime's image store, for image garbage collection. Absent (a virtual node): no image GC.
   */
  readonly images?: RuntimeImageService;
  /**
   * Runs `command` in a running container and waits for it (CRI ExecSync), for exec probes and
   * lifecycle hooks. `timeoutMs` 0 means no limit; when it passes, throws {@link ExecTimeoutError}.
   * Optional: a runtime without it gets exec probes and hooks reported as errors.
   */
  execSync?(id: string, command: readonly string[], timeoutMs: number): Promise<ExecSyncResult>;
}

/** An image in the runtime's store. */
export interface RuntimeImage {
  /** Node-local image ID (`sha256:…`), what containers' `imageRef` holds. */
  id: string;
  /** Tags and digests. */
  names: string[];
  sizeBytes: number;
  /** The runtime asks to keep it (CRI `pinned`, or the sandbox image). */
  pinned: boolean;
}

/** Size and free space of a filesystem, in bytes. */
export interface FsUsage {
  capacityBytes: number;
  availableBytes: number;
}

/** What image garbage collection needs of a runtime's image service. */
export interface RuntimeImageService {
  listImages(): Promise<RuntimeImage[]>;
  /** Removes an image by ID (every tag of it). Unknown IDs are ignored. */
  removeImage(id: string): Promise<void>;
  /** The filesystem images are stored on; undefined when the runtime reports none. */
  imageFsUsage(): Promise<FsUsage | undefined>;
}

/** What a command run by {@link PodRuntime.execSync} left. */
export interface ExecSyncResult {
  exitCode: number;
  /** stdout followed by stderr, as upstream's prober combines them. */
  output: string;
  stderr: string;
}

/** An exec that did not finish within its timeout (upstream's exec TimeoutError text). */
export class ExecTimeoutError extends Error {
  override readonly name = "ExecTimeoutError";
  constructor(command: readonly string[], options?: { cause?: unknown }) {
    super(`command ${JSON.stringify(command.join(" "))} timed out`, options);
  }
}

/** What {@link PodRuntime.startContainer} needs. */
export interface StartContainerRequest {
  pod: Pod;
  container: Container;
  sandbox: RuntimeSandbox;
  /** The image ID {@link PodRuntime.ensureImage} returned. */
  imageRef: string;
  restartCount: number;
  /**
   * The resolved environment (env, envFrom, service links; see the kubelet's env module). Absent:
   * the runtime uses the container's literal `env` values and rejects `valueFrom`/`envFrom`.
   */
  env?: ReadonlyMap<string, string>;
  /** Volume mounts, host paths prepared by the volume manager. */
  mounts?: readonly ContainerMount[];
}

/** A bind mount of a host path into a container. */
export interface ContainerMount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  /** The API's mountPropagation (`None` = private). */
  propagation: "None" | "HostToContainer" | "Bidirectional";
}

export interface RuntimeVersion {
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface RuntimeHealth {
  runtimeReady: boolean;
  networkReady: boolean;
  /** Why not ready, as upstream prints conditions (`NetworkReady=false reason:… message:…`). */
  message?: string;
}

/** A pod as the runtime sees it: identified by the labels the kubelet put on its sandboxes. */
export interface RuntimePod {
  uid: string;
  name: string;
  namespace: string;
  /** Newest first. */
  sandboxes: RuntimeSandbox[];
  /** Newest first. */
  containers: RuntimeContainer[];
}

export interface RuntimeSandbox {
  id: string;
  state: "ready" | "notready";
  attempt: number;
  createdAtMs: number;
  /** Pod IPs; empty for host-network pods and stopped sandboxes. */
  ips: string[];
  hostNetwork: boolean;
}

export type RuntimeContainerState = "created" | "running" | "exited" | "unknown";

export interface RuntimeContainer {
  id: string;
  /** Container name from the `io.kubernetes.container.name` label. */
  name: string;
  sandboxId: string;
  state: RuntimeContainerState;
  /** From the `io.kubernetes.container.restartCount` annotation, so it survives kubelet restarts. */
  restartCount: number;
  /** From the `io.kubernetes.container.hash` annotation. */
  hash: string;
  /** The image as the runtime names it (`docker.io/library/busybox:1.36`). */
  image: string;
  /** The image ID (`sha256:…`). */
  imageRef: string;
  createdAtMs: number;
  startedAtMs: number;
  finishedAtMs: number;
  exitCode: number;
  /** Runtime reason of an exit (`Completed`, `Error`, `OOMKilled`, `StartError`). */
  reason: string;
  message: string;
}

/** Reasons of failed pod sync steps, as upstream's kubelet puts them in waiting states. */
export type StepFailureReason =
  | "ErrImagePull"
  | "ImagePullBackOff"
  | "ErrImageNeverPull"
  | "InvalidImageName"
  | "CreateContainerConfigError"
  | "CreateContainerError"
  | "RunContainerError"
  | "CrashLoopBackOff"
  | "CreatePodSandboxError";

/** A failed step of starting a container, carrying the waiting reason the pod status shows. */
export class RuntimeStepError extends Error {
  override readonly name = "RuntimeStepError";
  readonly reason: StepFailureReason;
  constructor(reason: StepFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
