import { describe, expect, it } from "vitest";
import { gatherInputs, RUNTIME_SYNC_THRESHOLD_MS, type RuntimeTracker } from "./gather.js";
import type { MachineInfo } from "./providers.js";

const machine: MachineInfo = {
  cpuCores: 2,
  memoryBytes: 2 ** 30,
  hugePagesBytes: {},
  machineID: "m",
  systemUUID: "u",
  bootID: "b",
  kernelVersion: "6.1.0",
  osImage: "Test OS",
  operatingSystem: "linux",
  architecture: "amd64",
  ephemeralStorageBytes: 2 ** 34,
};
const ready = [
  { type: "RuntimeReady", status: true },
  { type: "NetworkReady", status: true },
];

describe("runtime state between status calls (upstream baseRuntimeSyncThreshold)", () => {
  it("keeps the last answer for 30 s after the runtime stops answering, then reports it down", async () => {
    let up = true;
    const providers = {
      machine: { machineInfo: async () => machine },
      addresses: { addresses: async () => [] },
      runtime: {
        status: async () => {
          if (!up) throw new Error("connection refused");
          return { conditions: ready };
        },
        version: async () => ({ name: "containerd", version: "1.6.20" }),
      },
    };
    const tracker: RuntimeTracker = { everSynced: false };
    const at = (ms: number) => gatherInputs(providers, tracker, ms).then((i) => i.runtime);

    up = false;
    expect(await at(0)).toEqual({ kind: "never-synced" });
    up = true;
    expect(await at(1_000)).toEqual({ kind: "ok", conditions: ready });
    up = false;
    expect(await at(1_000 + RUNTIME_SYNC_THRESHOLD_MS - 1)).toEqual({ kind: "ok", conditions: ready });
    expect(await at(1_000 + RUNTIME_SYNC_THRESHOLD_MS)).toEqual({ kind: "down" });
    up = true;
    expect(await at(40_000)).toEqual({ kind: "ok", conditions: ready });
  });
});
