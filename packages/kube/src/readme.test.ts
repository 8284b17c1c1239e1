import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { describe, expect, it } from "vitest";

describe("README example", () => {
  it("watches a node appear and reports a 404 as NotFound", () => {
    const r = runReadmeExample(new URL("../", import.meta.url));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("node added: n1");
    expect(r.stdout).toContain('NotFound GET /api/v1/nodes/nope: nodes "nope" not found');
  });
});
