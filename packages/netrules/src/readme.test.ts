import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The README's first example, run as a user would run it, against the built package.
describe("README example", () => {
  it("runs and prints both payloads", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, "a ```ts block in README.md").toBeDefined();
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const code = example!.replace('from "@kubenode/netrules"', `from ${JSON.stringify(dist)}`);
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("[]"); // no model errors
    expect(r.stdout).toContain('-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP"');
    expect(r.stdout).toMatch(/\d+ lines for `nft -f -`/);
  });
});
