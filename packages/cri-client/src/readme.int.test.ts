import { existsSync, rmSync } from "node:fs";
import { type Containerd, startContainerd } from "@kubenode/testkit";
import { runReadmeExample } from "@kubenode/vitest-config/readme";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canRunContainerd } from "./__tests__/real-runtime.js";

const real = await canRunContainerd();
// The example's own log directory: removed afterwards only if the example created it.
const LOG_DIR = "/tmp/cri-demo-logs";

describe.runIf(real)("README example against containerd", () => {
  let ctd: Containerd;
  const logDirExisted = existsSync(LOG_DIR);

  beforeAll(async () => {
    ctd = await startContainerd({ cni: true });
  });
  afterAll(async () => {
    await ctd?.stop();
    if (!logDirExisted) rmSync(LOG_DIR, { recursive: true, force: true });
  });

  it("runs a pod, execs into its container and reads the container's log", () => {
    const r = runReadmeExample(new URL("../", import.meta.url), {
      env: { CRI_ENDPOINT: ctd.endpoint, IMAGE: ctd.busyboxImage },
      timeoutMs: 120_000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^containerd v?1\.\d+/m);
    expect(r.stdout).toContain("0 Linux");
    expect(r.stdout).toContain("streamed");
    expect(r.stdout).toContain("exit code 3");
    expect(r.stdout).toContain("stdout hello from the container");
  });
});
