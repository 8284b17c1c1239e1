import { createFakeClock } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { NetrulesError } from "./errors.js";
import { runCommand } from "./exec.js";

describe("runCommand", () => {
  it("writes chunks to stdin in order, through a pipe that fills up", async () => {
    // 8 MB in 200 chunks: far more than a pipe holds, so writing waits for the reader.
    const chunks = Array.from(
      { length: 200 },
      (_, i) => `${String(i).padStart(3, "0")}:${"x".repeat(40_000)}\n`,
    );
    const r = await runCommand(["cat"], chunks);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(chunks.join("").length);
    expect(r.stdout).toBe(chunks.join(""));
  });

  it("resolves with the exit status when the tool stops reading early", async () => {
    const chunks = Array.from({ length: 100 }, () => "y".repeat(100_000));
    const r = await runCommand(["sh", "-c", "head -c 10 >/dev/null; exit 3"], chunks);
    expect(r.code).toBe(3);
  });

  it("kills a tool that outlives its timeout (timed by the given clock) and fails with Timeout naming it", async () => {
    const clock = createFakeClock();
    let settled: unknown;
    const run = runCommand(["sleep", "600"], undefined, { timeoutMs: 60_000, clock }).then(
      () => (settled = "resolved"),
      (e: unknown) => (settled = e),
    );
    await clock.step(59_999);
    expect(settled).toBeUndefined();
    await clock.step(1);
    await run;
    expect(settled).toBeInstanceOf(NetrulesError);
    expect((settled as NetrulesError).code).toBe("Timeout");
    expect((settled as NetrulesError).message).toBe("sleep did not finish within 60000 ms");
  });
});
