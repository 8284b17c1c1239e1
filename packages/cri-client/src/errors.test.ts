import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { CriError, fromStatus } from "./errors.js";

function serviceError(code: number, details: string) {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });
}

describe("CriError", () => {
  it("maps gRPC statuses to literal codes with the RPC and the runtime's message", () => {
    const e = CriError.from(serviceError(status.NOT_FOUND, 'container "x" not found'), "ContainerStatus");
    expect(e).toBeInstanceOf(CriError);
    expect(e.code).toBe("NotFound");
    expect(e.rpc).toBe("ContainerStatus");
    expect(e.runtimeMessage).toBe('container "x" not found');
    expect(e.message).toBe('ContainerStatus: container "x" not found');
    expect(e.cause).toBeInstanceOf(Error);
  });

  it.each([
    [status.UNAVAILABLE, "Unavailable"],
    [status.DEADLINE_EXCEEDED, "DeadlineExceeded"],
    [status.UNIMPLEMENTED, "Unimplemented"],
    [status.CANCELLED, "Cancelled"],
    [status.INVALID_ARGUMENT, "InvalidArgument"],
    [99, "Unknown"],
  ])("maps status %i to %s", (code, name) => {
    expect(fromStatus(code, "x", "Version").code).toBe(name);
  });

  it("reports a registry's 401 on PullImage as Unauthenticated", () => {
    const details =
      'failed to pull and unpack image "127.0.0.1:5000/a:1": failed to resolve reference: pulling from host 127.0.0.1:5000 failed with status code [manifests 1]: 401 Unauthorized';
    expect(fromStatus(status.UNKNOWN, details, "PullImage").code).toBe("Unauthenticated");
    expect(fromStatus(status.UNKNOWN, details, "ExecSync").code).toBe("Unknown");
  });

  it("returns a CriError unchanged and wraps anything else", () => {
    const original = new CriError("Closed", "closed");
    expect(CriError.from(original)).toBe(original);
    const abort = CriError.from(new DOMException("stop", "AbortError"), "Version");
    expect(abort.code).toBe("Cancelled");
    const other = CriError.from("boom");
    expect(other.code).toBe("Unknown");
    expect(other.message).toBe("boom");
  });
});
