// Per-RPC policy: deadlines, input validation, response checks, Stream* fallbacks. Mirrors the
// kubelet's remote runtime/image service (k8s.io/cri-client) unless noted.
import { CriError } from "./errors.js";
import type {
  AttachRequest,
  CreateContainerRequest,
  ExecRequest,
  ExecSyncRequest,
  ImageSpec,
  ListContainerStatsResponse,
  ListContainersResponse,
  ListImagesResponse,
  ListPodSandboxMetricsResponse,
  ListPodSandboxResponse,
  ListPodSandboxStatsResponse,
  RunPodSandboxRequest,
  StopContainerRequest,
} from "./gen/runtime/v1/api.js";

/** How a call's default deadline is derived from the client's `timeoutMs`. */
export type DeadlinePolicy =
  /** `timeoutMs` */
  | "default"
  /** `2 * timeoutMs` (RunPodSandbox: it sets up the network). */
  | "double"
  /** No deadline (PullImage, GetContainerEvents). */
  | "none"
  /** `timeoutMs + request.timeout` seconds (StopContainer: the grace period is on top). */
  | "stopContainer"
  /** `timeoutMs + request.timeout` seconds, or none when the exec timeout is 0 (ExecSync). */
  | "execSync";

const deadlinePolicies: Record<string, DeadlinePolicy> = {
  RunPodSandbox: "double",
  PullImage: "none",
  GetContainerEvents: "none",
  StopContainer: "stopContainer",
  ExecSync: "execSync",
};

/** The deadline policy of an RPC (by its CRI name). */
export function deadlinePolicy(rpc: string): DeadlinePolicy {
  return deadlinePolicies[rpc] ?? "default";
}

/**
 * Milliseconds until the deadline for `rpc`, or undefined for none. `override` (per call) wins;
 * `Infinity` or 0 in it means no deadline.
 */
export function deadlineMs(
  rpc: string,
  request: unknown,
  timeoutMs: number,
  override?: number,
): number | undefined {
  if (override !== undefined)
    return override === Number.POSITIVE_INFINITY || override === 0 ? undefined : override;
  switch (deadlinePolicy(rpc)) {
    case "none":
      return undefined;
    case "double":
      return 2 * timeoutMs;
    case "stopContainer":
      return timeoutMs + Number((request as StopContainerRequest).timeout) * 1000;
    case "execSync": {
      const seconds = Number((request as ExecSyncRequest).timeout);
      return seconds === 0 ? undefined : timeoutMs + seconds * 1000;
    }
    default:
      return timeoutMs;
  }
}

function invalid(rpc: string, message: string): CriError {
  return new CriError("InvalidArgument", `${rpc}: ${message}`, { rpc });
}

function requireString(rpc: string, value: string, field: string): void {
  if (value === "") throw invalid(rpc, `${field} must not be empty`);
}

function requireImage(rpc: string, image: ImageSpec | undefined, field = "image.image"): void {
  // containerd 1.6 resolves an empty reference as a prefix of every image: RemoveImage("") deletes
  // whatever image it matches first. Never send one.
  if (!image || image.image.trim() === "")
    throw invalid(rpc, `${field} (the image reference) must not be empty`);
}

type Validator = (rpc: string, request: never) => void;

const byPodSandboxId: Validator = (rpc, r: { podSandboxId: string }) =>
  requireString(rpc, r.podSandboxId, "podSandboxId");
const byContainerId: Validator = (rpc, r: { containerId: string }) =>
  requireString(rpc, r.containerId, "containerId");
const byImage: Validator = (rpc, r: { image?: ImageSpec }) => requireImage(rpc, r.image);

function requireCommand(rpc: string, cmd: string[]): void {
  if (cmd.length === 0 || cmd[0] === "") throw invalid(rpc, "cmd must name a command");
}

function requireStreams(rpc: string, r: ExecRequest | AttachRequest): void {
  if (!r.stdin && !r.stdout && !r.stderr)
    throw invalid(rpc, "at least one of stdin, stdout, stderr must be true");
  if (r.tty && r.stderr)
    throw invalid(rpc, "stderr must be false with tty (a TTY merges stderr into stdout)");
}

const validators: Record<string, Validator> = {
  RunPodSandbox: (rpc, r: RunPodSandboxRequest) => {
    const meta = r.config?.metadata;
    if (!meta) throw invalid(rpc, "config.metadata is required");
    requireString(rpc, meta.name, "config.metadata.name");
    requireString(rpc, meta.namespace, "config.metadata.namespace");
    requireString(rpc, meta.uid, "config.metadata.uid");
  },
  StopPodSandbox: byPodSandboxId,
  RemovePodSandbox: byPodSandboxId,
  PodSandboxStatus: byPodSandboxId,
  PodSandboxStats: byPodSandboxId,
  PortForward: byPodSandboxId,
  UpdatePodSandboxResources: byPodSandboxId,
  CheckpointPod: byPodSandboxId,
  CreateContainer: (rpc, r: CreateContainerRequest) => {
    requireString(rpc, r.podSandboxId, "podSandboxId");
    if (!r.config) throw invalid(rpc, "config is required");
    if (!r.config.metadata || r.config.metadata.name === "")
      throw invalid(rpc, "config.metadata.name must not be empty");
    requireImage(rpc, r.config.image, "config.image.image");
  },
  StartContainer: byContainerId,
  StopContainer: (rpc, r: StopContainerRequest) => {
    requireString(rpc, r.containerId, "containerId");
    if (Number(r.timeout) < 0) throw invalid(rpc, `timeout must be >= 0 seconds, got ${r.timeout}`);
  },
  RemoveContainer: byContainerId,
  ContainerStatus: byContainerId,
  UpdateContainerResources: byContainerId,
  ReopenContainerLog: byContainerId,
  ContainerStats: byContainerId,
  CheckpointContainer: byContainerId,
  ExecSync: (rpc, r: ExecSyncRequest) => {
    requireString(rpc, r.containerId, "containerId");
    requireCommand(rpc, r.cmd);
    if (Number(r.timeout) < 0) throw invalid(rpc, `timeout must be >= 0 seconds, got ${r.timeout}`);
  },
  Exec: (rpc, r: ExecRequest) => {
    requireString(rpc, r.containerId, "containerId");
    requireCommand(rpc, r.cmd);
    requireStreams(rpc, r);
  },
  Attach: (rpc, r: AttachRequest) => {
    requireString(rpc, r.containerId, "containerId");
    requireStreams(rpc, r);
  },
  ImageStatus: byImage,
  PullImage: byImage,
  RemoveImage: byImage,
};

/** Rejects a request the runtime must never see (throws CriError InvalidArgument). */
export function validateRequest(rpc: string, request: unknown): void {
  validators[rpc]?.(rpc, request as never);
}

type Checker = (response: never) => string | undefined;

const checkers: Record<string, Checker> = {
  RunPodSandbox: (r: { podSandboxId: string }) => (r.podSandboxId ? undefined : "empty podSandboxId"),
  CreateContainer: (r: { containerId: string }) => (r.containerId ? undefined : "empty containerId"),
  PodSandboxStatus: (r: { status?: { id: string; metadata?: unknown } }) =>
    !r.status
      ? "no status"
      : !r.status.id
        ? "status without id"
        : !r.status.metadata
          ? "status without metadata"
          : undefined,
  ContainerStatus: (r: { status?: { id: string; metadata?: unknown } }) =>
    !r.status
      ? "no status"
      : !r.status.id
        ? "status without id"
        : !r.status.metadata
          ? "status without metadata"
          : undefined,
  Exec: (r: { url: string }) => (r.url ? undefined : "empty url"),
  Attach: (r: { url: string }) => (r.url ? undefined : "empty url"),
  PortForward: (r: { url: string }) => (r.url ? undefined : "empty url"),
  PullImage: (r: { imageRef: string }) => (r.imageRef ? undefined : "empty imageRef"),
};

/** Rejects an OK response the CRI forbids, like the kubelet's response verification. */
export function checkResponse(rpc: string, response: unknown): void {
  const problem = checkers[rpc]?.(response as never);
  if (problem) throw new CriError("InvalidResponse", `${rpc}: runtime returned ${problem}`, { rpc });
}

/** A Stream* RPC and the unary List* call it falls back to on runtimes without it. */
export interface StreamFallback {
  /** Client method name of the unary call. */
  unary: string;
  /** Turns the unary response into the one message the stream would have produced. */
  toStreamResponse(response: unknown): unknown;
}

export const streamFallbacks: Record<string, StreamFallback> = {
  StreamPodSandboxes: {
    unary: "listPodSandbox",
    toStreamResponse: (r) => ({ podSandboxes: (r as ListPodSandboxResponse).items }),
  },
  StreamContainers: {
    unary: "listContainers",
    toStreamResponse: (r) => ({ containers: (r as ListContainersResponse).containers }),
  },
  StreamContainerStats: {
    unary: "listContainerStats",
    toStreamResponse: (r) => ({ containerStats: (r as ListContainerStatsResponse).stats }),
  },
  StreamPodSandboxStats: {
    unary: "listPodSandboxStats",
    toStreamResponse: (r) => ({ podSandboxStats: (r as ListPodSandboxStatsResponse).stats }),
  },
  StreamPodSandboxMetrics: {
    unary: "listPodSandboxMetrics",
    toStreamResponse: (r) => ({ podSandboxMetrics: (r as ListPodSandboxMetricsResponse).podMetrics }),
  },
  StreamImages: {
    unary: "listImages",
    toStreamResponse: (r) => ({ images: (r as ListImagesResponse).images }),
  },
};
