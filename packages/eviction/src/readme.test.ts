import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { describe, expect, it } from "vitest";

describe("README example", () => {
  it("observes this host's signals, reports node conditions and admits a pod", () => {
    const r = runReadmeExample(new URL("../", import.meta.url));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^memory\.available \d+ \/ \d+$/m);
    expect(r.stdout).toMatch(/^pid\.available \d+ \/ \d+$/m);
    expect(r.stdout).toMatch(/MemoryPressure=(False|True) \(/);
    expect(r.stdout).toContain("admit:");
  });
});
