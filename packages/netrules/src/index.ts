export type { ConntrackCleaner, ConntrackFilter } from "./conntrack.js";
export { conntrackDeleteArgs, createConntrackCleaner, staleConntrackFilters } from "./conntrack.js";
export type { NetrulesErrorCode } from "./errors.js";
export { NetrulesError } from "./errors.js";
export type { CommandOptions, CommandResult } from "./exec.js";
export { runCommand } from "./exec.js";
export type { IPFamily } from "./ip.js";
export type {
  IptablesBackend,
  IptablesBackendOptions,
  IptablesJumpRule,
  IptablesSyncResult,
  SyncOptions,
} from "./iptables.js";
export {
  createIptablesBackend,
  endpointChainName,
  IPTABLES_CANARY_CHAIN,
  IPTABLES_JUMP_RULES,
  IPTABLES_KUBELET_JUMP_RULES,
  isServiceChainName,
  servicePortChainSuffix,
} from "./iptables.js";
export type {
  IptablesApplier,
  IptablesApplierOptions,
  IptablesProxier,
} from "./iptables-applier.js";
export { createIptablesApplier, createIptablesProxier } from "./iptables-applier.js";
export type { IptablesRuleset, TraceOutcome, TracePacket } from "./iptables-tracer.js";
export {
  applyRestorePayload,
  createIptablesRuleset,
  findDanglingJumps,
  traceIptables,
} from "./iptables-tracer.js";
export type { IpsetData, IpvsOptions, IpvsRealServer, IpvsState, IpvsVirtualServer } from "./ipvs.js";
export { buildIpvsState, IPVS_DUMMY_INTERFACE, ipsetRestoreText, ipvsadmRestoreText } from "./ipvs.js";
export type {
  EndpointModel,
  ModelError,
  Protocol,
  ProxyModel,
  ProxyModelInput,
  ProxyModelOptions,
  ServicePortModel,
} from "./model.js";
export { buildProxyModel, DEFAULT_AFFINITY_TIMEOUT_SECONDS, SERVICE_NAME_LABEL } from "./model.js";
export type { ProxyModelBuilder, ProxyModelBuilderOptions } from "./model-builder.js";
export { createProxyModelBuilder } from "./model-builder.js";
export type { NfacctCounter, NfacctEnsureResult } from "./nfacct.js";
export {
  ensureNfacctCounters,
  KUBE_PROXY_NFACCT_COUNTERS,
  NFACCT_CT_STATE_INVALID_DROPPED,
  NFACCT_LOCALHOST_NODEPORTS_ACCEPTED,
  parseNfacctList,
  readNfacctCounters,
} from "./nfacct.js";
export type {
  NftablesBackend,
  NftablesBackendOptions,
  NftablesSyncOptions,
  NftablesSyncResult,
  NftablesTableObjects,
} from "./nftables.js";
export { createNftablesBackend, nftEndpointChainBase, nftServiceChainBase } from "./nftables.js";
export type { NftablesApplier, NftablesApplierOptions, NftablesProxier } from "./nftables-applier.js";
export { createNftablesApplier, createNftablesProxier, NFT_CANARY_CHAIN } from "./nftables-applier.js";
export type { ProxierOptions, ProxierSyncReport } from "./proxier-loop.js";
export type { PayloadChunks } from "./text-blocks.js";
export type {
  EndpointLike,
  EndpointSliceLike,
  ObjectMetaLike,
  ServiceLike,
  ServicePortLike,
} from "./types.js";
