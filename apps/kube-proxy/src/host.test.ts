import { describe, expect, it } from "vitest";
import { runQuiet, runWithInput } from "./host.js";

describe("external commands", () => {
  it("runs a command with its input and reports its exit code", async () => {
    expect(await runWithInput(["sh", "-c", 'read x; test "$x" = ok'], "ok\n")).toEqual({
      code: 0,
      stderr: "",
    });
    expect(await runQuiet(["sh", "-c", "exit 3"])).toBe(3);
  });

  it("kills a command that hangs instead of waiting for it (a hung nft must not stall syncs)", async () => {
    expect(await runWithInput(["sleep", "60"], "", 200)).toEqual({
      code: -1,
      stderr: "sleep 60 did not finish within 200 ms",
    });
    expect(await runQuiet(["sleep", "60"], 200)).toBe(-1);
  });
});
