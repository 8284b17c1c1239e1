import { describe, expect, it } from "vitest";
import type { RuntimeContainer } from "../runtime/types.js";
import { LogRequestError, parseLogQuery, pickContainer } from "./container-logs.js";

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const q = (s: string) => parseLogQuery(new URLSearchParams(s), NOW);

describe("parseLogQuery (PodLogOptions as the API server passes them on)", () => {
  it("reads every option", () => {
    expect(q("follow=true&previous=true&timestamps=true&tailLines=10&limitBytes=5&sinceSeconds=60")).toEqual({
      follow: true,
      previous: true,
      timestamps: true,
      tailLines: 10,
      limitBytes: 5,
      sinceTime: new Date(NOW - 60_000),
    });
    expect(q("sinceTime=2026-01-01T11:00:00Z").sinceTime).toEqual(new Date(Date.UTC(2026, 0, 1, 11)));
    expect(q("")).toEqual({ follow: false, previous: false, timestamps: false });
  });

  it.each([
    ["tailLines=-1", 'tailLines: invalid value "-1": must be an integer >= 0'],
    ["tailLines=ten", 'tailLines: invalid value "ten": must be an integer >= 0'],
    ["limitBytes=0", 'limitBytes: invalid value "0": must be an integer >= 1'],
    ["sinceSeconds=0", 'sinceSeconds: invalid value "0": must be an integer >= 1'],
    [
      "sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z",
      "at most one of sinceTime or sinceSeconds may be specified",
    ],
    ["sinceTime=yesterday", 'sinceTime: invalid RFC3339 time "yesterday"'],
  ])("rejects %s with 400", (query, message) => {
    expect(() => q(query)).toThrow(new LogRequestError(400, message));
  });
});

describe("pickContainer", () => {
  const c = (id: string, name: string, createdAtMs: number) =>
    ({ id, name, createdAtMs }) as RuntimeContainer;
  const containers = [c("a0", "app", 1), c("a1", "app", 2), c("s0", "side", 1)];

  it("picks the newest instance, or the one before it with previous", () => {
    expect(pickContainer(containers, "web", "app", false).id).toBe("a1");
    expect(pickContainer(containers, "web", "app", true).id).toBe("a0");
  });

  it("says why there is nothing to read, in upstream's words", () => {
    expect(() => pickContainer(containers, "web", "side", true)).toThrow(
      'previous terminated container "side" in pod "web" not found',
    );
    expect(() => pickContainer(containers, "web", "db", false)).toThrow(
      'container "db" in pod "web" is waiting to start: ContainerCreating',
    );
  });
});
