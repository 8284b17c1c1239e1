import { canUseRealComponents } from "@kubenode/testkit";
import { describeTraffic, dualStack } from "../test/traffic-suite.js";
import { createIptablesProxier } from "./iptables-applier.js";

const real = await canUseRealComponents(["iptables", "conntrack", "iproute2"]);

describeTraffic(
  "iptables rules under real traffic",
  (t) => {
    // flushCheckIntervalMs 0: probe for a flushed ruleset before every sync (the flush test).
    const common = { netns: t.node.netns, flushCheckIntervalMs: 0 };
    return dualStack(
      t,
      createIptablesProxier({ ...common, clusterCIDR: "10.244.0.0/16", nodeIPs: [t.node.ip] }),
      createIptablesProxier({ ...common, family: "IPv6", clusterCIDR: "fd44::/48", nodeIPs: [t.node.ip6!] }),
    );
  },
  real,
);
