import { KubeError, validateDNS1123Subdomain } from "@kubenode/kube";

/** What went wrong in @kubenode/heartbeat. */
export type HeartbeatErrorCode = "InvalidArgument" | "RenewFailed" | "Stopped";

/** The one error type of @kubenode/heartbeat. */
export class HeartbeatError extends Error {
  override readonly name = "HeartbeatError";
  readonly code: HeartbeatErrorCode;
  constructor(code: HeartbeatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** Wraps anything thrown; API failures keep their {@link KubeError} as `cause`. */
  static from(err: unknown): HeartbeatError {
    if (err instanceof HeartbeatError) return err;
    const k = KubeError.from(err);
    return new HeartbeatError(k.code === "InvalidArgument" ? "InvalidArgument" : "RenewFailed", k.message, {
      cause: k,
    });
  }
}

/** Throws unless `name` is a valid node name (a DNS-1123 subdomain, as the API server requires). */
export function checkNodeName(name: unknown, what = "nodeName"): asserts name is string {
  const invalid = validateDNS1123Subdomain(name);
  if (invalid.length > 0) {
    throw new HeartbeatError(
      "InvalidArgument",
      `${what} ${JSON.stringify(name)} is not a valid node name: ${invalid.join("; ")}`,
    );
  }
}
