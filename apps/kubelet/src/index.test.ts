// The package's runtime surface: a change here is a change to what users import.
import { expect, it } from "vitest";
import * as api from "./index.js";

it("exports exactly the documented values", () => {
  expect(Object.keys(api).sort()).toEqual([
    "ExecTimeoutError",
    "RuntimeStepError",
    "admitPod",
    "createCriRuntime",
    "createKubelet",
    "createNodeModule",
  ]);
});
