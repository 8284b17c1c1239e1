import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MAIN } from "./rig.js";

const dir = mkdtempSync(join(tmpdir(), "kubenode-proxy-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function proxy(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("kubenode-proxy command line", () => {
  it("prints --version and --help", () => {
    expect(proxy("--version")).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("kubenode-proxy v"),
    });
    const help = proxy("--help");
    expect(help.code).toBe(0);
    for (const flag of [
      "--kubeconfig",
      "--hostname-override",
      "--proxy-mode",
      "--cluster-cidr",
      "--masquerade-all",
      "--nodeport-addresses",
      "--healthz-bind-address",
      "--metrics-bind-address",
      "--iptables-sync-period",
      "--conntrack-max-per-core",
      "--cleanup",
      "--config",
    ])
      expect(help.stdout).toContain(flag);
  });

  it("exits 2 naming the flag or field of an invalid configuration", () => {
    const bad = proxy("--proxy-mode=userspace");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('mode: must be one of "iptables", "nftables", "ipvs", got "userspace"');
    expect(proxy("--iptables-sync-period=often")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("invalid argument for --iptables-sync-period"),
    });
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nnftables:\n  minSyncPeriod: 1m\n  syncPeriod: 30s\nmode: nftables\n",
    );
    const r = proxy(`--config=${file}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "nftables.syncPeriod: must be greater than or equal to nftables.minSyncPeriod",
    );
    expect(proxy("--no-such-flag")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown flag: --no-such-flag"),
    });
  });

  it("writes the effective configuration with --write-config-to, which loads back", () => {
    const out = join(dir, "written.yaml");
    expect(
      proxy("--proxy-mode=nftables", "--cluster-cidr=10.244.0.0/16", `--write-config-to=${out}`).code,
    ).toBe(0);
    const doc = parse(readFileSync(out, "utf8"));
    expect(doc).toMatchObject({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "nftables",
      clusterCIDR: "10.244.0.0/16",
    });
    expect(doc.iptables.syncPeriod).toBe("30s");
    expect(proxy(`--config=${out}`, "--version").code).toBe(0);
  });

  it("exits 1 with a clear message when the kubeconfig is unusable", () => {
    const r = proxy(
      `--kubeconfig=${join(dir, "missing-kubeconfig")}`,
      "--healthz-bind-address=",
      "--metrics-bind-address=",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("missing-kubeconfig");
  });
});
