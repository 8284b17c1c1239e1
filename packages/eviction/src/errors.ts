/**
 * What went wrong, as a literal union so callers can switch on it.
 * - `InvalidThreshold`: a threshold, grace period or minimum-reclaim statement could not be parsed.
 * - `InvalidConfig`: the manager options are inconsistent (e.g. a soft threshold without a grace period).
 * - `StatsUnavailable`: the stats provider failed or returned incomplete data.
 * - `HostRead`: a host file (/proc, cgroupfs) or statfs call failed.
 * - `KillFailed`: the injected pod killer rejected.
 * - `Notifier`: the memory threshold notifier could not be set up.
 */
export type EvictionErrorCode =
  | "InvalidThreshold"
  | "InvalidConfig"
  | "StatsUnavailable"
  | "HostRead"
  | "KillFailed"
  | "Notifier";

/** The one error class of @kubenode/eviction. */
export class EvictionError extends Error {
  override readonly name = "EvictionError";
  readonly code: EvictionErrorCode;

  constructor(code: EvictionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** Wraps anything thrown into an EvictionError, keeping an EvictionError as is. */
  static from(err: unknown, code: EvictionErrorCode = "StatsUnavailable"): EvictionError {
    if (err instanceof EvictionError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new EvictionError(code, message, { cause: err });
  }
}
