import { canUseRealComponents } from "@kubenode/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { NODE_NAME, startTrafficLab, type TrafficLab } from "../test/lab.js";
import { createIptablesProxier } from "./iptables-applier.js";
import { buildProxyModel } from "./model.js";
import { createNftablesProxier } from "./nftables-applier.js";
import type { EndpointLike } from "./types.js";

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
      const [ep1, ep2] = t.eps as [TrafficLab["eps"][number], TrafficLab["eps"][number]];
      const self = (name: string, clusterIP: string, endpoint: EndpointLike) => ({
        service: {
          metadata: { namespace: "lab", name },
          spec: { clusterIP, ports: [{ name: "p", port: 80 }] },
        },
        slice: {
          metadata: { namespace: "lab", name: `${name}-1`, labels: { "kubernetes.io/service-name": name } },
          addressType: "IPv4",
          endpoints: [endpoint],
          ports: [{ name: "p", port: 8080, protocol: "TCP" }],
        },
      });
      // An endpoint on this node, and one whose slice names no node at all (issue 13 item 6).
      const onNode = self("self", "172.30.1.1", {
        addresses: [ep1.ip],
        conditions: { ready: true },
        nodeName: NODE_NAME,
      });
      const noNode = self("self-no-node", "172.30.1.2", { addresses: [ep2.ip], conditions: { ready: true } });
      const { model, errors } = buildProxyModel({
        nodeName: NODE_NAME,
        services: [onNode.service, noNode.service],
        endpointSlices: [onNode.slice, noNode.slice],
      });
      expect(errors).toEqual([]);
      await make(t).sync(model);
      expect(await t.request(ep1, "tcp", "172.30.1.1", 80, 3)).toEqual(["ep1", "ep1", "ep1"]);
      expect(await t.request(ep2, "tcp", "172.30.1.2", 80, 3)).toEqual(["ep2", "ep2", "ep2"]);
    });
  }
});
