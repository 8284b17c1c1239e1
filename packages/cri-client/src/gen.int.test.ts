import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canUseRealComponents } from "@kubenode/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { generate, listFiles } from "../scripts/generate.js";

// The generator runs Debian's protoc: installed here when missing (as root), and a failure naming
// the package under CI when it cannot be.
const real = await canUseRealComponents(["protobuf-compiler"]);

describe.runIf(real)("generated code", () => {
  const fresh = mkdtempSync(join(tmpdir(), "kn-cri-gen-"));
  afterAll(() => rmSync(fresh, { recursive: true, force: true }));

  it("src/gen matches what `npm run generate` produces from proto/ (run it after editing the .proto)", () => {
    generate(fresh);
    const committed = join(import.meta.dirname, "gen");
    expect(listFiles(committed)).toEqual(listFiles(fresh));
    for (const file of listFiles(fresh)) {
      const stale = readFileSync(join(committed, file), "utf8") !== readFileSync(join(fresh, file), "utf8");
      expect(stale, `src/gen/${file} is stale: run \`npm run generate\` in packages/cri-client`).toBe(false);
    }
  });
});
