/** What went wrong, as a program would branch on it. */
export type KubeErrorCode =
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Invalid"
  | "TooManyRequests"
  | "Timeout"
  | "ServerError"
  | "Unavailable"
  | "Network"
  | "Aborted"
  | "InvalidConfig"
  | "InvalidArgument"
  | "Unknown";

/** The parsed `metav1.Status` an API server sends with an error. */
export interface KubeStatus {
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

interface KubeErrorInit {
  httpStatus?: number;
  reason?: string;
  status?: KubeStatus;
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

const REASON_CODES: Record<string, KubeErrorCode> = {
  BadRequest: "BadRequest",
  Unauthorized: "Unauthorized",
  Forbidden: "Forbidden",
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  Conflict: "Conflict",
  Gone: "Gone",
  Expired: "Gone",
  Invalid: "Invalid",
  TooManyRequests: "TooManyRequests",
  Timeout: "Timeout",
  ServerTimeout: "Timeout",
  InternalError: "ServerError",
  ServiceUnavailable: "Unavailable",
};

function codeForHttpStatus(httpStatus: number): KubeErrorCode {
  switch (httpStatus) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 504:
      return "Timeout";
    case 503:
      return "Unavailable";
    default:
      return httpStatus >= 500 ? "ServerError" : "Unknown";
  }
}

function parseStatusBody(body: unknown): KubeStatus | undefined {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  } else if (value instanceof Uint8Array) {
    return parseStatusBody(Buffer.from(value).toString("utf8"));
  }
  if (value && typeof value === "object" && (value as { kind?: unknown }).kind === "Status") {
    return value as KubeStatus;
  }
  if (value && typeof value === "object" && ("reason" in value || "message" in value))
    return value as KubeStatus;
  return undefined;
}

// A registry-wide symbol: two installed copies of @kubenode/kube (a user's and a block's) share it,
// so a KubeError thrown by one is recognised by the other.
const KUBE_ERROR_BRAND = Symbol.for("@kubenode/kube.KubeError");

/**
 * The one error type of @kubenode/kube. API errors carry the `reason` and `message` of the
 * server's Status body, so callers can branch on `code` ("Conflict", "NotFound", ...) whether
 * the failure came from our HTTP client, from @kubernetes/client-node, or from the network.
 */
export class KubeError extends Error {
  override readonly name = "KubeError";
  readonly code: KubeErrorCode;
  /** HTTP status of the response, when there was one. */
  readonly httpStatus: number | undefined;
  /** The Status `reason` sent by the API server, when there was one. */
  readonly reason: string | undefined;
  /** The parsed Status body, when there was one. */
  readonly status: KubeStatus | undefined;
  /** Marks instances for `instanceof` across copies of this package. */
  readonly [KUBE_ERROR_BRAND] = true;

  /**
   * `err instanceof KubeError` holds for a KubeError made by any installed copy of
   * @kubenode/kube (they share a `Symbol.for` brand), so a block bundling its own copy still sees
   * a 409 Conflict as a KubeError. Subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // `this` is the class `instanceof` was asked about: a subclass gets the prototype check.
    // biome-ignore lint/complexity/noThisInStatic: the receiver is what distinguishes subclasses
    if (this !== KubeError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return (
      typeof value === "object" &&
      value !== null &&
      (value as { [KUBE_ERROR_BRAND]?: unknown })[KUBE_ERROR_BRAND] === true
    );
  }

  constructor(code: KubeErrorCode, message: string, init: KubeErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.httpStatus = init.httpStatus;
    this.reason = init.reason;
    this.status = init.status;
  }

  /** Builds an error from an HTTP status and the response body (a Status object or its JSON). */
  static fromResponse(httpStatus: number, body: unknown, context?: string): KubeError {
    const status = parseStatusBody(body);
    const reason = status?.reason || undefined;
    const code = (reason && REASON_CODES[reason]) || codeForHttpStatus(status?.code ?? httpStatus);
    const detail =
      status?.message ??
      (typeof body === "string" && body.length > 0 ? body.slice(0, 200) : `HTTP ${httpStatus}`);
    const message = context ? `${context}: ${detail}` : detail;
    return new KubeError(code, message, {
      httpStatus,
      ...(reason ? { reason } : {}),
      ...(status ? { status } : {}),
    });
  }

  /**
   * Normalises anything thrown by a Kubernetes call: our own errors pass through, client-node's
   * `ApiException` (numeric `code`, `body` as a JSON string) is parsed, socket errors become
   * "Network", aborts "Aborted".
   */
  static from(err: unknown): KubeError {
    if (err instanceof KubeError) return err;
    if (err && typeof err === "object") {
      const e = err as { code?: unknown; body?: unknown; name?: unknown; message?: unknown; cause?: unknown };
      if (e.name === "AbortError" || e.name === "TimeoutError") {
        const code: KubeErrorCode = e.name === "TimeoutError" ? "Timeout" : "Aborted";
        return new KubeError(code, String(e.message ?? "aborted"), { cause: err });
      }
      // client-node's ApiException: numeric HTTP code + body as a JSON string.
      if (typeof e.code === "number" && e.code >= 100 && e.code < 600) {
        const k = KubeError.fromResponse(e.code, e.body);
        return new KubeError(k.code, k.message, {
          httpStatus: e.code,
          ...(k.reason ? { reason: k.reason } : {}),
          ...(k.status ? { status: k.status } : {}),
          cause: err,
        });
      }
      if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) {
        return new KubeError("Network", `${e.code}: ${String(e.message ?? "")}`, { cause: err });
      }
      if (e.cause && e.cause !== err && typeof e.cause === "object") {
        const inner = KubeError.from(e.cause);
        if (inner.code !== "Unknown") return new KubeError(inner.code, inner.message, { cause: err });
      }
      if (typeof e.message === "string" && /socket hang up|ECONNRESET|other side closed/i.test(e.message)) {
        return new KubeError("Network", e.message, { cause: err });
      }
      if (err instanceof Error) return new KubeError("Unknown", err.message, { cause: err });
    }
    return new KubeError("Unknown", String(err), { cause: err });
  }
}

/** True for failures worth retrying after a backoff: network, timeouts, 429 and 5xx. */
export function isRetryableError(err: unknown): boolean {
  const code = KubeError.from(err).code;
  return (
    code === "Network" ||
    code === "Timeout" ||
    code === "TooManyRequests" ||
    code === "ServerError" ||
    code === "Unavailable"
  );
}
