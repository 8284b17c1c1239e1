import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { describe, expect, it } from "vitest";

describe("README example", () => {
  it("creates a pod with client-node, survives a suspend/resume and stops cleanly", () => {
    const r = runReadmeExample(new URL("../", import.meta.url));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
