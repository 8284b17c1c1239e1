import { describe, expect, it } from "vitest";
import { forbiddenMessage, nodeRequestAttributes } from "./auth.js";

describe("nodeRequestAttributes (upstream nodeAuthorizerAttributesGetter, fine-grained)", () => {
  it.each([
    ["GET", "/pods", "get", ["pods", "proxy"]],
    ["GET", "/pods/", "get", ["pods", "proxy"]],
    ["GET", "/runningpods/", "get", ["pods", "proxy"]],
    ["GET", "/healthz", "get", ["healthz", "proxy"]],
    ["GET", "/healthz/syncloop", "get", ["healthz", "proxy"]],
    ["GET", "/configz", "get", ["configz", "proxy"]],
    ["GET", "/stats/summary", "get", ["stats"]],
    ["GET", "/stats", "get", ["stats"]],
    ["GET", "/metrics", "get", ["metrics"]],
    ["GET", "/metrics/resource", "get", ["metrics"]],
    ["GET", "/logs/syslog", "get", ["log"]],
    ["GET", "/containerLogs/default/web/c", "get", ["proxy"]],
    ["POST", "/exec/default/web/c", "create", ["proxy"]],
    ["GET", "/exec/default/web/c", "get", ["proxy"]],
    ["POST", "/portForward/default/web", "create", ["proxy"]],
    ["POST", "/checkpoint/default/web/c", "create", ["checkpoint"]],
    ["GET", "/podsx", "get", ["proxy"]],
    ["GET", "/statsfoo", "get", ["proxy"]],
    ["DELETE", "/pods", "delete", ["pods", "proxy"]],
  ])("%s %s -> verb %s, nodes/%j", (method, path, verb, subresources) => {
    expect(nodeRequestAttributes(method, path)).toEqual({ verb, subresources });
  });

  it("renders upstream's 403 message", () => {
    expect(
      forbiddenMessage(
        { username: "system:anonymous", groups: ["system:unauthenticated"] },
        nodeRequestAttributes("GET", "/pods"),
      ),
    ).toBe("Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[pods proxy])");
  });
});
