import { NodeStatusError } from "./errors.js";
import type { NodeStatusProviders } from "./providers.js";
import type { RuntimeState, StatusInputs } from "./status.js";

/** Tracks runtime health between computations (first success, last success). */
export interface RuntimeTracker {
  everSynced: boolean;
}

/**
 * Asks every provider for its part. Machine info and addresses are required (a failure throws);
 * runtime, pressure, images and readiness checks degrade into Ready=False messages or are left out.
 */
export async function gatherInputs(
  providers: Required<Pick<NodeStatusProviders, "machine" | "addresses">> & NodeStatusProviders,
  tracker: RuntimeTracker,
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
    } catch {
      runtime = tracker.everSynced ? { kind: "down" } : { kind: "never-synced" };
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
