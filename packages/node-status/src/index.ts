export type { NodeEvent } from "./conditions.js";
export {
  aggregateMessages,
  nextCondition,
  PRESSURE_CONDITIONS,
  readyCondition,
  rfc3339,
} from "./conditions.js";
export type { NodeStatusErrorCode } from "./errors.js";
export { NodeStatusError } from "./errors.js";
export type { NodeEventSink } from "./events.js";
export { createApiEventSink } from "./events.js";
export type { HostAddressOptions, HostMachineInfoOptions } from "./host.js";
export {
  createHostAddressProvider,
  createHostMachineInfoProvider,
  defaultNodeName,
  goArch,
  goOs,
  readMemTotalBytes,
} from "./host.js";
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
export { computeNodeStatus, computeResources, reportedImages, statusChanged, statusPatch } from "./status.js";
export type {
  ContainerImage,
  Node,
  NodeAddress,
  NodeCondition,
  NodeStatus,
  NodeSystemInfo,
  Taint,
} from "./types.js";
