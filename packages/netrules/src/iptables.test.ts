import { describe, expect, it } from "vitest";
import { ep, slice, svc } from "./__tests__/fixtures.js";
import { featureScenario } from "./__tests__/scenario.js";
import { NetrulesError } from "./errors.js";
import {
  createIptablesBackend,
  endpointChainName,
  IPTABLES_KUBELET_JUMP_RULES,
  servicePortChainSuffix,
} from "./iptables.js";
import {
  applyRestorePayload,
  createIptablesRuleset,
  findDanglingJumps,
  type TracePacket,
  traceIptables,
} from "./iptables-tracer.js";
import { buildProxyModel, type ProxyModelInput } from "./model.js";
import { NFACCT_CT_STATE_INVALID_DROPPED, NFACCT_LOCALHOST_NODEPORTS_ACCEPTED } from "./nfacct.js";

const NODE_IP = "192.168.0.2";
const backendOpts = { clusterCIDR: "10.0.0.0/8", nodeIPs: [NODE_IP] };

function applied(payloads: string[]) {
  const rs = createIptablesRuleset();
  for (const p of payloads) applyRestorePayload(rs, p);
  return rs;
}

describe("iptables backend", () => {
  it("writes the upstream rules for a ClusterIP service, byte for byte", () => {
    const { model } = buildProxyModel({
      nodeName: "node-a",
      services: [svc("ns4", "svc4", { clusterIP: "172.30.0.44", ports: [{ name: "p80", port: 80 }] })],
      endpointSlices: [
        slice("ns4", "svc4", [ep("10.180.0.4"), ep("10.180.0.5")], [{ name: "p80", port: 80 }]),
      ],
    });
    const { payload } = createIptablesBackend(backendOpts).sync(model);
    const lines = payload.split("\n");
    for (const expected of [
      '-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK',
      '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC',
      '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ',
      "-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ",
      "-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80",
      "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
      "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    ]) {
      expect(lines).toContain(expected);
    }
    // base 5 nat + 3 filter (+ KUBE-FIREWALL's localnet rule), and 2 + 3E nat rules for the service
    const natRules = lines.slice(lines.indexOf("*nat")).filter((l) => l.startsWith("-A"));
    const filterRules = lines.slice(0, lines.indexOf("*nat")).filter((l) => l.startsWith("-A"));
    expect(natRules).toHaveLength(5 + 2 + 3 * 2);
    expect(filterRules).toHaveLength(3 + 1);
  });

  it("writes kube-proxy's localhost NodePort firewall (CVE-2020-8558) for IPv4 with localhost NodePorts", () => {
    // Lines as in upstream's TestOverallIPTablesRules (pkg/proxy/iptables/proxier_test.go) and the
    // jumps of its iptablesKubeletJumpChains (`-A INPUT -j KUBE-FIREWALL`, `-A OUTPUT -j KUBE-FIREWALL`).
    const rule =
      '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP';
    const { model } = buildProxyModel(featureScenario());
    const filterOf = (payload: string) => payload.slice(0, payload.indexOf("*nat")).split("\n");
    const backend = createIptablesBackend(backendOpts);
    for (const payload of [backend.sync(model).payload, backend.sync(model).payload]) {
      // full and partial syncs both rewrite the filter table, KUBE-FIREWALL included
      expect(filterOf(payload)).toContain(":KUBE-FIREWALL - [0:0]");
      expect(filterOf(payload).filter((l) => l.startsWith("-A KUBE-FIREWALL"))).toEqual([rule]);
    }
    expect(IPTABLES_KUBELET_JUMP_RULES.map((j) => `-t ${j.table} -A ${j.chain} ${j.args.join(" ")}`)).toEqual(
      ["-t filter -A INPUT -j KUBE-FIREWALL", "-t filter -A OUTPUT -j KUBE-FIREWALL"],
    );
    // Neither with localhost NodePorts off nor for IPv6 (no route_localnet there), as upstream.
    const off = createIptablesBackend({ ...backendOpts, localhostNodePorts: false }).sync(model).payload;
    expect(off).not.toContain("KUBE-FIREWALL");
    const v6 = createIptablesBackend({ family: "IPv6", clusterCIDR: "fd00::/64", nodeIPs: ["fd00::2"] });
    expect(v6.sync(model).payload).not.toContain("KUBE-FIREWALL");
  });

  it("counts INVALID drops and localhost NodePort packets into the nfacct counters that exist, as upstream", () => {
    // Lines as in upstream's TestOverallIPTablesRules, whose proxier has both counters.
    const { model } = buildProxyModel(featureScenario());
    const counted = createIptablesBackend({
      ...backendOpts,
      nfacctCounters: [NFACCT_CT_STATE_INVALID_DROPPED, NFACCT_LOCALHOST_NODEPORTS_ACCEPTED],
    }).sync(model).payload;
    const lines = counted.split("\n");
    expect(lines).toContain(
      "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP",
    );
    const nodePorts = lines.filter((l) => l.startsWith("-A KUBE-NODEPORTS") && l.includes("ns2/svc2:p80"));
    expect(nodePorts).toEqual([
      "-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 30002 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
      "-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 30002 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
    ]);
    // Without the counters (no nfacct here) the rules are the plain ones: nothing else changes.
    const plain = createIptablesBackend(backendOpts).sync(model).payload;
    expect(plain).not.toContain("nfacct");
    expect(counted.split("\n").filter((l) => !l.includes("nfacct"))).toEqual(
      plain.split("\n").filter((l) => l !== "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"),
    );
    // Only the counter that exists is used; the localhost rule is IPv4 with localhost NodePorts only.
    const onlyInvalid = createIptablesBackend({
      ...backendOpts,
      nfacctCounters: [NFACCT_CT_STATE_INVALID_DROPPED],
    }).sync(model).payload;
    expect(onlyInvalid).not.toContain("127.0.0.0/8 --dport");
    const noLocalhost = createIptablesBackend({
      ...backendOpts,
      localhostNodePorts: false,
      nfacctCounters: [NFACCT_LOCALHOST_NODEPORTS_ACCEPTED],
    }).sync(model).payload;
    expect(noLocalhost).not.toContain("nfacct");
  });

  it("matches the golden full payload for the feature scenario, with no dangling jumps", async () => {
    const { model } = buildProxyModel(featureScenario());
    const { payload, full } = createIptablesBackend(backendOpts).sync(model);
    expect(full).toBe(true);
    await expect(payload).toMatchFileSnapshot("./__golden__/iptables-full.txt");
    expect(findDanglingJumps(applied([payload]))).toEqual([]);
  });

  it("writes ip6tables rules for IPv6 service ports only", async () => {
    const { model } = buildProxyModel({
      nodeName: "node-a",
      services: [
        svc("ns", "ds", { clusterIPs: ["10.0.0.10", "fd00::a"], ports: [{ name: "http", port: 80 }] }),
      ],
      endpointSlices: [
        slice("ns", "ds", [ep("10.1.0.1")], [{ name: "http", port: 8080 }]),
        slice("ns", "ds", [ep("fd01::1")], [{ name: "http", port: 8080 }], "IPv6"),
      ],
    });
    const { payload } = createIptablesBackend({ family: "IPv6", clusterCIDR: "fd01::/48" }).sync(model);
    expect(payload).toContain("-d fd00::a --dport 80 -j KUBE-SVC-");
    expect(payload).toContain("-j DNAT --to-destination [fd01::1]:8080");
    expect(payload).toContain("! -d ::1/128 -j KUBE-NODEPORTS");
    expect(payload).not.toContain("10.0.0.10");
  });

  it("rewrites only changed services in a partial sync and deletes stale chains", () => {
    const input = featureScenario();
    const backend = createIptablesBackend(backendOpts);
    const first = buildProxyModel(input).model;
    const full = backend.sync(first);
    // Change svc1's endpoints and delete svc3.
    const changed: ProxyModelInput = {
      ...input,
      services: input.services.filter((s) => s.metadata?.name !== "svc3"),
      endpointSlices: input.endpointSlices.map((s) =>
        s.metadata?.namespace === "ns1"
          ? slice("ns1", "svc1", [ep("10.180.0.1")], [{ name: "p80", port: 80 }])
          : s,
      ),
    };
    const second = buildProxyModel(changed, { previous: first }).model;
    const partial = backend.sync(second);
    expect(partial.full).toBe(false);
    expect(partial.changedServicePorts).toBe(1);
    const declared = partial.payload.split("\n").filter((l) => l.startsWith(":KUBE-S") && /SVC|SEP/.test(l));
    // svc1's SVC chain and its remaining SEP, plus the removed SEP of svc1 and svc3's chains
    expect(declared.length).toBeGreaterThanOrEqual(2);
    expect(partial.payload).not.toContain("ns2/svc2:p80 -> ");
    const svc3 = servicePortChainSuffix("ns3/svc3:p80", "tcp");
    expect(partial.deletedChains).toEqual(
      [
        endpointChainName("ns1/svc1:p80", "tcp", "10.180.1.1:80"),
        endpointChainName("ns3/svc3:p80", "tcp", "10.180.0.3:80"),
        `KUBE-EXT-${svc3}`,
        `KUBE-FW-${svc3}`,
        `KUBE-SVC-${svc3}`,
      ].sort(),
    );
    expect(partial.deletedChains.every((c) => partial.payload.includes(`-X ${c}`))).toBe(true);
    const rs = applied([full.payload, partial.payload]);
    expect(findDanglingJumps(rs)).toEqual([]);
    const nat = rs.tables.get("nat")!;
    for (const c of partial.deletedChains) expect(nat.has(c)).toBe(false);
    // A second sync with no change rewrites no service chain.
    const third = backend.sync(buildProxyModel(changed, { previous: second }).model);
    expect(third.changedServicePorts).toBe(0);
    expect(third.deletedChains).toEqual([]);
  });

  it("deletes stale chains reported by the kernel on a full sync", () => {
    const { model } = buildProxyModel(featureScenario());
    const r = createIptablesBackend(backendOpts).sync(model, {
      full: true,
      existingNatChains: ["KUBE-SVC-AAAAAAAAAAAAAAAA", "KUBE-SERVICES", "DOCKER"],
    });
    expect(r.deletedChains).toEqual(["KUBE-SVC-AAAAAAAAAAAAAAAA"]);
  });

  it("drops per-endpoint comments in large cluster mode", () => {
    const { model } = buildProxyModel(featureScenario());
    const { payload } = createIptablesBackend({ ...backendOpts, largeClusterEndpointsThreshold: 2 }).sync(
      model,
    );
    expect(payload).not.toContain("ns1/svc1:p80 -> ");
    expect(payload).toContain('--comment "ns1/svc1:p80 cluster IP"');
  });

  it("uses --nodeport-addresses per node IP and a configurable masquerade bit", () => {
    const { model } = buildProxyModel(featureScenario());
    const { payload } = createIptablesBackend({
      ...backendOpts,
      nodeIPs: [NODE_IP, "10.9.9.9"],
      nodePortAddresses: ["192.168.0.0/24"],
      masqueradeBit: 15,
    }).sync(model);
    expect(payload).toContain(`-d ${NODE_IP} -j KUBE-NODEPORTS`);
    expect(payload).not.toContain("-d 10.9.9.9 -j KUBE-NODEPORTS");
    expect(payload).toContain("-j MARK --or-mark 0x8000");
  });

  it("rejects bad options with a clear error", () => {
    expect(() => createIptablesBackend({ clusterCIDR: "10.0.0.0/99" })).toThrow(/clusterCIDR 10.0.0.0\/99/);
    expect(() => createIptablesBackend({ masqueradeBit: 40 })).toThrow(/masqueradeBit 40/);
    const err = (() => {
      try {
        createIptablesBackend({ nodePortAddresses: ["bogus"] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(NetrulesError);
    expect((err as NetrulesError).code).toBe("InvalidInput");
  });
});

describe("iptables tracer over the feature scenario", () => {
  const { model } = buildProxyModel(featureScenario());
  const rs = applied([createIptablesBackend(backendOpts).sync(model).payload]);
  const trace = (p: Partial<TracePacket> & { destination: string; port: number }) =>
    traceIptables(rs, { source: "10.0.5.5", protocol: "tcp", ...p }, [NODE_IP]);
  const summary = (p: Parameters<typeof trace>[0]) =>
    trace(p)
      .map((o) => `${o.verdict}${o.endpoint ? ` ${o.endpoint}` : ""}${o.masquerade ? " masq" : ""}`)
      .sort();

  it("spreads ClusterIP traffic over all endpoints, masquerading off-cluster sources", () => {
    expect(summary({ destination: "172.30.0.41", port: 80 })).toEqual([
      "DNAT 10.180.0.1:80",
      "DNAT 10.180.1.1:80",
    ]);
    expect(summary({ source: "192.168.0.9", destination: "172.30.0.41", port: 80 })).toEqual([
      "DNAT 10.180.0.1:80 masq",
      "DNAT 10.180.1.1:80 masq",
    ]);
  });

  it("masquerades hairpin traffic (endpoint reaching itself through the service)", () => {
    expect(summary({ source: "10.180.0.1", destination: "172.30.0.41", port: 80 })).toContain(
      "DNAT 10.180.0.1:80 masq",
    );
  });

  it("sends external NodePort traffic with ETP Local to local endpoints only, unmasqueraded", () => {
    expect(summary({ source: "192.168.0.9", destination: NODE_IP, port: 30002 })).toEqual([
      "DNAT 10.180.0.2:8080",
    ]);
    expect(summary({ source: "192.168.0.9", destination: "192.168.99.22", port: 80 })).toEqual([
      "DNAT 10.180.0.2:8080",
    ]);
    // pod traffic short-circuits to the cluster-wide chain
    expect(summary({ source: "10.0.5.5", destination: NODE_IP, port: 30002 })).toEqual([
      "DNAT 10.180.0.2:8080",
      "DNAT 10.180.1.2:8080",
    ]);
  });

  it("drops ETP Local NodePort traffic when no endpoint is local", () => {
    expect(summary({ source: "192.168.0.9", destination: NODE_IP, port: 30008 })).toEqual(["DROP"]);
    expect(summary({ destination: "172.30.0.48", port: 80 })).toEqual(["DNAT 10.180.1.8:80"]);
  });

  it("rejects traffic to a service without endpoints", () => {
    expect(summary({ destination: "172.30.0.44", port: 80 })).toEqual(["REJECT"]);
  });

  it("drops ClusterIP traffic for ITP Local without local endpoints", () => {
    expect(summary({ destination: "172.30.0.46", port: 80 })).toEqual(["DROP"]);
  });

  it("falls back to terminating endpoints", () => {
    expect(summary({ destination: "172.30.0.47", port: 80 })).toEqual(["DNAT 10.180.0.7:80"]);
  });

  it("applies LoadBalancer source ranges", () => {
    expect(summary({ source: "203.0.113.9", destination: "5.6.7.8", port: 80 })).toEqual([
      "DNAT 10.180.0.3:80 masq",
    ]);
    expect(summary({ source: "198.51.100.1", destination: "5.6.7.8", port: 80 })).toEqual(["DROP"]);
  });

  it("uses UDP rules for a UDP service and not for TCP", () => {
    expect(summary({ protocol: "udp", destination: "172.30.0.45", port: 53 })).toHaveLength(3);
    expect(summary({ protocol: "tcp", destination: "172.30.0.45", port: 53 })).toEqual(["ACCEPT"]);
  });
});
