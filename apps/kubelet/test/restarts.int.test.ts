// Crash-loop and image-pull backoff end to end, on a stepped clock: real containers crash and real
// pulls fail, while the kubelet's 10 s -> 5 min backoff moves only when the test steps time.
import { createFakeClock, type FakeClock } from "@kubenode/kube";
import { type Registry, startRegistry } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerStatus, Pod } from "../src/api.js";
import { type Rig, realComponents, startRig, stepUntil } from "./rig.js";

const main = (pod: Pod | undefined): ContainerStatus | undefined =>
  pod?.status?.containerStatuses?.find((c) => c.name === "main");

describe.runIf(realComponents)("kubelet restarts and backoff (containerd + registry, stepped clock)", () => {
  let rig: Rig;
  let registry: Registry;
  let clock: FakeClock;

  beforeAll(async () => {
    [rig, registry] = await Promise.all([startRig(), startRegistry({ pushTestImages: false })]);
    // The fake clock starts at the real time so container exit times (from containerd) line up.
    clock = createFakeClock(Date.now());
    await rig.startKubelet({ clock });
  });
  afterAll(async () => {
    const results = await Promise.allSettled([rig?.stop(), registry?.stop()]);
    for (const r of results) if (r.status === "rejected") throw r.reason;
  });

  it("restarts a crashing container with growing restartCount and CrashLoopBackOff 10s, 20s", async () => {
    const pod = await rig.createPod({
      metadata: { name: "crash" },
      spec: {
        containers: [{ name: "main", image: rig.containerd.busyboxImage, command: ["sh", "-c", "exit 3"] }],
      },
    });
    const messages = new Set<string>();
    const final = await stepUntil(clock, "restartCount 3 after backoffs of 10s and 20s", async () => {
      const p = await rig.getPod("crash");
      const cs = main(p);
      if (cs?.state.waiting?.reason === "CrashLoopBackOff") messages.add(cs.state.waiting.message ?? "");
      return cs && cs.restartCount >= 3 && messages.size >= 2 ? p : undefined;
    });
    const desc = `crash_default(${pod.metadata.uid})`;
    // Upstream's message shape, the backoff doubling from 10 s (a third crash may already show 40s).
    expect([...messages].slice(0, 2)).toEqual([
      `back-off 10s restarting failed container=main pod=${desc}`,
      `back-off 20s restarting failed container=main pod=${desc}`,
    ]);
    // Restarts keep the pod Running (restartPolicy Always); the previous run is lastState.
    expect(final?.status?.phase).toBe("Running");
    const cs = main(final)!;
    expect("terminated" in cs.lastState && cs.lastState.terminated).toMatchObject({
      exitCode: 3,
      reason: "Error",
    });
    const { containers } = await rig.cri.listContainers({
      filter: { labelSelector: { "io.kubernetes.pod.uid": pod.metadata.uid! } },
    });
    // Dead containers are pruned to the newest one (kept for lastState) plus the current.
    expect(containers.length).toBeLessThanOrEqual(2);
  }, 300_000);

  it("reports ErrImagePull then ImagePullBackOff for a missing image and runs it once pushed", async () => {
    const image = `${registry.host}/kubenode/late:1.0`;
    await rig.createPod({
      metadata: { name: "late" },
      spec: { containers: [{ name: "main", image, command: ["sleep", "3600"] }] },
    });
    const pull = await stepUntil(clock, "ErrImagePull", async () => {
      const cs = main(await rig.getPod("late"));
      return cs?.state.waiting?.reason === "ErrImagePull" ? cs : undefined;
    });
    expect(pull.state.waiting?.message).toMatch(/^rpc error: code = NotFound desc = .*late:1\.0.*not found/);
    // Retries come every 10 s (pod sync backoff) while the image backoff doubles: 5 s steps see both.
    const backoff = await stepUntil(
      clock,
      "ImagePullBackOff",
      async () => {
        const cs = main(await rig.getPod("late"));
        return cs?.state.waiting?.reason === "ImagePullBackOff" ? cs : undefined;
      },
      { stepMs: 5000 },
    );
    expect(backoff.state.waiting?.message).toBe(`Back-off pulling image "${image}"`);
    await registry.push(rig.containerd.images.busybox, "kubenode/late:1.0");
    const running = await stepUntil(
      clock,
      "Running once the image exists",
      async () => {
        const p = await rig.getPod("late");
        return main(p)?.state.running ? p : undefined;
      },
      { stepMs: 5000 },
    );
    expect(running.status?.phase).toBe("Running");
    expect(main(running)!.restartCount).toBe(0);
  }, 300_000);

  it("pulls from a registry that requires credentials with the pod's imagePullSecrets", async () => {
    const auth = { username: "puller", password: "s3cret-pw" };
    const privateRegistry = await startRegistry({ auth });
    try {
      const dockerconfig = JSON.stringify({
        auths: {
          [privateRegistry.host]: {
            auth: Buffer.from(`${auth.username}:${auth.password}`).toString("base64"),
          },
        },
      });
      await rig.admin.request({
        method: "POST",
        path: "/api/v1/namespaces/default/secrets",
        body: {
          metadata: { name: "regcred" },
          type: "kubernetes.io/dockerconfigjson",
          data: { ".dockerconfigjson": Buffer.from(dockerconfig).toString("base64") },
        },
      });
      for (const [name, secrets] of [
        ["private", [{ name: "regcred" }]],
        ["no-secret", []],
      ] as const) {
        await rig.createPod({
          metadata: { name },
          spec: {
            imagePullSecrets: [...secrets],
            containers: [
              {
                name: "main",
                image: privateRegistry.busyboxRef,
                imagePullPolicy: "Always",
                command: ["sleep", "3600"],
              },
            ],
          },
        });
      }
      const ok = await stepUntil(clock, "private image pulled and running", async () => {
        const p = await rig.getPod("private");
        return main(p)?.state.running ? p : undefined;
      });
      // containerd names the image by its first repo digest (the same content was pushed before as "late").
      expect(main(ok)!.imageID).toMatch(/@sha256:[0-9a-f]{64}$/);
      // Without the secret the registry refuses the pull.
      const denied = await stepUntil(clock, "pull without credentials refused", async () => {
        const cs = main(await rig.getPod("no-secret"));
        return cs?.state.waiting?.reason === "ErrImagePull" ? cs : undefined;
      });
      expect(denied.state.waiting?.message).toMatch(/unauthorized|authorization|401/i);
    } finally {
      await privateRegistry.stop();
    }
  });
});
