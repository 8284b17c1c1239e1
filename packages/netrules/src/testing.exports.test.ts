// The public surface of @kubenode/netrules/testing: changes only on purpose (update the list and add a changeset).
import { publicSurface } from "@kubenode/vitest-config/exports";
import { expect, it } from "vitest";
import * as entry from "./testing.js";

it("exports exactly the reviewed names", () => {
  expect(publicSurface(new URL("./testing.ts", import.meta.url), entry)).toEqual(EXPECTED);
});

const EXPECTED: string[] = [
  "applyRestorePayload",
  "createIptablesRuleset",
  "findDanglingJumps",
  "type IptablesRuleset",
  "traceIptables",
  "type TraceOutcome",
  "type TracePacket",
];
