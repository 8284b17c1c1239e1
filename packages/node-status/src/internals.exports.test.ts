// The public surface of @kubenode/node-status/internals: changes only on purpose (update the list and add a changeset).
import { publicSurface } from "@kubenode/vitest-config/exports";
import { expect, it } from "vitest";
import * as entry from "./internals.js";

it("exports exactly the reviewed names", () => {
  expect(publicSurface(new URL("./internals.ts", import.meta.url), entry)).toEqual(EXPECTED);
});

const EXPECTED: string[] = [
  "aggregateMessages",
  "computeResources",
  "goArch",
  "goOs",
  "nextCondition",
  "readMemTotalBytes",
  "readyCondition",
  "reportedImages",
  "rfc3339",
  "statusChanged",
  "statusPatch",
];
