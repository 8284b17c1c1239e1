/** What went wrong, as a literal union callers can switch on. */
export type NetrulesErrorCode =
  | "InvalidInput"
  | "ApplyFailed"
  | "CommandNotFound"
  | "Timeout"
  | "Aborted"
  | "Internal";

/** The one error class of @kubenode/netrules. */
export class NetrulesError extends Error {
  override readonly name = "NetrulesError";
  readonly code: NetrulesErrorCode;
  /** For ApplyFailed: the 1-based line of the payload the tool rejected, when it said so. */
  readonly line: number | undefined;
  /** For ApplyFailed: the text of that payload line. */
  readonly lineText: string | undefined;

  constructor(
    code: NetrulesErrorCode,
    message: string,
    options: { cause?: unknown; line?: number; lineText?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.line = options.line;
    this.lineText = options.lineText;
  }

  /** Wraps anything thrown into a NetrulesError (returned unchanged if it already is one). */
  static from(err: unknown, code: NetrulesErrorCode = "Internal"): NetrulesError {
    if (err instanceof NetrulesError) return err;
    if (err instanceof Error) {
      if (err.name === "AbortError") return new NetrulesError("Aborted", err.message, { cause: err });
      return new NetrulesError(code, err.message, { cause: err });
    }
    return new NetrulesError(code, String(err), { cause: err });
  }
}
