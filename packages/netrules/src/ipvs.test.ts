import { describe, expect, it } from "vitest";
import { featureScenario } from "./__tests__/scenario.js";
import { applyRestorePayload, createIptablesRuleset, findDanglingJumps } from "./iptables-tracer.js";
import { buildIpvsState, ipsetRestoreText, ipvsadmRestoreText } from "./ipvs.js";
import { buildProxyModel } from "./model.js";

// The kernel on these machines has no IPVS: this mode is verified as data only.
describe("IPVS state (data only)", () => {
  const { model } = buildProxyModel(featureScenario());
  const state = buildIpvsState(model, { nodeIPs: ["192.168.0.2"], clusterCIDR: "10.0.0.0/8" });

  it("creates one virtual server per service IP and NodePort, with upstream semantics", () => {
    const svc1 = state.virtualServers.find((v) => v.service === "ns1/svc1:p80")!;
    expect(svc1).toMatchObject({ kind: "ClusterIP", address: "172.30.0.41", port: 80, scheduler: "rr" });
    expect(svc1.realServers.map((r) => `${r.address}:${r.port}`)).toEqual(["10.180.0.1:80", "10.180.1.1:80"]);
    // ETP Local: the NodePort and external IP only reach the local endpoint
    const np = state.virtualServers.find((v) => v.service === "ns2/svc2:p80" && v.kind === "NodePort")!;
    expect(np).toMatchObject({ address: "192.168.0.2", port: 30002 });
    expect(np.realServers.map((r) => r.address)).toEqual(["10.180.0.2"]);
    // ClientIP affinity becomes persistence
    expect(state.virtualServers.find((v) => v.service === "ns5/svc5:dns")!.persistentTimeoutSeconds).toBe(
      300,
    );
    // no endpoints: a virtual server without real servers
    expect(state.virtualServers.find((v) => v.service === "ns4/svc4:p80")!.realServers).toEqual([]);
    expect(state.dummyAddresses).toContain("5.6.7.8");
  });

  it("writes ipvsadm-restore and ipset restore text", () => {
    const text = ipvsadmRestoreText(state);
    expect(text).toContain("-A -t 172.30.0.41:80 -s rr\n-a -t 172.30.0.41:80 -r 10.180.0.1:80 -m -w 1\n");
    expect(text).toContain("-A -u 172.30.0.45:53 -s rr -p 300\n");
    const sets = ipsetRestoreText(state);
    expect(sets).toContain(
      "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment -exist",
    );
    expect(sets).toContain("add KUBE-CLUSTER-IP 172.30.0.41,tcp:80 comment");
    expect(sets).toContain("add KUBE-LOOP-BACK 10.180.0.1,tcp:80,10.180.0.1 comment");
    expect(sets).toContain("add KUBE-NODE-PORT-LOCAL-TCP 30002 comment");
    expect(sets).toContain("add KUBE-LOAD-BALANCER-SOURCE-CIDR 5.6.7.8,tcp:80,203.0.113.0/25 comment");
  });

  it("has helper iptables rules without dangling jumps", () => {
    const rs = createIptablesRuleset();
    applyRestorePayload(rs, state.iptablesPayload);
    expect(findDanglingJumps(rs)).toEqual([]);
    expect(state.iptablesPayload).toContain(
      "--match-set KUBE-CLUSTER-IP src,dst ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
    );
  });

  it("uses bracketed IPv6 addresses", () => {
    const { model: m6 } = buildProxyModel({
      nodeName: "n",
      services: [
        { metadata: { namespace: "ns", name: "v6" }, spec: { clusterIP: "fd00::1", ports: [{ port: 80 }] } },
      ],
      endpointSlices: [],
    });
    expect(ipvsadmRestoreText(buildIpvsState(m6, { family: "IPv6" }))).toBe("-A -t [fd00::1]:80 -s rr\n");
  });
});
