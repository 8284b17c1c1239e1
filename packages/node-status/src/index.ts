// @kubenode/node-status: Node registration and status, as a kubelet reports them. The pieces of the
// status computation and the host readers behind the providers are in `@kubenode/node-status/internals`.
export type { NodeEvent } from "./conditions.js";
export { PRESSURE_CONDITIONS } from "./conditions.js";
export type { NodeStatusErrorCode } from "./errors.js";
export { NodeStatusError } from "./errors.js";
export type { NodeEventSink } from "./events.js";
export { createApiEventSink } from "./events.js";
export type { HostAddressOptions, HostMachineInfoOptions } from "./host.js";
export { createHostAddressProvider, createHostMachineInfoProvider, defaultNodeName } from "./host.js";
export type {
  AddressProvider,
  ImageProvider,
  MachineInfo,
  MachineInfoProvider,
  NodePressure,
  NodeStatusProviders,
  PressureProvider,
  ReadinessCheck,
  RuntimeCondition,
  RuntimeInfoProvider,
} from "./providers.js";
export type { RegistrationOptions } from "./registration.js";
export { buildInitialNode, defaultNodeLabels, registerNode } from "./registration.js";
export type { NodeStatusReporter, NodeStatusReporterOptions } from "./reporter.js";
export {
  createNodeStatusReporter,
  NODE_STATUS_REPORT_FREQUENCY_MS,
  NODE_STATUS_UPDATE_FREQUENCY_MS,
  NODE_STATUS_UPDATE_RETRY,
} from "./reporter.js";
export type { NodeStatusConfig, ReservedResources, RuntimeState, StatusInputs } from "./status.js";
export { computeNodeStatus } from "./status.js";
export type {
  ContainerImage,
  Node,
  NodeAddress,
  NodeCondition,
  NodeStatus,
  NodeSystemInfo,
  Taint,
} from "./types.js";
