import { describe, expect, it } from "vitest";
import { ep, slice, svc, terminatingEp } from "./__tests__/fixtures.js";
import { buildProxyModel } from "./model.js";

const base = { nodeName: "node-a" };

describe("buildProxyModel", () => {
  it("maps a ClusterIP service port with its endpoints sorted by address", () => {
    const { model, errors } = buildProxyModel({
      ...base,
      services: [svc("ns1", "svc1", { clusterIP: "172.30.0.41", ports: [{ name: "p80", port: 80 }] })],
      endpointSlices: [
        slice(
          "ns1",
          "svc1",
          [ep("10.180.0.5"), ep("10.180.0.10"), ep("10.180.0.4")],
          [{ name: "p80", port: 8080 }],
        ),
      ],
    });
    expect(errors).toEqual([]);
    expect(model.servicePorts).toHaveLength(1);
    const sp = model.servicePorts[0]!;
    expect(sp.name).toBe("ns1/svc1:p80");
    expect(sp.protocol).toBe("TCP");
    expect(sp.clusterEndpoints.map((e) => e.address)).toEqual([
      "10.180.0.10:8080",
      "10.180.0.4:8080",
      "10.180.0.5:8080",
    ]);
    expect(sp.hasEndpoints).toBe(true);
  });

  it("lists an endpoint found in two slices once, as the first slice has it", () => {
    const { model } = buildProxyModel({
      ...base,
      services: [svc("ns1", "svc1", { clusterIP: "172.30.0.41", ports: [{ name: "p80", port: 80 }] })],
      endpointSlices: [
        slice(
          "ns1",
          "svc1",
          [ep("10.180.0.9"), ep("10.180.0.2", "node-a")],
          [{ name: "p80", port: 8080 }],
          "IPv4",
          "a",
        ),
        slice(
          "ns1",
          "svc1",
          [ep("10.180.0.2", "node-c"), ep("10.180.0.1")],
          [{ name: "p80", port: 8080 }],
          "IPv4",
          "b",
        ),
      ],
    });
    const eps = model.servicePorts[0]!.endpoints;
    expect(eps.map((e) => e.address)).toEqual(["10.180.0.1:8080", "10.180.0.2:8080", "10.180.0.9:8080"]);
    expect(eps[1]!.nodeName).toBe("node-a");
    expect(eps[1]!.local).toBe(true);
  });

  it("names an unnamed port ns/name", () => {
    const { model } = buildProxyModel({
      ...base,
      services: [svc("ns", "s", { clusterIP: "10.0.0.1", ports: [{ port: 53, protocol: "UDP" }] })],
      endpointSlices: [],
    });
    expect(model.servicePorts[0]!.name).toBe("ns/s");
    expect(model.servicePorts[0]!.hasEndpoints).toBe(false);
  });

  it("reports invalid objects per object and still programs the others", () => {
    const { model, errors } = buildProxyModel({
      ...base,
      services: [
        svc("ns", "bad-ip", { clusterIP: "300.1.1.1", ports: [{ port: 80 }] }),
        svc("ns", "bad-port", { clusterIP: "10.0.0.2", ports: [{ port: 70000 }] }),
        svc("ns", "bad-proto", { clusterIP: "10.0.0.3", ports: [{ port: 80, protocol: "ICMP" }] }),
        svc("ns", "good", { clusterIP: "10.0.0.4", ports: [{ port: 80 }] }),
      ],
      endpointSlices: [
        slice(
          "ns",
          "good",
          [ep("10.1.0.1"), { addresses: ["not-an-ip"] }],
          [{ port: 80 }],
          "IPv4",
          "good-bad",
        ),
        slice("ns", "good", [ep("10.1.0.2")], [{ port: 80 }], "IPv4", "good-ok"),
      ],
    });
    expect(errors.map((e) => `${e.kind} ${e.namespace}/${e.name} ${e.field}`)).toEqual([
      "Service ns/bad-ip spec.clusterIPs[0]",
      "Service ns/bad-port spec.ports[0].port",
      "Service ns/bad-proto spec.ports[0].protocol",
      "EndpointSlice ns/good-bad endpoints[1].addresses[0]",
    ]);
    expect(errors[0]!.message).toContain("300.1.1.1");
    expect(model.servicePorts.map((s) => s.name)).toEqual(["ns/good"]);
    expect(model.servicePorts[0]!.clusterEndpoints.map((e) => e.ip)).toEqual(["10.1.0.2"]);
  });

  it("skips headless and ExternalName services silently", () => {
    const { model, errors } = buildProxyModel({
      ...base,
      services: [
        svc("ns", "headless", { clusterIP: "None", ports: [{ port: 80 }] }),
        { metadata: { namespace: "ns", name: "ext" }, spec: { type: "ExternalName", ports: [{ port: 80 }] } },
      ],
      endpointSlices: [],
    });
    expect(errors).toEqual([]);
    expect(model.servicePorts).toEqual([]);
  });

  it("splits a dual-stack service into one port per family", () => {
    const { model } = buildProxyModel({
      ...base,
      services: [
        svc("ns", "ds", {
          clusterIPs: ["10.0.0.10", "fd00:0:0:0::a"],
          ports: [{ name: "http", port: 80 }],
          externalIPs: ["192.0.2.1", "2001:db8::1"],
        }),
      ],
      endpointSlices: [
        slice("ns", "ds", [ep("10.1.0.1")], [{ name: "http", port: 8080 }]),
        slice("ns", "ds", [ep("fd01::1")], [{ name: "http", port: 8080 }], "IPv6"),
      ],
    });
    const [v4, v6] = model.servicePorts;
    expect(v4!.family).toBe("IPv4");
    expect(v4!.externalIPs).toEqual(["192.0.2.1"]);
    expect(v4!.clusterEndpoints.map((e) => e.address)).toEqual(["10.1.0.1:8080"]);
    expect(v6!.family).toBe("IPv6");
    expect(v6!.clusterIP).toBe("fd00::a");
    expect(v6!.externalIPs).toEqual(["2001:db8::1"]);
    expect(v6!.clusterEndpoints.map((e) => e.address)).toEqual(["[fd01::1]:8080"]);
  });

  it("falls back to serving+terminating endpoints only when none is ready", () => {
    const input = (eps: ReturnType<typeof ep>[]) =>
      buildProxyModel({
        ...base,
        services: [svc("ns", "s", { clusterIP: "10.0.0.1", ports: [{ port: 80 }] })],
        endpointSlices: [slice("ns", "s", eps, [{ port: 80 }])],
      }).model.servicePorts[0]!;
    expect(input([ep("10.1.0.1"), terminatingEp("10.1.0.2")]).clusterEndpoints.map((e) => e.ip)).toEqual([
      "10.1.0.1",
    ]);
    expect(input([terminatingEp("10.1.0.2")]).clusterEndpoints.map((e) => e.ip)).toEqual(["10.1.0.2"]);
    const notServing = {
      addresses: ["10.1.0.3"],
      conditions: { ready: false, serving: false, terminating: true },
    };
    const sp = input([notServing]);
    expect(sp.clusterEndpoints).toEqual([]);
    expect(sp.hasEndpoints).toBe(false);
  });

  it("selects local endpoints for externalTrafficPolicy Local and keeps cluster ones for ClusterIP", () => {
    const { model } = buildProxyModel({
      ...base,
      services: [
        svc("ns", "np", {
          type: "NodePort",
          clusterIP: "10.0.0.1",
          externalTrafficPolicy: "Local",
          ports: [{ port: 80, nodePort: 30080 }],
        }),
      ],
      endpointSlices: [
        slice("ns", "np", [ep("10.1.0.1", "node-a"), ep("10.1.0.2", "node-b")], [{ port: 80 }]),
      ],
    });
    const sp = model.servicePorts[0]!;
    expect(sp.externalPolicyLocal).toBe(true);
    expect(sp.localEndpoints.map((e) => e.ip)).toEqual(["10.1.0.1"]);
    expect(sp.clusterEndpoints.map((e) => e.ip)).toEqual(["10.1.0.1", "10.1.0.2"]);
    expect(sp.reachableEndpoints.map((e) => e.ip)).toEqual(["10.1.0.1", "10.1.0.2"]);
  });

  it("uses only local endpoints for internalTrafficPolicy Local", () => {
    const { model } = buildProxyModel({
      ...base,
      services: [
        svc("ns", "s", { clusterIP: "10.0.0.1", internalTrafficPolicy: "Local", ports: [{ port: 80 }] }),
      ],
      endpointSlices: [slice("ns", "s", [ep("10.1.0.1", "node-b")], [{ port: 80 }])],
    });
    const sp = model.servicePorts[0]!;
    expect(sp.usesClusterEndpoints).toBe(false);
    expect(sp.localEndpoints).toEqual([]);
    expect(sp.reachableEndpoints).toEqual([]);
    expect(sp.hasEndpoints).toBe(true);
  });

  it("applies zone hints when every ready endpoint has them", () => {
    const hinted = (ip: string, zone: string) => ep(ip, "x", { zone, hints: { forZones: [{ name: zone }] } });
    const { model } = buildProxyModel({
      nodeName: "node-a",
      nodeZone: "z1",
      services: [svc("ns", "s", { clusterIP: "10.0.0.1", ports: [{ port: 80 }] })],
      endpointSlices: [
        slice("ns", "s", [hinted("10.1.0.1", "z1"), hinted("10.1.0.2", "z2")], [{ port: 80 }]),
      ],
    });
    expect(model.servicePorts[0]!.clusterEndpoints.map((e) => e.ip)).toEqual(["10.1.0.1"]);
  });

  it("keeps LoadBalancer ingress IPs (not ipMode Proxy), source ranges per family and affinity", () => {
    const s = svc(
      "ns",
      "lb",
      {
        type: "LoadBalancer",
        clusterIP: "10.0.0.1",
        ports: [{ port: 80, nodePort: 30001 }],
        loadBalancerSourceRanges: ["203.0.113.7/25", "2001:db8::/64"],
        sessionAffinity: "ClientIP",
        externalTrafficPolicy: "Local",
        healthCheckNodePort: 30002,
      },
      ["192.0.2.10"],
    );
    s.status!.loadBalancer!.ingress!.push({ ip: "192.0.2.11", ipMode: "Proxy" });
    const sp = buildProxyModel({ ...base, services: [s], endpointSlices: [] }).model.servicePorts[0]!;
    expect(sp.loadBalancerIPs).toEqual(["192.0.2.10"]);
    expect(sp.loadBalancerSourceRanges).toEqual(["203.0.113.0/25"]);
    expect(sp.affinityTimeoutSeconds).toBe(10800);
    expect(sp.healthCheckNodePort).toBe(30002);
    expect(sp.nodePort).toBe(30001);
  });

  it("reuses service port objects for unchanged inputs when given the previous model", () => {
    const services = [
      svc("ns", "a", { clusterIP: "10.0.0.1", ports: [{ port: 80 }] }),
      svc("ns", "b", { clusterIP: "10.0.0.2", ports: [{ port: 80 }] }),
    ];
    const slices = [
      slice("ns", "a", [ep("10.1.0.1")], [{ port: 80 }]),
      slice("ns", "b", [ep("10.1.0.2")], [{ port: 80 }]),
    ];
    const first = buildProxyModel({ ...base, services, endpointSlices: slices }).model;
    const changed = [slices[0]!, slice("ns", "b", [ep("10.1.0.3")], [{ port: 80 }])];
    const second = buildProxyModel({ ...base, services, endpointSlices: changed }, { previous: first }).model;
    expect(second.servicePorts[0]).toBe(first.servicePorts[0]);
    expect(second.servicePorts[1]).not.toBe(first.servicePorts[1]);
    expect(second.servicePorts[1]!.clusterEndpoints[0]!.ip).toBe("10.1.0.3");
  });

  it("rejects a missing node name", () => {
    expect(() => buildProxyModel({ nodeName: "", services: [], endpointSlices: [] })).toThrow(/nodeName/);
  });

  it("reports a duplicate service once and keeps the first", () => {
    const a = svc("ns", "dup", { clusterIP: "10.0.0.1", ports: [{ port: 80 }] });
    const b = svc("ns", "dup", { clusterIP: "10.0.0.2", ports: [{ port: 80 }] });
    const { model, errors } = buildProxyModel({ ...base, services: [a, b], endpointSlices: [] });
    expect(errors).toEqual([
      {
        kind: "Service",
        namespace: "ns",
        name: "dup",
        field: "metadata.name",
        message: "duplicate service in input",
        skipped: "object",
      },
    ]);
    expect(model.servicePorts.map((p) => p.clusterIP)).toEqual(["10.0.0.1"]);
  });

  it("accepts client-node shaped objects with extra fields and ignores FQDN slices", () => {
    const s = {
      ...svc("ns", "s", { clusterIP: "10.0.0.1", ports: [{ port: 80, targetPort: "http" }] }),
      kind: "Service",
    };
    const fqdn = {
      ...slice("ns", "s", [{ addresses: ["example.com"] }], [{ port: 80 }]),
      addressType: "FQDN",
    };
    const { model, errors } = buildProxyModel({ ...base, services: [s], endpointSlices: [fqdn] });
    expect(errors).toEqual([]);
    expect(model.servicePorts[0]!.endpoints).toEqual([]);
  });

  it("requires a namespace, as the API server does", () => {
    const { model, errors } = buildProxyModel({
      ...base,
      services: [
        { metadata: { name: "no-ns" }, spec: { clusterIP: "10.0.0.1", ports: [{ port: 80 }] } },
        svc("ns", "good", { clusterIP: "10.0.0.2", ports: [{ port: 80 }] }),
      ],
      endpointSlices: [],
    });
    expect(errors.map((e) => [e.name, e.field, e.message])).toEqual([
      ["no-ns", "metadata.namespace", "Required value"],
    ]);
    expect(model.servicePorts.map((sp) => sp.name)).toEqual(["ns/good"]);
  });

  describe("one bad field skips just that field, as kube-proxy does (issue 13 item 4)", () => {
    // kube-proxy's newBaseServiceInfo filters externalIPs, ingress IPs and source ranges through
    // MapIPsByIPFamily / MapCIDRsByIPFamily, which skip (and log) what ParseIPSloppy /
    // ParseCIDRSloppy cannot read; ParseIPSloppy reads leading-zero IPv4 octets as decimal.
    const lb = (spec: object, ingress: string[]) =>
      svc(
        "ns",
        "lb",
        { type: "LoadBalancer", clusterIP: "10.0.0.9", ports: [{ port: 80, nodePort: 30009 }], ...spec },
        ingress,
      );

    it("skips an invalid externalIPs entry and keeps the Service", () => {
      const { model, errors } = buildProxyModel({
        ...base,
        services: [
          svc("ns", "s", {
            clusterIP: "10.0.0.1",
            externalIPs: ["192.0.2.1", "bogus", "192.0.2.3"],
            ports: [{ port: 80 }],
          }),
        ],
        endpointSlices: [],
      });
      expect(model.servicePorts.map((sp) => [sp.clusterIP, sp.externalIPs])).toEqual([
        ["10.0.0.1", ["192.0.2.1", "192.0.2.3"]],
      ]);
      expect(errors).toEqual([
        {
          kind: "Service",
          namespace: "ns",
          name: "s",
          field: "spec.externalIPs[1]",
          message: 'Invalid value: "bogus": not an IP address; skipped',
          skipped: "field",
        },
      ]);
    });

    it("reads legacy leading-zero IPv4 addresses as decimal (ParseIPSloppy)", () => {
      const { model, errors } = buildProxyModel({
        ...base,
        services: [
          svc("ns", "s", {
            clusterIP: "010.096.0.1",
            externalIPs: ["192.000.002.001"],
            ports: [{ port: 80 }],
          }),
          lb({ loadBalancerSourceRanges: ["010.0.0.0/8"] }, ["005.006.007.008"]),
        ],
        endpointSlices: [],
      });
      expect(errors).toEqual([]);
      expect(model.servicePorts[0]).toMatchObject({ clusterIP: "10.96.0.1", externalIPs: ["192.0.2.1"] });
      expect(model.servicePorts[1]).toMatchObject({
        loadBalancerIPs: ["5.6.7.8"],
        loadBalancerSourceRanges: ["10.0.0.0/8"],
      });
    });

    it("skips an invalid source range or ingress IP and keeps the rest", () => {
      const { model, errors } = buildProxyModel({
        ...base,
        services: [
          lb({ loadBalancerSourceRanges: [" 203.0.113.0/25 ", "203.0.113.300/32"] }, ["nope", "5.6.7.8"]),
        ],
        endpointSlices: [],
      });
      expect(model.servicePorts[0]).toMatchObject({
        clusterIP: "10.0.0.9",
        nodePort: 30009,
        loadBalancerIPs: ["5.6.7.8"],
        loadBalancerSourceRanges: ["203.0.113.0/25"],
      });
      expect(errors.map((e) => [e.field, e.message, e.skipped])).toEqual([
        ["status.loadBalancer.ingress[0].ip", 'Invalid value: "nope": not an IP address; skipped', "field"],
        [
          "spec.loadBalancerSourceRanges[1]",
          'Invalid value: "203.0.113.300/32": not a CIDR; skipped',
          "field",
        ],
      ]);
    });

    it("fails closed when no source range is valid: no LoadBalancer IP rather than an open one", () => {
      const { model, errors } = buildProxyModel({
        ...base,
        services: [lb({ loadBalancerSourceRanges: ["everyone"] }, ["5.6.7.8"])],
        endpointSlices: [],
      });
      expect(model.servicePorts[0]).toMatchObject({
        clusterIP: "10.0.0.9",
        nodePort: 30009,
        loadBalancerIPs: [],
      });
      expect(errors.map((e) => e.field)).toEqual([
        "spec.loadBalancerSourceRanges[0]",
        "spec.loadBalancerSourceRanges",
      ]);
    });
  });
});
