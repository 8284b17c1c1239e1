import { KubeError } from "@kubenode/kube";

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

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Throws unless `name` is a valid node name (a DNS subdomain, as the API server requires). */
export function checkNodeName(name: unknown, what = "nodeName"): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new HeartbeatError(
      "InvalidArgument",
      `${what} ${JSON.stringify(name)} is not a valid node name (lowercase DNS subdomain, at most 253 characters)`,
    );
  }
}
