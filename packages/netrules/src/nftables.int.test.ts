import { canUseRealComponents } from "@kubenode/testkit";
import { describeTraffic } from "../test/traffic-suite.js";
import { createNftablesProxier } from "./nftables-applier.js";

const real = await canUseRealComponents(["nftables", "conntrack", "iproute2"]);

for (const layout of ["upstream", "compact"] as const) {
  describeTraffic(
    `nftables rules (${layout} layout) under real traffic`,
    (t) => {
      const netns = t.node.netns;
      // flushCheckIntervalMs 0: probe for a flushed ruleset before every sync (the flush test).
      const v4 = createNftablesProxier({
        netns,
        flushCheckIntervalMs: 0,
        layout,
        clusterCIDR: "10.244.0.0/16",
        nodeIPs: [t.node.ip],
      });
      const v6 = createNftablesProxier({
        netns,
        flushCheckIntervalMs: 0,
        layout,
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
}
