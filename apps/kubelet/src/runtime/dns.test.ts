import { describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import { parseResolvConf, podDnsConfig } from "./dns.js";

const host = parseResolvConf(
  "# host\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example. .\noptions edns0 timeout:2\n",
);
const cluster = { clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local" };
const pod = (spec: Partial<Pod["spec"]> = {}): Pod => ({
  metadata: { name: "p", namespace: "team" },
  spec: { containers: [], ...spec },
});

describe("pod DNS config (network/dns/dns.go)", () => {
  it("parses resolv.conf, dropping a lone '.' and trailing dots of search entries", () => {
    expect(host).toEqual({
      nameservers: ["192.0.2.53", "192.0.2.54"],
      searches: ["corp.example"],
      options: ["edns0", "timeout:2"],
    });
  });

  it("ClusterFirst: cluster DNS, the namespace search path plus the host's, ndots:5", () => {
    expect(podDnsConfig(pod(), cluster, host)).toEqual({
      servers: ["10.96.0.10"],
      searches: ["team.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
      options: ["ndots:5"],
    });
  });

  it("ClusterFirst on the host network and Default use the host's resolver; ClusterFirstWithHostNet the cluster's", () => {
    const hostConfig = { servers: host.nameservers, searches: host.searches, options: host.options };
    expect(podDnsConfig(pod({ hostNetwork: true }), cluster, host)).toEqual(hostConfig);
    expect(podDnsConfig(pod({ dnsPolicy: "Default" }), cluster, host)).toEqual(hostConfig);
    expect(
      podDnsConfig(pod({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }), cluster, host).servers,
    ).toEqual(["10.96.0.10"]);
  });

  it("falls back to the host resolver when no cluster DNS is configured", () => {
    expect(podDnsConfig(pod(), { clusterDNS: [], clusterDomain: "cluster.local" }, host).servers).toEqual(
      host.nameservers,
    );
  });

  it("None takes only spec.dnsConfig; options merge by name with the pod's winning; at most 3 servers", () => {
    const p = pod({
      dnsPolicy: "None",
      dnsConfig: {
        nameservers: ["1.1.1.1", "8.8.8.8", "9.9.9.9", "4.4.4.4"],
        searches: ["a.example"],
        options: [{ name: "ndots", value: "2" }],
      },
    });
    expect(podDnsConfig(p, cluster, host)).toEqual({
      servers: ["1.1.1.1", "8.8.8.8", "9.9.9.9"],
      searches: ["a.example"],
      options: ["ndots:2"],
    });
    const merged = podDnsConfig(
      pod({ dnsConfig: { options: [{ name: "ndots", value: "1" }, { name: "edns0" }] } }),
      cluster,
      host,
    );
    expect(merged.options).toEqual(["ndots:1", "edns0"]);
  });
});
