// The public surface of @kubenode/node-status: changes only on purpose (update the list and add a changeset).
import { publicSurface } from "@kubenode/vitest-config/exports";
import { expect, it } from "vitest";
import * as entry from "./index.js";

it("exports exactly the reviewed names", () => {
  expect(publicSurface(new URL("./index.ts", import.meta.url), entry)).toEqual(EXPECTED);
});

const EXPECTED: string[] = [
  "type AddressProvider",
  "buildInitialNode",
  "computeNodeStatus",
  "type ContainerImage",
  "createApiEventSink",
  "createHostAddressProvider",
  "createHostMachineInfoProvider",
  "createNodeStatusReporter",
  "defaultNodeLabels",
  "defaultNodeName",
  "type HostAddressOptions",
  "type HostMachineInfoOptions",
  "type ImageProvider",
  "type MachineInfo",
  "type MachineInfoProvider",
  "type Node",
  "NODE_STATUS_REPORT_FREQUENCY_MS",
  "NODE_STATUS_UPDATE_FREQUENCY_MS",
  "NODE_STATUS_UPDATE_RETRY",
  "type NodeAddress",
  "type NodeCondition",
  "type NodeEvent",
  "type NodeEventSink",
  "type NodePressure",
  "type NodeStatus",
  "type NodeStatusConfig",
  "NodeStatusError",
  "type NodeStatusErrorCode",
  "type NodeStatusProviders",
  "type NodeStatusReporter",
  "type NodeStatusReporterOptions",
  "type NodeSystemInfo",
  "PRESSURE_CONDITIONS",
  "type PressureProvider",
  "type ReadinessCheck",
  "registerNode",
  "type RegistrationOptions",
  "type ReservedResources",
  "type RuntimeCondition",
  "type RuntimeInfoProvider",
  "type RuntimeState",
  "type StatusInputs",
  "type Taint",
];
