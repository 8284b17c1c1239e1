// The public surface of @kubenode/heartbeat: changes only on purpose (update the list and add a changeset).
import { publicSurface } from "@kubenode/vitest-config/exports";
import { expect, it } from "vitest";
import * as entry from "./index.js";

it("exports exactly the reviewed names", () => {
  expect(publicSurface(new URL("./index.ts", import.meta.url), entry)).toEqual(EXPECTED);
});

const EXPECTED: string[] = [
  "createLeaseController",
  "createLeaseFleet",
  "DEFAULT_LEASE_DURATION_SECONDS",
  "HeartbeatError",
  "type HeartbeatErrorCode",
  "isLeaseFresh",
  "type Lease",
  "type LeaseController",
  "type LeaseControllerOptions",
  "type LeaseFleet",
  "leaseFleetMetrics",
  "type LeaseFleetOptions",
  "type LeaseFleetSummary",
  "type LeaseHealth",
  "leaseHealthMetrics",
  "MAX_UPDATE_RETRIES",
  "microTime",
  "NODE_LEASE_NAMESPACE",
  "RENEW_INTERVAL_FRACTION",
  "RENEW_INTERVAL_JITTER",
];
