import { describe, expect, it } from "vitest";
import { forbiddenMessage, nodeRequestAttributes } from "./auth.js";
import { parseRoute } from "./server.js";

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

describe("parseRoute", () => {
  it.each([
    ["/containerLogs/default/web/c", { kind: "logs", namespace: "default", pod: "web", container: "c" }],
    ["/exec/default/web/c", { kind: "exec", namespace: "default", pod: "web", container: "c" }],
    [
      "/exec/default/web/uid-1/c",
      { kind: "exec", namespace: "default", pod: "web", uid: "uid-1", container: "c" },
    ],
    ["/attach/ns/p/c", { kind: "attach", namespace: "ns", pod: "p", container: "c" }],
    ["/portForward/ns/p", { kind: "portForward", namespace: "ns", pod: "p" }],
    ["/portForward/ns/p/uid", { kind: "portForward", namespace: "ns", pod: "p", uid: "uid" }],
    ["/exec/ns/p", undefined],
    ["/containerLogs/ns/p", undefined],
    ["/exec/ns/%E0%A4%A/c", undefined],
    ["/other/ns/p/c", undefined],
  ])("%s", (path, route) => {
    expect(parseRoute(path)).toEqual(route);
  });
});
