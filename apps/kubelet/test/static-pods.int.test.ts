// Static pods from a manifest directory, with mirror pods in the API; and standalone mode.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pod } from "../src/api.js";
import { createKubelet } from "../src/kubelet.js";
import { NODE, type Rig, realComponents, recordingLogger, startRig } from "./rig.js";

describe.runIf(realComponents)("kubelet static pods (containerd + API simulator)", () => {
  let rig: Rig;
  let manifests: string;

  beforeAll(async () => {
    rig = await startRig();
    manifests = join(rig.tmp, "manifests");
    await mkdir(manifests);
  });
  afterAll(async () => {
    await rig?.stop();
  });

  // First: a second kubelet on the same runtime would remove this one's pods as orphans.
  it("runs static pods standalone, without an API server", async () => {
    const dir = join(rig.tmp, "standalone");
    await mkdir(dir);
    await writeFile(
      join(dir, "solo.json"),
      JSON.stringify({
        metadata: { name: "solo" },
        spec: {
          restartPolicy: "Never",
          containers: [
            { name: "c", image: rig.containerd.busyboxImage, command: ["sh", "-c", "echo standalone"] },
          ],
        },
      }),
    );
    const kubelet = createKubelet({
      nodeName: "standalone-node",
      criEndpoint: rig.containerd.endpoint,
      podManifestPath: dir,
      podLogsDir: rig.podLogsDir,
      nodeIPs: ["127.0.0.1"],
    });
    try {
      await kubelet.start();
      const exited = await waitFor(
        "standalone static pod ran to completion",
        async () => {
          const { containers } = await rig.cri.listContainers({
            filter: { labelSelector: { "io.kubernetes.pod.name": "solo-standalone-node" } },
          });
          return containers.find((c) => c.state === 2);
        },
        { timeoutMs: 60_000 },
      );
      const { status } = await rig.cri.containerStatus({ containerId: exited.id });
      expect(status?.exitCode).toBe(0);
      await waitFor("the finished pod no longer active", () =>
        kubelet.activePods().some((p: Pod) => p.metadata.name === "solo-standalone-node") ? undefined : true,
      );
    } finally {
      await kubelet.stop();
    }
  });

  it("runs a static pod, mirrors it in the API with status, skips a bad file, and stops it when the file goes", async () => {
    const image = rig.containerd.busyboxImage;
    await writeFile(
      join(manifests, "etcd.yaml"),
      [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        "  name: etcd",
        "  namespace: kube-system",
        "  labels: { tier: control-plane }",
        "spec:",
        "  containers:",
        "  - name: etcd",
        `    image: ${image}`,
        '    command: ["sleep", "3600"]',
        "  terminationGracePeriodSeconds: 2",
        "",
      ].join("\n"),
    );
    // JSON works whatever the extension; a broken file is reported and skipped.
    await writeFile(
      join(manifests, "sidecar.manifest"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "sidecar" },
        spec: { containers: [{ name: "s", image, command: ["sleep", "3600"] }] },
      }),
    );
    await writeFile(
      join(manifests, "broken.yaml"),
      "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n  containers: []\n",
    );
    await writeFile(join(manifests, ".hidden.yaml"), "not: [valid");
    const { logger, records } = recordingLogger();
    await rig.startKubelet({ podManifestPath: manifests, fileCheckFrequencyMs: 1000, logger });
    const skipped = records.filter((r) => r.msg === "static pod manifest skipped");
    expect(skipped.map((r) => [r.fields.file, r.fields.reason])).toEqual([
      [join(manifests, "broken.yaml"), "metadata.name is missing"],
    ]);

    const mirrorName = `etcd-${NODE}`;
    const mirror = await waitFor(
      "mirror pod Running",
      async () => {
        const p = await rig.getPod(mirrorName, "kube-system");
        return p?.status?.phase === "Running" && p.status.containerStatuses?.[0]?.ready ? p : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    const hash = mirror.metadata.annotations?.["kubernetes.io/config.mirror"];
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(mirror.metadata.annotations?.["kubernetes.io/config.hash"]).toBe(hash);
    expect(mirror.metadata.ownerReferences).toMatchObject([
      { apiVersion: "v1", kind: "Node", name: NODE, controller: true },
    ]);
    expect(mirror.metadata.labels).toEqual({ tier: "control-plane" });
    expect(mirror.spec.nodeName).toBe(NODE);
    // The runtime runs it under the static pod's UID (the config hash), not the mirror's.
    const { containers } = await rig.cri.listContainers({
      filter: { labelSelector: { "io.kubernetes.pod.uid": hash! } },
    });
    expect(containers).toHaveLength(1);
    expect(containers[0]!.labels["io.kubernetes.pod.name"]).toBe(mirrorName);
    await waitFor("second static pod mirrored", () => rig.getPod(`sidecar-${NODE}`));
    const out = await rig.kubectl(["get", "pods", "-A", "-o", "wide"]);
    expect(out).toMatch(new RegExp(`kube-system\\s+${mirrorName}\\s+1/1\\s+Running`));

    // Deleting the mirror pod in the API does not stop the static pod: the kubelet recreates it.
    await rig.admin.request({ method: "DELETE", path: `/api/v1/namespaces/kube-system/pods/${mirrorName}` });
    const recreated = await waitFor(
      "mirror pod recreated",
      async () => {
        const p = await rig.getPod(mirrorName, "kube-system");
        return p && p.metadata.uid !== mirror.metadata.uid ? p : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(recreated.metadata.annotations?.["kubernetes.io/config.mirror"]).toBe(hash);

    // Removing the file stops the pod and removes its mirror.
    await rm(join(manifests, "etcd.yaml"));
    await waitFor(
      "mirror pod removed",
      async () => ((await rig.getPod(mirrorName, "kube-system")) ? undefined : true),
      {
        timeoutMs: 60_000,
      },
    );
    await waitFor(
      "static pod's containers removed",
      async () => {
        const { containers: left } = await rig.cri.listContainers({
          filter: { labelSelector: { "io.kubernetes.pod.uid": hash! } },
        });
        return left.length === 0 ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(await rig.getPod(`sidecar-${NODE}`)).toBeDefined();
  });
});
