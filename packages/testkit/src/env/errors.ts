/** What went wrong while preparing or driving a real test component. */
export type TestkitErrorCode =
  /** A Debian package or binary the component needs is not installed and could not be installed. */
  | "MissingComponent"
  /** A command exited non-zero; `message` carries its stderr. */
  | "CommandFailed"
  /** A component did not become ready in time. */
  | "Timeout"
  /** The caller passed something unusable. */
  | "InvalidArgument"
  /** One or more teardown steps failed; every step still ran, `cause` is an AggregateError of all failures. */
  | "CleanupFailed";

/** The one error class of @kubenode/testkit's environment helpers. */
export class TestkitError extends Error {
  override readonly name = "TestkitError";
  readonly code: TestkitErrorCode;

  constructor(code: TestkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** Wraps anything thrown into a TestkitError, keeping the original as `cause`. */
  static from(err: unknown, code: TestkitErrorCode = "CommandFailed"): TestkitError {
    if (err instanceof TestkitError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new TestkitError(code, message, { cause: err });
  }
}
