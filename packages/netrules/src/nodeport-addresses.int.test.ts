import { canUseRealComponents } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labScenario, startTrafficLab, type TrafficLab } from "../test/lab.js";
import { createIptablesProxier } from "./iptables-applier.js";
import { buildProxyModel, type ProxyModel } from "./model.js";
import { createNftablesProxier } from "./nftables-applier.js";

const real = await canUseRealComponents(["iptables", "nftables", "conntrack", "iproute2"]);

// Issue 13 item 3: upstream matches --nodeport-addresses CIDRs against the host's interface
// addresses, so a secondary address inside a CIDR serves NodePorts, and one outside does not.
describe.runIf(real)("NodePorts on the host addresses inside --nodeport-addresses", () => {
  let t: TrafficLab;
  let model: ProxyModel;
  let secondary: string;
  let subnet: string;
  beforeAll(async () => {
    t = await startTrafficLab();
    // A second address on the node's interface, in the lab's subnet.
    secondary = t.node.ip.replace(/\.\d+$/, ".240");
    subnet = t.node.ip.replace(/\.\d+$/, ".0/24");
    await t.node.exec(["ip", "addr", "add", `${secondary}/24`, "dev", "eth0"]);
    const built = buildProxyModel(labScenario(t));
    expect(built.errors).toEqual([]);
    model = built.model;
  });
  afterAll(() => t?.destroy());

  const modes = {
    iptables: (o: object) =>
      createIptablesProxier({ netns: t.node.netns, clusterCIDR: "10.244.0.0/16", ...o }),
    "nftables upstream layout": (o: object) =>
      createNftablesProxier({ netns: t.node.netns, clusterCIDR: "10.244.0.0/16", ...o }),
    "nftables compact layout": (o: object) =>
      createNftablesProxier({ netns: t.node.netns, layout: "compact", clusterCIDR: "10.244.0.0/16", ...o }),
  };

  for (const [name, make] of Object.entries(modes)) {
    it(`${name}: a secondary address in the CIDR serves NodePorts; outside the CIDR it does not`, async () => {
      await t.node.exec(["nft", "flush", "ruleset"]);
      const hostAddresses = [t.node.ip, secondary, "127.0.0.1"];
      await make({ nodeIPs: [t.node.ip], hostAddresses, nodePortAddresses: [subnet] }).sync(model);
      expect(await t.request(t.client, "tcp", secondary, 30080, 2)).toEqual(["ep2", "ep2"]);
      expect(await t.request(t.client, "tcp", t.node.ip, 30080, 1)).toEqual(["ep2"]);

      await t.node.exec(["nft", "flush", "ruleset"]);
      await make({ nodeIPs: [t.node.ip], hostAddresses, nodePortAddresses: [`${t.node.ip}/32`] }).sync(model);
      expect(await t.request(t.client, "tcp", t.node.ip, 30080, 1)).toEqual(["ep2"]);
      // nothing listens on 30080 of the node itself: refused (or dropped), never an endpoint
      expect(await t.request(t.client, "tcp", secondary, 30080, 1, { timeoutMs: 1500 })).not.toEqual(["ep2"]);
    });
  }
});
