// @kubenode/netrules: Services + EndpointSlices -> a proxy model -> iptables / nftables / IPVS
// payloads, and the appliers and proxiers that program a node. Test helpers are in
// `@kubenode/netrules/testing`, lower-level building blocks in `@kubenode/netrules/internals`.
export type { BackendOptions } from "./backend-options.js";
export type { ConntrackCleaner, ConntrackFilter } from "./conntrack.js";
export { createConntrackCleaner, staleConntrackFilters } from "./conntrack.js";
export type { NetrulesErrorCode } from "./errors.js";
export { NetrulesError } from "./errors.js";
export type { CommandOptions } from "./exec.js";
export type { IPFamily } from "./ip.js";
export type { IptablesBackend, IptablesBackendOptions, IptablesSyncResult, SyncOptions } from "./iptables.js";
export { createIptablesBackend } from "./iptables.js";
export type {
  IptablesApplier,
  IptablesApplierOptions,
  IptablesProxier,
} from "./iptables-applier.js";
export { createIptablesApplier, createIptablesProxier } from "./iptables-applier.js";
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
  readNfacctCounters,
} from "./nfacct.js";
export type {
  NftablesBackend,
  NftablesBackendOptions,
  NftablesSyncOptions,
  NftablesSyncResult,
  NftablesTableObjects,
} from "./nftables.js";
export { createNftablesBackend } from "./nftables.js";
export type { NftablesApplier, NftablesApplierOptions, NftablesProxier } from "./nftables-applier.js";
export { createNftablesApplier, createNftablesProxier } from "./nftables-applier.js";
export type { ProxierOptions, ProxierSyncReport } from "./proxier-loop.js";
export type { PayloadChunks } from "./text-blocks.js";
export type {
  EndpointLike,
  EndpointSliceLike,
  ObjectMetaLike,
  ServiceLike,
  ServicePortLike,
} from "./types.js";
