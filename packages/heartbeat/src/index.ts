export type { HeartbeatErrorCode } from "./errors.js";
export { HeartbeatError } from "./errors.js";
export type { LeaseHealth } from "./health.js";
export { isLeaseFresh } from "./health.js";
export type { Lease } from "./lease.js";
export {
  DEFAULT_LEASE_DURATION_SECONDS,
  MAX_UPDATE_RETRIES,
  microTime,
  NODE_LEASE_NAMESPACE,
  RENEW_INTERVAL_FRACTION,
  RENEW_INTERVAL_JITTER,
} from "./lease.js";
export type { LeaseController, LeaseControllerOptions } from "./lease-controller.js";
export { createLeaseController } from "./lease-controller.js";
export type { LeaseFleet, LeaseFleetOptions, LeaseFleetSummary } from "./lease-fleet.js";
export { createLeaseFleet } from "./lease-fleet.js";
export { leaseFleetMetrics, leaseHealthMetrics } from "./metrics.js";
