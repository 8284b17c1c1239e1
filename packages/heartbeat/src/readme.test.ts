import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { describe, expect, it } from "vitest";

describe("README example", () => {
  it("writes the node's lease and reports a healthy controller", () => {
    const r = runReadmeExample(new URL("../", import.meta.url));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("holderIdentity: 'node-a'");
    expect(r.stdout).toContain("leaseDurationSeconds: 40");
    expect(r.stdout).toContain("consecutiveFailures: 0");
  });
});
