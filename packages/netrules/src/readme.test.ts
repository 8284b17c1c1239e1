import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { describe, expect, it } from "vitest";

describe("README example", () => {
  it("builds a model and prints both payloads", () => {
    const r = runReadmeExample(new URL("../", import.meta.url));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("[]"); // no model errors
    expect(r.stdout).toContain('-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP"');
    expect(r.stdout).toMatch(/\d+ lines for `nft -f -`/);
  });
});
