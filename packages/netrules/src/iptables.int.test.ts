import { canUseRealComponents } from "@kubenode/testkit";
import { describeTraffic } from "../test/traffic-suite.js";
import { createIptablesProxier } from "./iptables-applier.js";

const real = await canUseRealComponents(["iptables", "conntrack", "iproute2"]);

describeTraffic(
  "iptables rules under real traffic",
  (t) => {
    const netns = t.node.netns;
    // flushCheckIntervalMs 0: probe for a flushed ruleset before every sync (the flush test).
    const v4 = createIptablesProxier({
      netns,
      flushCheckIntervalMs: 0,
      clusterCIDR: "10.244.0.0/16",
      nodeIPs: [t.node.ip],
    });
    const v6 = createIptablesProxier({
      netns,
      flushCheckIntervalMs: 0,
      family: "IPv6",
      clusterCIDR: "fd44::/48",
      nodeIPs: [t.node.ip6!],
    });
    return {
      async sync(model) {
        const a = await v4.sync(model);
        const b = await v6.sync(model);
        return {
          full: a.full && b.full,
          recoveredFromFlush: a.recoveredFromFlush && b.recoveredFromFlush,
          conntrackFlowsDeleted: a.conntrackFlowsDeleted + b.conntrackFlowsDeleted,
        };
      },
      async flushRuleset() {
        await t.node.exec(["nft", "flush", "ruleset"]);
      },
    };
  },
  real,
);
