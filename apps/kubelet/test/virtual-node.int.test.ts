// The virtual node example (examples/virtual-node.ts) against the API simulator: a kubelet with a
// custom runtime module, no containers anywhere.
import { createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import { type ApiServer, startApiServer, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVirtualNode } from "../examples/virtual-node.js";
import type { Pod } from "../src/api.js";
import type { Kubelet } from "../src/kubelet.js";

describe("virtual node example (API simulator)", () => {
  let server: ApiServer;
  let admin: KubeClient;
  let node: KubeClient;
  let kubelet: Kubelet;

  beforeAll(async () => {
    server = await startApiServer({ controllers: { nodeLifecycle: false } });
    admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
    node = createKubeClient(loadKubeConfig({ path: await server.kubeconfigFor("system:node:virtual-1") }));
    kubelet = createVirtualNode("virtual-1", node);
    await kubelet.start();
  });
  afterAll(async () => {
    await kubelet?.stop();
    admin?.close();
    node?.close();
    await server?.stop();
  });

  const get = (name: string) =>
    admin
      .request<Pod>({ method: "GET", path: `/api/v1/namespaces/default/pods/${name}` })
      .catch(() => undefined);

  it("reports a pod Running with IPs and container statuses, then deletes it gracefully", async () => {
    await admin.request({
      method: "POST",
      path: "/api/v1/namespaces/default/pods",
      body: {
        metadata: { name: "v" },
        spec: {
          nodeName: "virtual-1",
          containers: [
            { name: "a", image: "nginx:1.27" },
            { name: "b", image: "redis:7" },
          ],
        },
      },
    });
    const pod = await waitFor("pod Ready", async () => {
      const p = await get("v");
      return p?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? p : undefined;
    });
    expect(pod.status?.phase).toBe("Running");
    expect(pod.status?.podIP).toMatch(/^10\.250\.\d+\.\d+$/);
    expect(pod.status?.hostIP).toBe("10.250.255.254");
    expect(pod.status?.containerStatuses?.map((c) => [c.name, c.ready, c.restartCount, c.imageID])).toEqual([
      ["a", true, 0, "virtual:nginx:1.27"],
      ["b", true, 0, "virtual:redis:7"],
    ]);
    expect(pod.status?.containerStatuses?.[0]?.containerID).toMatch(/^virtual:\/\/[0-9a-f]{32}$/);
    expect(kubelet.activePods().map((p) => p.metadata.name)).toEqual(["v"]);

    await admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods/v" });
    await waitFor("pod deleted by the kubelet", async () => ((await get("v")) ? undefined : true));
    expect(kubelet.activePods()).toEqual([]);
  });

  it("rejects a pod whose admit handler throws with UnexpectedAdmissionError, and runs the others", async () => {
    kubelet.addAdmitHandler((pod) => {
      if (pod.metadata.name === "cursed") throw new Error("the device plugin went away");
      return { admit: true };
    });
    for (const name of ["cursed", "fine"])
      await admin.request({
        method: "POST",
        path: "/api/v1/namespaces/default/pods",
        body: {
          metadata: { name },
          spec: { nodeName: "virtual-1", containers: [{ name: "c", image: "nginx:1.27" }] },
        },
      });
    const rejected = await waitFor("pod cursed rejected", async () => {
      const p = await get("cursed");
      return p?.status?.phase === "Failed" ? p : undefined;
    });
    expect(rejected.status).toMatchObject({
      reason: "UnexpectedAdmissionError",
      message: "Pod was rejected: Admission failed due to the device plugin went away, which is unexpected",
    });
    await waitFor("pod fine Running", async () =>
      (await get("fine"))?.status?.phase === "Running" ? true : undefined,
    );
  });
});
