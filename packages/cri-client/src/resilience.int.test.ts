import { type Containerd, startContainerd, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canRunContainerd, removePod, runPod } from "./__tests__/real-runtime.js";
import { type CriClient, createCriClient } from "./client.js";
import { ContainerState } from "./gen/runtime/v1/api.js";

const real = await canRunContainerd();

describe.runIf(real)("connection resilience against containerd", () => {
  let ctd: Containerd;
  let cri: CriClient;

  beforeAll(async () => {
    ctd = await startContainerd({ cni: false });
    cri = createCriClient({ endpoint: ctd.socketPath });
  });
  afterAll(async () => {
    cri?.close();
    await ctd?.stop();
  });

  it("recovers after containerd restarts, without being recreated", async () => {
    await cri.connect();
    const { podSandboxId, containerId } = await runPod(
      cri,
      ctd,
      "survivor",
      "exec sleep 600",
      {},
      { hostNetwork: true },
    );
    await ctd.restart();
    // Calls during the restart may fail with Unavailable; the channel reconnects on its own
    // (backoff capped at 3 s) and the same client sees the container that kept running.
    const status = await waitFor(
      "the client to reach the restarted containerd",
      async () => (await cri.containerStatus({ containerId })).status,
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(status.state).toBe(ContainerState.CONTAINER_RUNNING);
    const exec = await cri.execSync({ containerId, cmd: ["echo", "still here"] });
    expect(exec.stdout.toString()).toBe("still here\n");
    await removePod(cri, podSandboxId);
  });

  it("reports Unavailable, naming the socket, while the runtime is down", async () => {
    const down = await startContainerd({ cni: false, images: false });
    const client = createCriClient({ endpoint: down.endpoint });
    try {
      await client.version({});
      await down.stop();
      const error = await waitFor("a failing call", () =>
        client.version({}).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      expect(error).toMatchObject({ code: "Unavailable", rpc: "Version" });
      expect((error as Error).message).toContain(down.socketPath);
      await expect(client.connect()).rejects.toThrow(/the socket does not exist/);
    } finally {
      client.close();
      await down.stop();
    }
  });
});
