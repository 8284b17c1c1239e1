import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { canUseRealComponents } from "@kubenode/testkit";
import { describe, expect, it } from "vitest";

const real = await canUseRealComponents();
const main = join(import.meta.dirname, "main.ts");

describe.runIf(real)("kubenode-local-cluster demo", () => {
  it("runs a container pulled from the private registry and carries traffic, then tears down", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [main, "demo"], { timeout: 240_000 });
    expect(stdout).toMatch(/container said: hello from a container on Linux/);
    expect(stdout).toMatch(/answered: pong/);
    expect(stdout).toMatch(/torn down:/);
  });

  it("prints usage and exits 2 for an unknown command", async () => {
    const err = await promisify(execFile)(process.execPath, [main, "bogus"]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stdout: string }).stdout).toMatch(/Usage: kubenode-local-cluster demo/);
  });
});
