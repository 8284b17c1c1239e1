// sweepStaleInstances() and directories made with createInstanceDir() for processes a test starts.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exited, run, waitFor } from "./exec.js";
import { canUseRealComponents } from "./host-packages.js";
import { createInstanceDir } from "./paths.js";
import { isProcessAlive, mountsUnder, pidsWithCmdline, unmountLazily } from "./processes.js";
import { sweepStaleInstances } from "./sweep.js";

const real = await canUseRealComponents(["iproute2"]);
// The built package, as a user's owner process would import it (turbo builds before tests).
const dist = join(import.meta.dirname, "..", "..", "dist", "index.js");

describe("createInstanceDir", () => {
  it("refuses kinds that are not lower-case words or that have sweeps of their own", async () => {
    for (const kind of ["", "Kubelet", "kube-let", "../x", "containerd", "lab"])
      await expect(createInstanceDir(kind)).rejects.toThrow(/invalid instance kind/);
  });
});

describe.runIf(real)("sweepStaleInstances with a directory from createInstanceDir", () => {
  it("kills the agent naming the directory once its owner is gone, and removes the directory", async () => {
    // The owner makes the directory, starts an agent naming it on its command line, and dies.
    const owner = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { spawn } from "node:child_process";
         const { createInstanceDir } = await import(${JSON.stringify(dist)});
         const dir = await createInstanceDir("agent");
         const agent = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", "--root-dir=" + dir], { detached: true, stdio: "ignore" });
         agent.unref();
         console.log(JSON.stringify({ dir, agent: agent.pid }));`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    owner.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await exited(owner);
    const { dir, agent } = JSON.parse(out) as { dir: string; agent: number };
    try {
      expect(dir).toMatch(new RegExp(`/kn-agent-${owner.pid}-[A-Za-z0-9]{6}$`));
      expect(isProcessAlive(agent)).toBe(true);
      const removed = await sweepStaleInstances();
      expect(removed).toContain(`agent ${dir}`);
      await waitFor("the agent to be gone", () => (isProcessAlive(agent) ? undefined : true));
      expect(pidsWithCmdline(dir)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    } finally {
      try {
        process.kill(agent, "SIGKILL");
      } catch {
        // swept
      }
    }
  });
});

describe.runIf(real)("unmountLazily", () => {
  it("unmounts, and counts a mount that is already gone as done", async () => {
    const dir = await createInstanceDir("mounttest");
    try {
      await run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
      expect(mountsUnder(dir)).toEqual([dir]);
      await unmountLazily(dir);
      expect(mountsUnder(dir)).toEqual([]);
      // Gone between listing and unmounting, as a shim's mount can be: not an error.
      await expect(unmountLazily(dir)).resolves.toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
