import { describe, expect, it } from "vitest";
import { createChangeTracker, TRIGGER_TIME_ANNOTATION } from "./change-tracker.js";
import { defaultConfig, validateConfig } from "./config.js";
import { createDataplane } from "./dataplanes.js";
import { ProxyError } from "./errors.js";
import { silentLogger } from "./logger.js";

const ctx = { families: ["IPv4"] as const, nodeIPs: ["10.77.0.11"], log: silentLogger };

describe("dataplane selection", () => {
  it("builds the configured mode", () => {
    expect(createDataplane(validateConfig(defaultConfig()), ctx).mode).toBe("iptables");
    const c = defaultConfig();
    c.mode = "nftables";
    c.nodePortAddresses = ["primary"];
    expect(createDataplane(validateConfig(c), ctx).mode).toBe("nftables");
  });

  it("refuses ipvs with an error naming the mode", () => {
    const c = defaultConfig();
    c.mode = "ipvs";
    let err: unknown;
    try {
      createDataplane(validateConfig(c), ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxyError);
    expect((err as ProxyError).field).toBe("mode");
    expect((err as ProxyError).message).toContain("proxy mode ipvs");
  });
});

describe("change tracker", () => {
  const svc = (name: string) => ({ metadata: { namespace: "ns", name } });
  const slice = (name: string, trigger?: string) => ({
    metadata: {
      namespace: "ns",
      name,
      labels: { "kubernetes.io/service-name": "a" },
      ...(trigger ? { annotations: { [TRIGGER_TIME_ANNOTATION]: trigger } } : {}),
    },
    addressType: "IPv4",
  });

  it("keeps the current objects, counts changes and collects trigger times", () => {
    let notified = 0;
    const t = createChangeTracker(() => notified++);
    t.serviceUpdate(undefined, svc("a"));
    t.serviceUpdate(svc("a"), svc("a"));
    t.serviceUpdate(undefined, svc("b"));
    t.serviceUpdate(svc("b"), undefined);
    t.endpointSliceUpdate(undefined, slice("a-1", "2026-01-01T00:00:01Z"));
    t.endpointSliceUpdate(undefined, slice("a-2", "not a time"));
    expect(notified).toBe(6);
    expect(t.services().map((s) => s.metadata?.name)).toEqual(["a"]);
    expect(t.endpointSlices()).toHaveLength(2);
    const taken = t.take();
    expect(taken).toEqual({
      serviceChanges: 4,
      endpointChanges: 2,
      triggerTimesMs: [Date.UTC(2026, 0, 1, 0, 0, 1)],
    });
    expect(t.pending()).toEqual({ services: 0, endpoints: 0 });
    t.endpointSliceUpdate(slice("a-2"), undefined);
    t.restore(taken);
    expect(t.pending()).toEqual({ services: 4, endpoints: 3 });
    expect(t.take().triggerTimesMs).toEqual([Date.UTC(2026, 0, 1, 0, 0, 1)]);
  });
});
