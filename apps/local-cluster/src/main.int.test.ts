import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { canUseRealComponents } from "@kubenode/testkit";
import { describe, expect, it } from "vitest";

const real = await canUseRealComponents();
// The built binary, as users run it (turbo builds the app before its tests).
const main = join(import.meta.dirname, "..", "dist", "main.js");
const run = promisify(execFile);

describe.runIf(real)("kubenode-local-cluster demo", () => {
  it("brings the cluster up, shows each part working through kubectl and CRI, and tears down", async () => {
    const { stdout } = await run(process.execPath, [main, "demo"], { timeout: 240_000 });
    expect(stdout).toMatch(/\$ kube-node-lease\s+Active/);
    expect(stdout).toMatch(/\$ kubenode-1\s+Ready\s/);
    expect(stdout).toMatch(/MemoryPressure=False \(KubeletHasSufficientMemory\)/);
    expect(stdout).toMatch(/lease kube-node-lease\/kubenode-1: holder kubenode-1, duration 40s/);
    expect(stdout).toMatch(/GET http:\/\/[\d.]+:8080\/ -> hello from pod web/);
    expect(stdout).toMatch(/exec in container: web runs Linux \(exit 0\)/);
    expect(stdout).toMatch(/20 connections to [\d.]+:80 -> \d+x "hello from web\d"/);
    expect(stdout).toMatch(/nftables table ip kube-proxy in the node namespace: \d+ chains/);
    expect(stdout).toMatch(/^torn down:/m);
  });

  it("prints usage and exits 2 for an unknown command", async () => {
    const err = await run(process.execPath, [main, "bogus"]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stdout: string }).stdout).toMatch(/Usage: kubenode-local-cluster demo/);
  });
});
