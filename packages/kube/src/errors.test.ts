import { describe, expect, it } from "vitest";
import { isRetryableError, KubeError } from "./errors.js";

const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });

describe("KubeError.from", () => {
  it("parses client-node's ApiException (numeric code, body as a JSON string)", () => {
    const apiException = Object.assign(new Error("HTTP-Code: 409"), {
      code: 409,
      body: status(
        409,
        "Conflict",
        'Operation cannot be fulfilled on leases.coordination.k8s.io "n1": the object has been modified',
      ),
      headers: {},
    });
    const e = KubeError.from(apiException);
    expect(e.code).toBe("Conflict");
    expect(e.httpStatus).toBe(409);
    expect(e.reason).toBe("Conflict");
    expect(e.message).toContain("the object has been modified");
    expect(e.cause).toBe(apiException);
  });

  it("maps reasons and statuses", () => {
    expect(KubeError.fromResponse(404, status(404, "NotFound", 'nodes "x" not found')).code).toBe("NotFound");
    expect(KubeError.fromResponse(409, status(409, "AlreadyExists", "exists")).code).toBe("AlreadyExists");
    expect(KubeError.fromResponse(410, status(410, "Expired", "too old resource version")).code).toBe("Gone");
    expect(KubeError.fromResponse(403, "forbidden text").code).toBe("Forbidden");
    expect(KubeError.fromResponse(422, status(422, "Invalid", "bad")).code).toBe("Invalid");
    expect(KubeError.fromResponse(503, "").code).toBe("Unavailable");
    expect(KubeError.fromResponse(500, "{not json").message).toContain("{not json");
  });

  it("classifies socket errors as Network and aborts as Aborted", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(KubeError.from(refused).code).toBe("Network");
    expect(isRetryableError(refused)).toBe(true);
    expect(KubeError.from(new DOMException("x", "AbortError")).code).toBe("Aborted");
    expect(KubeError.from(new TypeError("fetch failed", { cause: refused })).code).toBe("Network");
    expect(KubeError.from("weird").code).toBe("Unknown");
    expect(isRetryableError(KubeError.fromResponse(404, ""))).toBe(false);
  });

  it("passes KubeErrors through unchanged", () => {
    const e = new KubeError("Gone", "old");
    expect(KubeError.from(e)).toBe(e);
  });
});
