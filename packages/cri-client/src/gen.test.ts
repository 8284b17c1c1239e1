import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generate, listFiles } from "../scripts/generate.js";

describe("generated code", () => {
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

  it("declares every CRI v1 RPC: 37 RuntimeService + 6 ImageService", () => {
    const proto = readFileSync(
      join(import.meta.dirname, "..", "proto", "runtime", "v1", "api.proto"),
      "utf8",
    );
    const services = proto.split(/^service /m).slice(1);
    const rpcs = services.map((s) => (s.match(/^\s+rpc \w+\(/gm) ?? []).length);
    expect(rpcs).toEqual([37, 6]);
  });
});
