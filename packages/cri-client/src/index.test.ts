import { describe, expect, it } from "vitest";
import * as api from "./index.js";

describe("public API", () => {
  it("exports the client, errors, streaming, logs and pull-secret helpers by name", () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        "CgroupDriver",
        "ContainerEventType",
        "ContainerState",
        "CriError",
        "MountPropagation",
        "NamespaceMode",
        "PodSandboxState",
        "Protocol",
        "Signal",
        "attachStream",
        "connectStream",
        "createCriClient",
        "credentialsForImage",
        "deadlinePolicy",
        "execStream",
        "forwardPort",
        "parseCriLogLine",
        "parseEndpoint",
        "parseImageRegistry",
        "portForwardStream",
        "pullImageWithSecrets",
        "readCriLog",
      ].sort(),
    );
  });
});
