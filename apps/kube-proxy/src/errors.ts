/** What went wrong, as a literal union callers can switch on. */
export type ProxyErrorCode = "InvalidConfig" | "InvalidFlag" | "SyncFailed" | "Unsupported" | "Internal";

/** The one error class of kubenode-proxy. `field` names the config field or flag at fault. */
export class ProxyError extends Error {
  override readonly name = "ProxyError";
  readonly code: ProxyErrorCode;
  /** The KubeProxyConfiguration field (e.g. `iptables.minSyncPeriod`) or flag (`--proxy-mode`) at fault. */
  readonly field: string | undefined;

  constructor(code: ProxyErrorCode, message: string, options: { cause?: unknown; field?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }

  /** Wraps anything thrown into a ProxyError (returned unchanged if it already is one). */
  static from(err: unknown, code: ProxyErrorCode = "Internal"): ProxyError {
    if (err instanceof ProxyError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new ProxyError(code, message, { cause: err });
  }
}
