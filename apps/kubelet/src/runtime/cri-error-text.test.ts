import { CriError } from "@kubenode/cri-client";
import { describe, expect, it } from "vitest";
import { criErrorText } from "./cri-runtime.js";

describe("criErrorText", () => {
  it("shows a runtime's error as Go's status error", () => {
    const err = new CriError("NotFound", "ContainerStatus: not found", {
      runtimeMessage: 'container "x": not found',
    });
    expect(criErrorText(err)).toBe('rpc error: code = NotFound desc = container "x": not found');
  });

  it("shows the client's own deadline as upstream does, without grpc-js's timings and socket path", () => {
    const err = new CriError("DeadlineExceeded", "RunPodSandbox: Deadline exceeded", {
      runtimeMessage: "Deadline exceeded after 8.005s,LB pick: 0.001s,remote_addr=/run/x/cri.sock",
    });
    expect(criErrorText(err)).toBe("rpc error: code = DeadlineExceeded desc = context deadline exceeded");
    // A deadline the runtime reports itself keeps its words.
    const fromRuntime = new CriError("DeadlineExceeded", "x", {
      runtimeMessage: "context deadline exceeded",
    });
    expect(criErrorText(fromRuntime)).toBe(
      "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
    );
  });
});
