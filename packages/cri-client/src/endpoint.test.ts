import { describe, expect, it } from "vitest";
import { parseEndpoint } from "./endpoint.js";

describe("parseEndpoint", () => {
  it("accepts unix:///absolute/path", () => {
    expect(parseEndpoint("unix:///run/containerd/containerd.sock")).toEqual({
      socketPath: "/run/containerd/containerd.sock",
      target: "unix:///run/containerd/containerd.sock",
    });
  });

  it("accepts a plain socket path", () => {
    expect(parseEndpoint("/run/crio/crio.sock")).toEqual({
      socketPath: "/run/crio/crio.sock",
      target: "unix:///run/crio/crio.sock",
    });
  });

  it("keeps a relative path relative", () => {
    expect(parseEndpoint("run/cri.sock").target).toBe("unix:run/cri.sock");
  });

  it("rejects other schemes and empty endpoints with a clear message", () => {
    expect(() => parseEndpoint("tcp://127.0.0.1:1234")).toThrow(/only unix sockets are supported/);
    expect(() => parseEndpoint("")).toThrow(/endpoint must be a non-empty string/);
    expect(() => parseEndpoint("unix://")).toThrow(/empty socket path/);
  });
});
