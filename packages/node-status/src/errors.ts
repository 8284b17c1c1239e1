import { KubeError } from "@kubenode/kube";

/** What went wrong in @kubenode/node-status. */
export type NodeStatusErrorCode =
  | "InvalidArgument"
  | "ProviderFailed"
  | "RegistrationFailed"
  | "UpdateFailed"
  | "Stopped";

/** The one error type of @kubenode/node-status. API failures keep their {@link KubeError} as `cause`. */
export class NodeStatusError extends Error {
  override readonly name = "NodeStatusError";
  readonly code: NodeStatusErrorCode;
  constructor(code: NodeStatusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  static from(err: unknown, code: NodeStatusErrorCode = "UpdateFailed"): NodeStatusError {
    if (err instanceof NodeStatusError) return err;
    const k = KubeError.from(err);
    return new NodeStatusError(code, k.message, { cause: k });
  }
}
