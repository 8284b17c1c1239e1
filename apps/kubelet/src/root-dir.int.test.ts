// The kubelet creates its --root-dir at start-up, as upstream's setupDataDirs does: node status
// and the eviction manager stat it, and failed every 10 s when it was missing.
import { type ChildProcess, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Containerd, canUseRealComponents, startContainerd, waitFor } from "@kubenode/testkit";
import { builtBin } from "@kubenode/vitest-config/built";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP = join(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(APP, "dist", "main.js");
const real = await canUseRealComponents();

describe.runIf(real)("kubenode-kubelet --root-dir", () => {
  let containerd: Containerd;
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    builtBin(APP); // the dist/ npm test built; never rebuilt here
    [containerd, dir] = await Promise.all([startContainerd(), mkdtemp(join(tmpdir(), "kubenode-root-dir-"))]);
  }, 180_000);
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await containerd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("is created (0750, with missing parents) before the kubelet starts its loops", async () => {
    const root = join(dir, "not", "there", "yet");
    let stderr = "";
    const kubelet = spawn(
      process.execPath,
      [
        MAIN,
        `--container-runtime-endpoint=${containerd.endpoint}`,
        `--root-dir=${root}`,
        "--hostname-override=root-dir",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child = kubelet;
    kubelet.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => kubelet.once("exit", resolve));
    await waitFor("the kubelet to start", () => {
      if (kubelet.exitCode !== null) throw new Error(`the kubelet exited ${kubelet.exitCode}: ${stderr}`);
      return stderr.includes("Started kubelet") ? true : undefined;
    });
    const st = statSync(root);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o750);
    kubelet.kill("SIGTERM");
    expect(await exited, stderr).toBe(0);
  }, 120_000);
});
