import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { describe, expect, it } from "vitest";

describe("README example", () => {
  it("registers the node and prints its capacity", () => {
    const r = runReadmeExample(new URL("../", import.meta.url));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("pods: '110'");
    expect(r.stdout).toContain("'nvidia.com/gpu': '4'");
  });
});
