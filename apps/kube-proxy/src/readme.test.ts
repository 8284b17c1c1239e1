import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { expect, it } from "vitest";

it("README example: the embedded proxy sees the Service and its endpoint", () => {
  const r = runReadmeExample(new URL("../", import.meta.url));
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^default\/web:http 10\.\d+\.\d+\.\d+:80 -> 1$/m);
});
