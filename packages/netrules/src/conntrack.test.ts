import { describe, expect, it } from "vitest";
import { ep, slice, svc } from "./__tests__/fixtures.js";
import { conntrackDeleteArgs, staleConntrackFilters } from "./conntrack.js";
import { failingLine } from "./exec.js";
import { buildProxyModel } from "./model.js";

const udp = (clusterIP: string, eps: string[]) =>
  buildProxyModel({
    nodeName: "n",
    services: [
      svc("ns", "dns", {
        clusterIP,
        type: "NodePort",
        ports: [{ port: 53, protocol: "UDP", nodePort: 30053 }],
      }),
    ],
    endpointSlices: eps.length
      ? [
          slice(
            "ns",
            "dns",
            eps.map((i) => ep(i)),
            [{ port: 5353, protocol: "UDP" }],
          ),
        ]
      : [],
  }).model;

describe("stale conntrack filters", () => {
  it("clears flows to removed UDP endpoints, by service IP and by NodePort", () => {
    const f = staleConntrackFilters(
      udp("10.96.0.10", ["10.1.0.1", "10.1.0.2"]),
      udp("10.96.0.10", ["10.1.0.2"]),
    );
    expect(f.map(conntrackDeleteArgs)).toEqual([
      ["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "10.96.0.10", "--dst-nat", "10.1.0.1"],
      ["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-port-dst", "30053", "--dst-nat", "10.1.0.1"],
    ]);
  });

  it("clears flows to an old ClusterIP and to a service that just got endpoints", () => {
    const changedIP = staleConntrackFilters(udp("10.96.0.10", ["10.1.0.1"]), udp("10.96.0.11", ["10.1.0.1"]));
    expect(changedIP.map((x) => x.originalDestination)).toEqual(["10.96.0.10"]);
    const firstEndpoints = staleConntrackFilters(udp("10.96.0.10", []), udp("10.96.0.10", ["10.1.0.1"]));
    expect(firstEndpoints.map(conntrackDeleteArgs)).toEqual([
      ["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53"],
      ["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-port-dst", "30053"],
    ]);
  });

  it("leaves TCP services and unchanged models alone", () => {
    const m = udp("10.96.0.10", ["10.1.0.1"]);
    expect(staleConntrackFilters(m, m)).toEqual([]);
    const tcp = (eps: string[]) =>
      buildProxyModel({
        nodeName: "n",
        services: [svc("ns", "web", { clusterIP: "10.96.0.20", ports: [{ port: 80 }] })],
        endpointSlices: [
          slice(
            "ns",
            "web",
            eps.map((i) => ep(i)),
            [{ port: 80 }],
          ),
        ],
      }).model;
    expect(staleConntrackFilters(tcp(["10.1.0.1"]), tcp([]))).toEqual([]);
  });
});

describe("tool error parsing", () => {
  it("finds the failing line of iptables-restore and nft", () => {
    expect(
      failingLine("iptables-restore v1.8.9 (nf_tables): unknown option\nError occurred at line: 7\n"),
    ).toBe(7);
    expect(
      failingLine("/dev/stdin:42:27-46: Error: invalid priority expression value in this context."),
    ).toBe(42);
    expect(failingLine("something else")).toBeUndefined();
  });
});
