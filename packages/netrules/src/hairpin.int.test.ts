import { canUseRealComponents } from "@kubenode/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { NODE_NAME, startTrafficLab, type TrafficLab } from "../test/lab.js";
import { createIptablesProxier } from "./iptables-applier.js";
import { buildProxyModel } from "./model.js";
import { createNftablesProxier } from "./nftables-applier.js";

const real = await canUseRealComponents(["iptables", "nftables", "conntrack", "iproute2"]);

// An endpoint reaching itself through its own Service only works when the node masquerades the
// hairpin flow: otherwise the endpoint receives a packet from its own address and drops it. The
// lab subnet is the cluster CIDR here, so nothing else masquerades the endpoint's traffic.
describe.runIf(real)("hairpin traffic (an endpoint reaching itself through its Service)", () => {
  let t: TrafficLab | undefined;
  afterEach(async () => {
    await t?.destroy();
    t = undefined;
  });

  const cases = {
    iptables: (lab: TrafficLab) =>
      createIptablesProxier({ netns: lab.node.netns, clusterCIDR: "10.77.0.0/24", nodeIPs: [lab.node.ip] }),
    "nftables upstream": (lab: TrafficLab) =>
      createNftablesProxier({ netns: lab.node.netns, clusterCIDR: "10.77.0.0/24", nodeIPs: [lab.node.ip] }),
    "nftables compact": (lab: TrafficLab) =>
      createNftablesProxier({
        netns: lab.node.netns,
        layout: "compact",
        clusterCIDR: "10.77.0.0/24",
        nodeIPs: [lab.node.ip],
      }),
  };

  for (const [name, make] of Object.entries(cases)) {
    it(`masquerades hairpin flows (${name})`, async () => {
      t = await startTrafficLab();
      const ep1 = t.eps[0]!;
      const { model, errors } = buildProxyModel({
        nodeName: NODE_NAME,
        services: [
          {
            metadata: { namespace: "lab", name: "self" },
            spec: { clusterIP: "172.30.1.1", ports: [{ name: "p", port: 80 }] },
          },
        ],
        endpointSlices: [
          {
            metadata: { namespace: "lab", name: "self-1", labels: { "kubernetes.io/service-name": "self" } },
            addressType: "IPv4",
            endpoints: [{ addresses: [ep1.ip], conditions: { ready: true }, nodeName: NODE_NAME }],
            ports: [{ name: "p", port: 8080, protocol: "TCP" }],
          },
        ],
      });
      expect(errors).toEqual([]);
      await make(t).sync(model);
      expect(await t.request(ep1, "tcp", "172.30.1.1", 80, 3)).toEqual(["ep1", "ep1", "ep1"]);
    });
  }
});
