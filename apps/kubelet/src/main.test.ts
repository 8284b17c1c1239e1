import { describe, expect, it } from "vitest";
import { resolveKubeletConfig } from "./config/index.js";
import { main, nodeModuleConfig } from "./main.js";

function io() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      stdout: (s: string) => {
        out.stdout += s;
      },
      stderr: (s: string) => {
        out.stderr += s;
      },
    },
  };
}

describe("main", () => {
  it("prints usage on --help and the version on --version, exit 0", async () => {
    const help = io();
    expect(await main(["--help"], help.io)).toBe(0);
    expect(help.out.stdout).toContain("Usage:\n  kubenode-kubelet [flags]");
    expect(help.out.stderr).toBe("");
    const version = io();
    expect(await main(["--version"], version.io)).toBe(0);
    expect(version.out.stdout).toMatch(/^kubenode-kubelet v\d+\.\d+\.\d+\n$/);
  });

  it('prints a bad flag as upstream\'s "command failed" record and exits 1', async () => {
    const r = io();
    expect(await main(["--max-pods"], r.io)).toBe(1);
    expect(r.out.stderr).toMatch(
      /^E\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ kubelet\] "command failed" err="failed to parse kubelet flag: flag needs an argument: --max-pods"\nRun 'kubenode-kubelet --help' for usage\.\n$/,
    );
  });
});

describe("nodeModuleConfig", () => {
  it("maps the resolved configuration onto the node module, durations in ms", async () => {
    const cmd = await resolveKubeletConfig(
      [
        "--max-pods=42",
        "--register-node=false",
        "--register-with-taints=a=b:NoSchedule",
        "--node-labels=zone=z1",
        "--node-ip=10.1.2.3",
        "--root-dir=/srv/kubelet",
        "--eviction-hard=memory.available<300Mi",
        "--eviction-soft=memory.available<1Gi",
        "--eviction-soft-grace-period=memory.available=1m30s",
        "--allowed-unsafe-sysctls=kernel.msg*,net.core.somaxconn",
      ],
      { hostname: () => "h" },
    );
    if (cmd.action !== "run") throw new Error("expected run");
    expect(nodeModuleConfig(cmd.resolved, "v9.9.9")).toEqual({
      maxPods: 42,
      registerNode: false,
      registerWithTaints: [{ key: "a", value: "b", effect: "NoSchedule" }],
      nodeLabels: { zone: "z1" },
      nodeIPs: ["10.1.2.3"],
      kubeReserved: {},
      systemReserved: {},
      eviction: {
        evictionHard: { "memory.available": "300Mi" },
        evictionSoft: { "memory.available": "1Gi" },
        evictionSoftGracePeriod: { "memory.available": "1m30s" },
        evictionMinimumReclaim: {},
        mergeDefaultEvictionSettings: false,
        enforceNodeAllocatable: ["pods"],
      },
      evictionPressureTransitionPeriodMs: 300_000,
      evictionMaxPodGracePeriodSeconds: 0,
      localStorageCapacityIsolation: true,
      nodeStatusUpdateFrequencyMs: 10_000,
      nodeStatusReportFrequencyMs: 300_000,
      nodeLeaseDurationSeconds: 40,
      nodeStatusMaxImages: 50,
      kubeletVersion: "v9.9.9",
      kubeletPort: 10250,
      rootDir: "/srv/kubelet",
      allowedUnsafeSysctls: ["kernel.msg*", "net.core.somaxconn"],
    });
  });
});
