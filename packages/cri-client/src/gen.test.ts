import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("CRI proto", () => {
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
