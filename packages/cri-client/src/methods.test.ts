import { describe, expect, it } from "vitest";
import { CriError } from "./errors.js";
import { ExecSyncRequest, RemoveImageRequest, StopContainerRequest } from "./gen/runtime/v1/api.js";
import { checkResponse, deadlineMs, deadlinePolicy, validateRequest } from "./methods.js";

const T = 120_000;

describe("deadlines (mirroring the kubelet's remote runtime)", () => {
  it("uses the client timeout by default and twice it for RunPodSandbox", () => {
    expect(deadlineMs("ListContainers", {}, T)).toBe(T);
    expect(deadlineMs("RunPodSandbox", {}, T)).toBe(2 * T);
  });

  it("adds the grace period to StopContainer", () => {
    expect(
      deadlineMs("StopContainer", StopContainerRequest.fromPartial({ containerId: "c", timeout: 30 }), T),
    ).toBe(T + 30_000);
  });

  it("adds the exec timeout to ExecSync, and sets none when it is 0", () => {
    expect(deadlineMs("ExecSync", ExecSyncRequest.fromPartial({ timeout: 5 }), T)).toBe(T + 5_000);
    expect(deadlineMs("ExecSync", ExecSyncRequest.fromPartial({ timeout: 0 }), T)).toBeUndefined();
  });

  it("sets no deadline on PullImage and GetContainerEvents", () => {
    expect(deadlinePolicy("PullImage")).toBe("none");
    expect(deadlineMs("PullImage", {}, T)).toBeUndefined();
    expect(deadlineMs("GetContainerEvents", {}, T)).toBeUndefined();
  });

  it("lets a per-call timeout win, Infinity meaning none", () => {
    expect(deadlineMs("PullImage", {}, T, 5)).toBe(5);
    expect(deadlineMs("ListContainers", {}, T, Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe("validateRequest", () => {
  it("rejects RemoveImage with an empty reference (containerd 1.6 would delete an image)", () => {
    expect(() =>
      validateRequest("RemoveImage", RemoveImageRequest.fromPartial({ image: { image: "" } })),
    ).toThrow(/RemoveImage: image\.image \(the image reference\) must not be empty/);
    expect(() => validateRequest("RemoveImage", RemoveImageRequest.fromPartial({}))).toThrow(CriError);
  });

  it("rejects empty IDs naming the field", () => {
    expect(() => validateRequest("StopPodSandbox", { podSandboxId: "" })).toThrow(
      "StopPodSandbox: podSandboxId must not be empty",
    );
    expect(() => validateRequest("ContainerStatus", { containerId: "" })).toThrow(
      "ContainerStatus: containerId must not be empty",
    );
  });

  it("rejects exec requests without command or streams", () => {
    expect(() => validateRequest("ExecSync", ExecSyncRequest.fromPartial({ containerId: "c" }))).toThrow(
      /cmd must name a command/,
    );
    expect(() =>
      validateRequest("Exec", { containerId: "c", cmd: ["sh"], stdin: false, stdout: false, stderr: false }),
    ).toThrow(/at least one of stdin, stdout, stderr/);
    expect(() =>
      validateRequest("Attach", { containerId: "c", tty: true, stdout: true, stderr: true }),
    ).toThrow(/stderr must be false with tty/);
  });

  it("accepts well-formed requests and RPCs without rules", () => {
    expect(() => validateRequest("ContainerStatus", { containerId: "abc" })).not.toThrow();
    expect(() => validateRequest("ListContainers", {})).not.toThrow();
  });
});

describe("checkResponse", () => {
  it("rejects an OK response with an empty ID as InvalidResponse", () => {
    expect(() => checkResponse("RunPodSandbox", { podSandboxId: "" })).toThrow(
      expect.objectContaining({ code: "InvalidResponse", rpc: "RunPodSandbox" }),
    );
    expect(() => checkResponse("ContainerStatus", {})).toThrow(/no status/);
    expect(() => checkResponse("RunPodSandbox", { podSandboxId: "p" })).not.toThrow();
  });
});
