import { canUseRealComponents } from "@kubenode/testkit";
import { describeTraffic, dualStack } from "../test/traffic-suite.js";
import { createNftablesProxier } from "./nftables-applier.js";

const real = await canUseRealComponents(["nftables", "conntrack", "iproute2"]);

for (const layout of ["upstream", "compact"] as const) {
  describeTraffic(
    `nftables rules (${layout} layout) under real traffic`,
    (t) => {
      // flushCheckIntervalMs 0: probe for a flushed ruleset before every sync (the flush test).
      const common = { netns: t.node.netns, flushCheckIntervalMs: 0, layout };
      return dualStack(
        t,
        createNftablesProxier({ ...common, clusterCIDR: "10.244.0.0/16", nodeIPs: [t.node.ip] }),
        createNftablesProxier({
          ...common,
          family: "IPv6",
          clusterCIDR: "fd44::/48",
          nodeIPs: [t.node.ip6!],
        }),
      );
    },
    real,
  );
}
