import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@kubenode/kube";
import { buildProxyModel } from "@kubenode/netrules";
import { describe, expect, it } from "vitest";
import { createChangeTracker, TRIGGER_TIME_ANNOTATION } from "./change-tracker.js";
import { defaultConfig, validateConfig } from "./config.js";
import { createDataplane, nodePortAddresses } from "./dataplanes.js";

const ctx = { families: ["IPv4"] as const, nodeIPs: ["10.77.0.11"], log: silentLogger };

describe("dataplane selection", () => {
  it("builds the configured mode", () => {
    expect(createDataplane(validateConfig(defaultConfig()), ctx).mode).toBe("iptables");
    const c = defaultConfig();
    c.mode = "nftables";
    c.nodePortAddresses = ["primary"];
    expect(createDataplane(validateConfig(c), ctx).mode).toBe("nftables");
  });

  it("defaults --nodeport-addresses to the primary IPs in nftables mode only, as upstream", () => {
    const nodeIPs = ["10.77.0.11", "fd00::11"];
    const iptables = validateConfig(defaultConfig());
    expect(nodePortAddresses(iptables, nodeIPs)).toEqual([]);
    const c = defaultConfig();
    c.mode = "nftables";
    expect(nodePortAddresses(validateConfig(c), nodeIPs)).toEqual(["10.77.0.11/32", "fd00::11/128"]);
    c.nodePortAddresses = ["10.77.0.0/24"];
    expect(nodePortAddresses(validateConfig(c), nodeIPs)).toEqual(["10.77.0.0/24"]);
  });

  it("generates ipvs state as restore files without touching the kernel", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ipvs-dataplane-"));
    try {
      const c = defaultConfig();
      c.mode = "ipvs";
      const plane = createDataplane(validateConfig(c), { ...ctx, ipvsOutputDir: dir });
      expect(plane.mode).toBe("ipvs");
      const { model } = buildProxyModel({
        nodeName: "node",
        services: [
          {
            metadata: { namespace: "ns", name: "web" },
            spec: {
              clusterIP: "10.96.0.10",
              clusterIPs: ["10.96.0.10"],
              ports: [{ name: "http", port: 80, protocol: "TCP" }],
            },
          },
        ],
        endpointSlices: [
          {
            metadata: { namespace: "ns", name: "web-1", labels: { "kubernetes.io/service-name": "web" } },
            addressType: "IPv4",
            ports: [{ name: "http", port: 8080, protocol: "TCP" }],
            endpoints: [{ addresses: ["10.244.0.5"], conditions: { ready: true } }],
          },
        ],
      });
      const result = await plane.sync(model, { full: true });
      expect(result.ruleCounts.virtualServers).toBe(1);
      const ipvsadm = await readFile(join(dir, "ipvsadm-ipv4.restore"), "utf8");
      expect(ipvsadm).toBe("-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.0.5:8080 -m -w 1\n");
      expect(await readFile(join(dir, "kube-ipvs0-ipv4.addresses"), "utf8")).toContain("10.96.0.10");
      expect(result.recoveredFromFlush).toBe(false);
      await plane.cleanup();
      expect(existsSync(dir)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
      // which objects changed, so the next model is recomputed for those alone
      changedServiceKeys: new Set(["ns/a", "ns/b"]),
      changedSliceKeys: new Set(["ns/a-1", "ns/a-2"]),
    });
    expect(t.service("ns/a")?.metadata?.name).toBe("a");
    expect(t.service("ns/b")).toBeUndefined();
    expect(t.pending()).toEqual({ services: 0, endpoints: 0 });
    t.endpointSliceUpdate(slice("a-2"), undefined);
    t.restore(taken);
    expect(t.pending()).toEqual({ services: 4, endpoints: 3 });
    expect(t.take().triggerTimesMs).toEqual([Date.UTC(2026, 0, 1, 0, 0, 1)]);
  });
});
