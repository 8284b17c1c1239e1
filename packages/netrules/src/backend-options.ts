import { NetrulesError } from "./errors.js";
import { type IPFamily, parseCidr } from "./ip.js";

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

/** What both backends derive from {@link BackendOptions}, checked. */
export interface ResolvedBackendOptions {
  family: IPFamily;
  /** The masquerade mark, e.g. `0x4000` for bit 14. */
  masqMark: string;
  /** The cluster CIDR in canonical form, when given. */
  localCidr: string | undefined;
}

/** Checks the shared options; a bad value throws `InvalidInput` naming it. */
export function resolveBackendOptions(options: BackendOptions): ResolvedBackendOptions {
  const family = options.family ?? "IPv4";
  if (family !== "IPv4" && family !== "IPv6")
    throw new NetrulesError("InvalidInput", `unknown family ${String(family)}`);
  const bit = options.masqueradeBit ?? 14;
  if (!Number.isInteger(bit) || bit < 0 || bit > 31)
    throw new NetrulesError("InvalidInput", `masqueradeBit ${bit} out of range 0-31`);
  let localCidr: string | undefined;
  if (options.clusterCIDR !== undefined) {
    const c = parseCidr(options.clusterCIDR);
    if (!c || c.family !== family)
      throw new NetrulesError(
        "InvalidInput",
        `clusterCIDR ${options.clusterCIDR} is not a valid ${family} CIDR`,
      );
    localCidr = c.text;
  }
  return { family, masqMark: `0x${(2 ** bit).toString(16)}`, localCidr };
}
