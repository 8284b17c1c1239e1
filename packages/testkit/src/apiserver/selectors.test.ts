import { describe, expect, it } from "vitest";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import type { KubeObject } from "./types.js";

const obj = (labels: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject =>
  ({
    metadata: { name: "p", namespace: "ns", uid: "u", resourceVersion: "1", creationTimestamp: "", labels },
    ...extra,
  }) as KubeObject;

describe("label selectors", () => {
  it("supports equality, set-based, existence and numeric requirements", () => {
    const m = parseLabelSelector("app=web,tier!=db,env in (prod, staging),!legacy,team,rank>3")!;
    expect(m(obj({ app: "web", env: "prod", team: "a", rank: "5" }))).toBe(true);
    expect(m(obj({ app: "web", env: "dev", team: "a", rank: "5" }))).toBe(false);
    expect(m(obj({ app: "web", env: "prod", team: "a", rank: "5", legacy: "" }))).toBe(false);
    expect(m(obj({ app: "web", env: "prod", rank: "5" }))).toBe(false);
    expect(m(obj({ app: "web", env: "prod", team: "a", rank: "2" }))).toBe(false);
    expect(parseLabelSelector("")).toBeUndefined();
  });

  it("rejects malformed selectors with a BadRequest", () => {
    expect(() => parseLabelSelector("a in (b")).toThrow(/unable to parse requirement/);
    expect(() => parseLabelSelector("-bad-=x")).toThrow(/invalid label key/);
  });
});

describe("field selectors", () => {
  it("matches supported fields and rejects unknown ones", () => {
    const m = parseFieldSelector("spec.nodeName=n1,status.phase!=Failed,metadata.namespace=ns", [
      "spec.nodeName",
      "status.phase",
    ])!;
    expect(m(obj({}, { spec: { nodeName: "n1" }, status: { phase: "Running" } }))).toBe(true);
    expect(m(obj({}, { spec: { nodeName: "n1" }, status: { phase: "Failed" } }))).toBe(false);
    expect(() => parseFieldSelector("spec.bogus=1", ["spec.nodeName"])).toThrow(
      "field label not supported: spec.bogus",
    );
  });
});
