// A containerd whose pod network lives in a network namespace (a "node"), not on the host. Pods on
// that network are exercised end to end by the local cluster demo (apps/local-cluster).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startContainerd } from "./containerd.js";
import { canUseRealComponents } from "./host-packages.js";
import { createNetworkLab } from "./netns.js";
import { pidsWithCmdline } from "./processes.js";

const real = await canUseRealComponents([
  "containerd",
  "runc",
  "containernetworking-plugins",
  "iproute2",
  "umoci",
  "busybox-static",
]);
const hostLinks = () => execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });

describe.runIf(real)("startContainerd in a network namespace", () => {
  it("runs the daemon in that namespace with the given pod subnet, and removes everything on stop", async () => {
    const lab = await createNetworkLab({ hosts: ["node"] });
    try {
      const node = lab.host("node");
      const ctd = await startContainerd({ netns: node.netns, podSubnet: "10.244.7.0/24" });
      try {
        expect(ctd.netns).toBe(node.netns);
        expect(ctd.podSubnet).toBe("10.244.7.0/24");
        // The daemon (so every CNI plugin it runs) is in the node's network namespace.
        const [daemon] = pidsWithCmdline(join(ctd.dir, "config.toml"));
        expect(statSync(`/proc/${daemon}/ns/net`).ino).toBe(statSync(`/run/netns/${node.netns}`).ino);
        const conf = JSON.parse(readFileSync(join(ctd.dir, "cni", "net.d", "10-kubenode.conflist"), "utf8"));
        expect(conf.plugins[0].ipam.ranges).toEqual([[{ subnet: "10.244.7.0/24" }]]);
        expect(await ctd.ctr(["version"])).toContain("Server:");
      } finally {
        await ctd.stop();
      }
      expect(pidsWithCmdline(ctd.dir)).toEqual([]);
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(ctd.dir);
      expect(existsSync(ctd.dir)).toBe(false);
      expect(hostLinks()).not.toContain(`${ctd.bridge}:`);
    } finally {
      await lab.destroy();
    }
  });

  it("refuses a bad namespace name, a missing namespace and a bad subnet, naming them", async () => {
    await expect(startContainerd({ netns: "../etc" })).rejects.toThrow(
      /invalid network namespace name "..\/etc"/,
    );
    await expect(startContainerd({ netns: `kn-none-${process.pid}` })).rejects.toThrow(
      /no network namespace "kn-none-\d+" in \/run\/netns/,
    );
    await expect(startContainerd({ podSubnet: "10.244.1.0/31" })).rejects.toThrow(
      /invalid podSubnet "10.244.1.0\/31"/,
    );
  });
});
