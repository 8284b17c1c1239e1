import { describe, expect, it } from "vitest";
import type { KubeObject } from "../types.js";
import { fenceposts, podTemplateHash } from "./deployment.js";

const deployment = (replicas: number, strategy: object): KubeObject =>
  ({ metadata: { name: "d" }, spec: { replicas, strategy } }) as unknown as KubeObject;
const rolling = (maxSurge: unknown, maxUnavailable: unknown) => ({
  type: "RollingUpdate",
  rollingUpdate: { maxSurge, maxUnavailable },
});

describe("fenceposts (deployment_util.ResolveFenceposts)", () => {
  it("rounds maxSurge up and maxUnavailable down", () => {
    expect(fenceposts(deployment(10, rolling("25%", "25%")))).toEqual({ surge: 3, unavailable: 2 });
    expect(fenceposts(deployment(5, rolling("25%", "25%")))).toEqual({ surge: 2, unavailable: 1 });
  });
  it("makes maxUnavailable 1 when both round to zero", () => {
    expect(fenceposts(deployment(3, rolling("0%", "25%")))).toEqual({ surge: 0, unavailable: 1 });
    expect(fenceposts(deployment(3, rolling(0, 0)))).toEqual({ surge: 0, unavailable: 1 });
  });
  it("keeps surge for 3 replicas at 25% with no unavailability", () => {
    expect(fenceposts(deployment(3, rolling("25%", "25%")))).toEqual({ surge: 1, unavailable: 0 });
  });
  it("caps maxUnavailable at replicas; zero for Recreate and for zero replicas", () => {
    expect(fenceposts(deployment(2, rolling(0, 5)))).toEqual({ surge: 0, unavailable: 2 });
    expect(fenceposts(deployment(4, { type: "Recreate" }))).toEqual({ surge: 0, unavailable: 0 });
    expect(fenceposts(deployment(0, rolling("25%", "25%")))).toEqual({ surge: 0, unavailable: 0 });
  });
});

describe("podTemplateHash", () => {
  const template = {
    metadata: { labels: { app: "web" } },
    spec: { containers: [{ name: "c", image: "i" }] },
  };
  it("uses only SafeEncodeString's images of decimal digits", () => {
    expect(podTemplateHash(template)).toMatch(/^[456789bcdf]{1,10}$/);
  });
  it("is stable per template regardless of key order, and changes with the template or collisionCount", () => {
    const reordered = {
      spec: { containers: [{ image: "i", name: "c" }] },
      metadata: { labels: { app: "web" } },
    };
    expect(podTemplateHash(reordered)).toBe(podTemplateHash(template));
    const other = { ...template, spec: { containers: [{ name: "c", image: "j" }] } };
    expect(podTemplateHash(other)).not.toBe(podTemplateHash(template));
    expect(podTemplateHash(template, 1)).not.toBe(podTemplateHash(template));
  });
});
