import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeStaleKubeconfig } from "./state.js";

const kubeconfig = (port: number) =>
  `apiVersion: v1\nkind: Config\nclusters:\n- name: kubenode\n  cluster:\n    server: https://127.0.0.1:${port}\n`;

let dir = "";
let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe("removeStaleKubeconfig", () => {
  it("removes a kubeconfig whose API server no longer answers", async () => {
    dir = await mkdtemp(join(tmpdir(), "kubenode-state-test-"));
    // A port that was just free: nothing listens there any more.
    const probe = createServer();
    const port = await new Promise<number>((resolve) =>
      probe.listen(0, "127.0.0.1", () => resolve((probe.address() as { port: number }).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    await writeFile(join(dir, "kubeconfig"), kubeconfig(port));
    expect(await removeStaleKubeconfig(dir)).toBe(true);
    await expect(readFile(join(dir, "kubeconfig"))).rejects.toThrow(/ENOENT/);
  });

  it("keeps the kubeconfig of a cluster that is still up (a demo running with --keep)", async () => {
    dir = await mkdtemp(join(tmpdir(), "kubenode-state-test-"));
    const live = createServer((socket) => socket.end());
    server = live;
    const port = await new Promise<number>((resolve) =>
      live.listen(0, "127.0.0.1", () => resolve((live.address() as { port: number }).port)),
    );
    await writeFile(join(dir, "kubeconfig"), kubeconfig(port));
    expect(await removeStaleKubeconfig(dir)).toBe(false);
    expect(await readFile(join(dir, "kubeconfig"), "utf8")).toContain(`127.0.0.1:${port}`);
  });

  it("does nothing when there is no kubeconfig", async () => {
    dir = await mkdtemp(join(tmpdir(), "kubenode-state-test-"));
    expect(await removeStaleKubeconfig(dir)).toBe(false);
  });
});
