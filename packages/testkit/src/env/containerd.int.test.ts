import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Containerd, startContainerd } from "./containerd.js";
import { canUseRealComponents } from "./host-packages.js";
import { isProcessAlive, pidsWithCmdline } from "./processes.js";

const real = await canUseRealComponents([
  "containerd",
  "runc",
  "containernetworking-plugins",
  "umoci",
  "busybox-static",
]);

describe.runIf(real)("startContainerd", () => {
  let ctd: Containerd;
  beforeAll(async () => {
    ctd = await startContainerd();
  });
  afterAll(() => ctd?.stop());

  it("serves the CRI plugin on a private socket with the test images imported", async () => {
    expect(ctd.endpoint).toBe(`unix://${ctd.socketPath}`);
    const images = await ctd.ctr(["images", "ls", "-q"]);
    expect(images.split("\n")).toEqual(expect.arrayContaining([ctd.busyboxImage, ctd.sandboxImage]));
    const plugins = await ctd.ctr(["plugins", "ls"]);
    expect(plugins).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+.*ok/);
  });

  it("runs a container and reads its output back", async () => {
    const out = await ctd.ctr([
      "run",
      "--rm",
      ctd.busyboxImage,
      `hello-${process.pid}`,
      "sh",
      "-c",
      "echo hello from $(uname -s)",
    ]);
    expect(out.trim()).toBe("hello from Linux");
  });

  it("keeps running containers across a containerd restart", async () => {
    const id = `survivor-${process.pid}`;
    await ctd.ctr(["run", "-d", ctd.busyboxImage, id, "sleep", "600"]);
    await ctd.restart();
    const tasks = await ctd.ctr(["tasks", "ls"]);
    expect(tasks).toMatch(new RegExp(`${id}\\s+\\d+\\s+RUNNING`));
  });

  it("removes every process, mount, bridge and file on stop", async () => {
    const other = await startContainerd();
    await other.ctr(["run", "-d", other.busyboxImage, "left-running", "sleep", "600"]);
    const pid = Number(/left-running\s+(\d+)/.exec(await other.ctr(["tasks", "ls"]))?.[1]);
    expect(isProcessAlive(pid)).toBe(true);
    await other.stop();
    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync("/sys/fs/cgroup/pids/k8s.io/left-running")).toBe(false);
    expect(pidsWithCmdline(other.socketPath)).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(other.dir);
    expect(existsSync(other.dir)).toBe(false);
    expect(execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" })).not.toContain(
      `${other.bridge}:`,
    );
  });
});
