import { status as GrpcStatus } from "@grpc/grpc-js";

/** gRPC status codes by name, as a CRI runtime returns them. */
const grpcCodeNames = {
  [GrpcStatus.CANCELLED]: "Cancelled",
  [GrpcStatus.UNKNOWN]: "Unknown",
  [GrpcStatus.INVALID_ARGUMENT]: "InvalidArgument",
  [GrpcStatus.DEADLINE_EXCEEDED]: "DeadlineExceeded",
  [GrpcStatus.NOT_FOUND]: "NotFound",
  [GrpcStatus.ALREADY_EXISTS]: "AlreadyExists",
  [GrpcStatus.PERMISSION_DENIED]: "PermissionDenied",
  [GrpcStatus.RESOURCE_EXHAUSTED]: "ResourceExhausted",
  [GrpcStatus.FAILED_PRECONDITION]: "FailedPrecondition",
  [GrpcStatus.ABORTED]: "Aborted",
  [GrpcStatus.OUT_OF_RANGE]: "OutOfRange",
  [GrpcStatus.UNIMPLEMENTED]: "Unimplemented",
  [GrpcStatus.INTERNAL]: "Internal",
  [GrpcStatus.UNAVAILABLE]: "Unavailable",
  [GrpcStatus.DATA_LOSS]: "DataLoss",
  [GrpcStatus.UNAUTHENTICATED]: "Unauthenticated",
} as const;

/** Codes taken from the gRPC status the runtime (or the gRPC library) reported. */
export type CriStatusCode = (typeof grpcCodeNames)[keyof typeof grpcCodeNames];

/**
 * What went wrong. gRPC status names (`NotFound`, `Unavailable`, `DeadlineExceeded`, `Unimplemented`, ...)
 * plus client-side codes:
 * - `UnsupportedRuntime`: the runtime does not serve CRI v1 (e.g. only v1alpha2).
 * - `InvalidResponse`: the runtime answered OK with a response the CRI forbids (e.g. an empty ID).
 * - `Closed`: the client was closed.
 * - `StreamFailed`: an exec/attach/port-forward stream could not be set up or broke.
 *
 * `InvalidArgument` is also used for input rejected before anything is sent, and `Unauthenticated`
 * for a PullImage the registry refused for bad or missing credentials.
 */
export type CriErrorCode =
  | CriStatusCode
  | "UnsupportedRuntime"
  | "InvalidResponse"
  | "Closed"
  | "StreamFailed";

/** Options of {@link CriError}. */
export interface CriErrorOptions {
  /** CRI RPC name (`ListContainers`), when the error belongs to one call. */
  rpc?: string | undefined;
  /** The runtime's own message (gRPC status details), unchanged. */
  runtimeMessage?: string | undefined;
  cause?: unknown | undefined;
}

/**
 * The only error @kubenode/cri-client throws. Raw gRPC errors never escape: they are mapped to a
 * literal `code`, the `rpc` that failed and the runtime's message.
 */
export class CriError extends Error {
  override readonly name = "CriError";
  readonly code: CriErrorCode;
  readonly rpc: string | undefined;
  readonly runtimeMessage: string | undefined;

  constructor(code: CriErrorCode, message: string, options: CriErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.rpc = options.rpc;
    this.runtimeMessage = options.runtimeMessage;
  }

  /** Wraps anything thrown into a CriError (a CriError is returned unchanged). */
  static from(error: unknown, rpc?: string): CriError {
    if (error instanceof CriError) return error;
    if (isServiceError(error)) return fromStatus(error.code, error.details, rpc, error);
    if (error instanceof Error && error.name === "AbortError") {
      return new CriError("Cancelled", prefix(rpc, "cancelled"), { rpc, cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new CriError("Unknown", prefix(rpc, message), { rpc, cause: error });
  }
}

/** True for an error carrying a gRPC status (what @grpc/grpc-js rejects calls with). */
function isServiceError(error: unknown): error is { code: number; details: string } & Error {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === "number" &&
    typeof (error as { details?: unknown }).details === "string"
  );
}

function prefix(rpc: string | undefined, message: string): string {
  return rpc ? `${rpc}: ${message}` : message;
}

/** Maps a gRPC status to a CriError naming the RPC and keeping the runtime's message. */
export function fromStatus(
  code: number,
  details: string,
  rpc: string | undefined,
  cause?: unknown,
): CriError {
  let name: CriErrorCode = grpcCodeNames[code as keyof typeof grpcCodeNames] ?? "Unknown";
  // containerd 1.6 reports registry auth failures as UNKNOWN with the HTTP status in the text; a
  // caller deciding between "fix the pull secret" and "retry" needs them apart.
  if (
    rpc === "PullImage" &&
    name === "Unknown" &&
    /\b(401 Unauthorized|403 Forbidden)\b|unauthorized:/i.test(details)
  ) {
    name = "Unauthenticated";
  }
  const message = details || `gRPC status ${code}`;
  return new CriError(name, prefix(rpc, message), { rpc, runtimeMessage: details, cause });
}
