import { NodeStatusError } from "./errors.js";
import type { NodeStatusProviders, RuntimeCondition } from "./providers.js";
import type { RuntimeState, StatusInputs } from "./status.js";

/**
 * How long a runtime that stopped answering still counts as up: upstream's
 * baseRuntimeSyncThreshold (pkg/kubelet/runtime.go), so one slow or failed status call does not
 * flip the node to NotReady.
 */
export const RUNTIME_SYNC_THRESHOLD_MS = 30_000;

/** Tracks runtime health between computations (last successful status call and what it said). */
export interface RuntimeTracker {
  everSynced: boolean;
  /** When the runtime last answered its status call, in ms. */
  lastSyncMs?: number;
  /** The conditions it reported then. */
  lastConditions?: RuntimeCondition[];
}

/**
 * Asks every provider for its part. Machine info and addresses are required (a failure throws);
 * runtime, pressure, images and readiness checks degrade into Ready=False messages or are left out.
 */
export async function gatherInputs(
  providers: Required<Pick<NodeStatusProviders, "machine" | "addresses">> & NodeStatusProviders,
  tracker: RuntimeTracker,
  nowMs: number,
): Promise<StatusInputs> {
  const [machine, addresses] = await Promise.all([
    providers.machine.machineInfo().catch((err: unknown) => {
      throw new NodeStatusError("ProviderFailed", `machine info provider failed: ${(err as Error).message}`, {
        cause: err,
      });
    }),
    providers.addresses.addresses().catch((err: unknown) => {
      throw new NodeStatusError("ProviderFailed", `address provider failed: ${(err as Error).message}`, {
        cause: err,
      });
    }),
  ]);
  let runtime: RuntimeState | undefined;
  let runtimeVersion: StatusInputs["runtimeVersion"];
  if (providers.runtime) {
    try {
      const st = await providers.runtime.status();
      runtime = { kind: "ok", conditions: st.conditions };
      tracker.everSynced = true;
      tracker.lastSyncMs = nowMs;
      tracker.lastConditions = st.conditions;
    } catch {
      if (!tracker.everSynced) runtime = { kind: "never-synced" };
      else if (
        tracker.lastSyncMs !== undefined &&
        tracker.lastConditions &&
        nowMs - tracker.lastSyncMs < RUNTIME_SYNC_THRESHOLD_MS
      )
        // Within the threshold the last answer stands, as upstream's runtimeState does.
        runtime = { kind: "ok", conditions: tracker.lastConditions };
      else runtime = { kind: "down" };
    }
    runtimeVersion = await providers.runtime.version().catch(() => undefined);
  }
  const pressure = providers.pressure
    ? await providers.pressure.pressure().catch(() => ({ memory: false, disk: false, pid: false }))
    : { memory: false, disk: false, pid: false };
  const images = providers.images ? await providers.images.listImages().catch(() => undefined) : undefined;
  const readinessErrors: string[] = [];
  for (const check of providers.readinessChecks ?? []) {
    try {
      const msg = await check();
      if (msg) readinessErrors.push(msg);
    } catch (err) {
      readinessErrors.push(`readiness check failed: ${(err as Error).message}`);
    }
  }
  const extendedResources = providers.extendedResources ? await providers.extendedResources() : {};
  return {
    machine,
    addresses,
    runtime,
    runtimeVersion,
    pressure,
    images,
    readinessErrors,
    extendedResources,
  };
}
