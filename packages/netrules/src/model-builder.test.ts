import { describe, expect, it } from "vitest";
import { buildProxyModel } from "./model.js";
import { createProxyModelBuilder } from "./model-builder.js";
import type { EndpointSliceLike, ServiceLike } from "./types.js";

// A small deterministic PRNG, so a failure can be replayed.
function prng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const service = (i: number, variant: number): ServiceLike => ({
  metadata: { namespace: `ns${i % 3}`, name: `svc${i}` },
  spec: {
    clusterIP: `10.96.${i}.${1 + (variant % 3)}`,
    clusterIPs: [`10.96.${i}.${1 + (variant % 3)}`],
    ports: [{ name: "http", port: 80 + (variant % 2), protocol: "TCP" }],
    ...(variant % 4 === 3 ? { internalTrafficPolicy: "Local" } : {}),
    // every seventh variant is invalid: its errors must come and go with it
    ...(variant % 7 === 6 ? { clusterIP: "not-an-ip", clusterIPs: ["not-an-ip"] } : {}),
  },
});

const slice = (svc: number, j: number, variant: number): EndpointSliceLike => ({
  metadata: {
    namespace: `ns${svc % 3}`,
    name: `svc${svc}-${j}`,
    labels: { "kubernetes.io/service-name": `svc${svc}` },
  },
  addressType: "IPv4",
  ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  endpoints: Array.from({ length: 1 + (variant % 3) }, (_, e) => ({
    addresses: [`10.244.${svc}.${j * 10 + e + 1}`],
    nodeName: e % 2 === 0 ? "node-a" : "node-b",
    conditions: { ready: variant % 5 !== 4, serving: true, terminating: variant % 5 === 4 },
  })),
});

describe("createProxyModelBuilder", () => {
  it("equals buildProxyModel after every change of a random sequence", () => {
    const rand = prng(42);
    const builder = createProxyModelBuilder({ nodeName: "node-a" });
    // Mirrors of what the builder holds, in the builder's order semantics (Map insertion order;
    // a replaced slice moves to the end, like a re-added one).
    const services = new Map<string, ServiceLike>();
    const slices = new Map<string, EndpointSliceLike>();
    for (let step = 0; step < 400; step++) {
      const i = rand(25);
      const op = rand(10);
      if (op < 3) {
        const s = service(i, rand(14));
        builder.upsertService(s);
        services.set(`ns${i % 3}/svc${i}`, s);
      } else if (op < 4) {
        builder.deleteService(`ns${i % 3}`, `svc${i}`);
        services.delete(`ns${i % 3}/svc${i}`);
      } else if (op < 8) {
        const j = rand(3);
        const sl = slice(i, j, rand(15));
        builder.upsertEndpointSlice(sl);
        slices.delete(`ns${i % 3}/svc${i}-${j}`);
        slices.set(`ns${i % 3}/svc${i}-${j}`, sl);
      } else {
        const j = rand(3);
        builder.deleteEndpointSlice(`ns${i % 3}`, `svc${i}-${j}`);
        slices.delete(`ns${i % 3}/svc${i}-${j}`);
      }
      if (step % 3 !== 0) continue; // several changes may pile up between builds, as in a sync loop
      const got = builder.build();
      const want = buildProxyModel({
        nodeName: "node-a",
        services: [...services.values()],
        endpointSlices: [...slices.values()],
      });
      expect(got.model.servicePorts).toEqual(want.model.servicePorts);
      expect(got.errors).toEqual(want.errors);
    }
  });

  it("recomputes only what changed and returns the same model when nothing did", () => {
    const builder = createProxyModelBuilder({ nodeName: "node-a" });
    for (let i = 0; i < 3; i++) {
      builder.upsertService(service(i, 0));
      builder.upsertEndpointSlice(slice(i, 0, 0));
    }
    const first = builder.build();
    expect(builder.build()).toBe(first);
    builder.upsertEndpointSlice(slice(1, 0, 2));
    const second = builder.build().model.servicePorts;
    expect(second[0]).toBe(first.model.servicePorts[0]);
    expect(second[2]).toBe(first.model.servicePorts[2]);
    expect(second[1]).not.toBe(first.model.servicePorts[1]);
    expect(second[1]?.clusterEndpoints.length).toBe(3);
  });

  it("ignores slices without a service label and rejects an empty node name", () => {
    const builder = createProxyModelBuilder({ nodeName: "node-a" });
    builder.upsertService(service(0, 0));
    builder.upsertEndpointSlice({ ...slice(0, 0, 0), metadata: { namespace: "ns0", name: "orphan" } });
    expect(builder.build().model.servicePorts[0]?.hasEndpoints).toBe(false);
    expect(() => createProxyModelBuilder({ nodeName: "" })).toThrow(/nodeName must be a non-empty string/);
  });
});
