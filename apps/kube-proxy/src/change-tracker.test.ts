import { describe, expect, it } from "vitest";
import { sliceWithoutService } from "./change-tracker.js";

describe("EndpointSlices without a Service", () => {
  it("names a slice with no or an empty kubernetes.io/service-name label, as upstream's cache-key error", () => {
    const slice = (labels?: Record<string, string>) => ({
      metadata: { namespace: "default", name: "orphan-abc", ...(labels ? { labels } : {}) },
      addressType: "IPv4",
    });
    expect(sliceWithoutService(slice())).toBe(
      'no kubernetes.io/service-name label set on endpoint slice: "orphan-abc"',
    );
    expect(sliceWithoutService(slice({ "kubernetes.io/service-name": "" }))).toMatch(/^no kubernetes/);
    expect(sliceWithoutService(slice({ "kubernetes.io/service-name": "web" }))).toBeUndefined();
  });
});
