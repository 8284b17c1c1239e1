// @kubenode/netrules/internals: building blocks under the backends, appliers and proxiers, for
// advanced users (a custom applier, a cleanup tool, a rule inspector). Less stable than the main
// entry: a minor version may change them.

// The conntrack(8) arguments of one stale-entry filter.
export { conntrackDeleteArgs } from "./conntrack.js";
// Running the rule tools: argument arrays, payload on stdin, never a shell.
export type { CommandResult } from "./exec.js";
export { runCommand } from "./exec.js";
// Chain names (upstream's hashing) and the base chains and jumps the appliers own.
export type { IptablesJumpRule } from "./iptables.js";
export {
  endpointChainName,
  IPTABLES_CANARY_CHAIN,
  IPTABLES_JUMP_RULES,
  IPTABLES_KUBELET_JUMP_RULES,
  isServiceChainName,
  servicePortChainSuffix,
} from "./iptables.js";
// `nfacct list` output as counters.
export { parseNfacctList } from "./nfacct.js";
export { nftEndpointChainBase, nftServiceChainBase } from "./nftables.js";
export { NFT_CANARY_CHAIN } from "./nftables-applier.js";
