import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Container, Pod } from "../api.js";
import { cgroupParentName, podCgroupName, podCgroupParent, sweepPodCgroups } from "./pod-cgroups.js";

const UID = "0f1e2d3c-aaaa-bbbb-cccc-000000000001";
const pod = (c: Container, uid = UID): Pod => ({
  metadata: { name: "p", namespace: "ns", uid },
  spec: { containers: [c] },
});
const guaranteed = pod({ name: "g", resources: { limits: { cpu: "1", memory: "1Gi" } } });
const burstable = pod({ name: "b", resources: { requests: { cpu: "100m" } } });
const besteffort = pod({ name: "e" });

describe("pod cgroups", () => {
  it("names the pod cgroup under its QoS tier for each driver (cm's CgroupName.ToCgroupfs/ToSystemd)", () => {
    expect(podCgroupParent(guaranteed, { driver: "cgroupfs" })).toBe(`/kubepods/pod${UID}`);
    expect(podCgroupParent(burstable, { driver: "cgroupfs" })).toBe(`/kubepods/burstable/pod${UID}`);
    expect(podCgroupParent(besteffort, { driver: "cgroupfs", root: "/custom/" })).toBe(
      `/custom/kubepods/besteffort/pod${UID}`,
    );
    const escaped = UID.replaceAll("-", "_");
    expect(podCgroupParent(burstable, { driver: "systemd" })).toBe(
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${escaped}.slice`,
    );
    expect(podCgroupParent(guaranteed, { driver: "systemd" })).toBe(
      `/kubepods.slice/kubepods-pod${escaped}.slice`,
    );
    expect(cgroupParentName([], "systemd")).toBe("/");
  });

  it("refuses UIDs and roots that are not plain names", () => {
    expect(() => podCgroupName(pod({ name: "x" }, "../../etc"))).toThrow(/cannot name a cgroup/);
    expect(() => podCgroupName(burstable, "/a/../b")).toThrow(/not a valid cgroup name/);
  });

  describe("sweep", () => {
    let fs: string;
    beforeEach(async () => {
      fs = await mkdtemp(join(tmpdir(), "kubenode-cgroups-"));
    });
    afterEach(async () => {
      await rm(fs, { recursive: true, force: true });
    });

    it("removes pod cgroups of pods not kept, in every hierarchy, and leaves busy ones", async () => {
      const kept = "11111111-1111-1111-1111-111111111111";
      const gone = "22222222-2222-2222-2222-222222222222";
      const busy = "33333333-3333-3333-3333-333333333333";
      for (const h of ["memory", "cpu,cpuacct"]) {
        await mkdir(join(fs, h, "r/kubepods/burstable", `pod${kept}`), { recursive: true });
        await mkdir(join(fs, h, "r/kubepods/besteffort", `pod${gone}`), { recursive: true });
        await mkdir(join(fs, h, "r/kubepods", `pod${busy}`), { recursive: true });
      }
      // A cgroup with a child (a container) cannot be removed.
      await mkdir(join(fs, "memory/r/kubepods", `pod${busy}`, "ctr"));
      await writeFile(join(fs, "memory/r/kubepods/not-a-pod"), "");
      const removed = await sweepPodCgroups(new Set([kept]), { driver: "cgroupfs", root: "/r" }, fs);
      expect(removed).toEqual([gone]);
      expect(await readdir(join(fs, "memory/r/kubepods/besteffort"))).toEqual([]);
      expect(await readdir(join(fs, "cpu,cpuacct/r/kubepods/burstable"))).toEqual([`pod${kept}`]);
      expect(await readdir(join(fs, "memory/r/kubepods"))).toContain(`pod${busy}`);
      expect(await sweepPodCgroups(new Set(), { driver: "systemd" }, fs)).toEqual([]);
    });
  });
});
