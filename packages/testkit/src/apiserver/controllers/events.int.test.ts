import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findResource } from "../resources.js";
import { type ApiServer, startApiServer } from "../server.js";
import type { KubeObject } from "../types.js";
import { eventRecorder } from "./context.js";

// Controllers record events with the simulator's clock, which a test may hold still while many
// events happen: every one of them must be stored under its own name.

const T = Date.parse("2026-03-02T10:00:00Z");
const events = findResource("", "v1", "events")!;
const configMaps = findResource("", "v1", "configmaps")!;
let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer({ clock: { now: () => T } });
});
afterAll(async () => {
  await server?.stop();
});

describe("controller events", () => {
  it("keeps every event recorded at one instant, each under a name of the upstream shape", () => {
    const record = eventRecorder(server.core);
    const subject = { metadata: { name: "still", namespace: "default", uid: "u-1" } } as KubeObject;
    for (let i = 0; i < 500; i++) record(subject, "Normal", "Tick", `tick ${i}`, "test", "", configMaps);
    const stored = server.storage
      .list(events.key, "default")
      .filter((e) => e.involvedObject?.name === "still")
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    expect(stored.map((e) => e.message)).toEqual(Array.from({ length: 500 }, (_, i) => `tick ${i}`));
    // <name>.<UnixNano in hex>, as upstream's recorder names them
    expect(stored[0]?.metadata.name).toBe(`still.${(BigInt(T) * 1_000_000n).toString(16)}`);
    expect(stored[0]?.involvedObject).toMatchObject({ kind: "ConfigMap", name: "still", uid: "u-1" });
  });
});
