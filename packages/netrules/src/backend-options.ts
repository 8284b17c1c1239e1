import type { IPFamily } from "./ip.js";

/** What the iptables and nftables backends both need to know about the node and the cluster. */
export interface BackendOptions {
  /** The family this backend programs. Default IPv4. */
  family?: IPFamily | undefined;
  /** Bit of the packet mark used to flag traffic for masquerade. Default 14 (0x4000). */
  masqueradeBit?: number | undefined;
  /** Masquerade all ClusterIP traffic (--masquerade-all). Default false. */
  masqueradeAll?: boolean | undefined;
  /** The cluster (pod) CIDR of this family: traffic from outside it is masqueraded. */
  clusterCIDR?: string | undefined;
  /** This node's IPs (LB source ranges that include the node; NodePort addresses by default). */
  nodeIPs?: readonly string[] | undefined;
  /**
   * The addresses of this host's network interfaces, loopback included: with `nodePortAddresses`
   * CIDRs, NodePorts are accepted on those of them inside a CIDR, as upstream matches
   * --nodeport-addresses against the interfaces (GetNodeIPs), so a secondary address in range
   * gets NodePorts too. Default: `nodeIPs`.
   */
  hostAddresses?: readonly string[] | undefined;
}
