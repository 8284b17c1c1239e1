import { createFakeClock, silentLogger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { createVirtualRuntime } from "../../examples/virtual-node.js";
import type { Pod, PodStatus } from "../api.js";
import { type PodRuntime, RuntimeStepError } from "../runtime/types.js";
import { createPodWorkers, type StatusSink } from "./pod-workers.js";

function statusSink() {
  const statuses = new Map<string, PodStatus>();
  const history: PodStatus[] = [];
  const sink: StatusSink = {
    setPodStatus: (pod, s) => {
      statuses.set(pod.metadata.uid!, s);
      history.push(s);
    },
    getPodStatus: (uid) => statuses.get(uid),
    podTerminated: () => {},
    forget: (uid) => statuses.delete(uid),
  };
  return { sink, statuses, history };
}

const pod: Pod = {
  metadata: { name: "p", namespace: "ns", uid: "u1" },
  spec: { containers: [{ name: "main", image: "reg/img:1" }] },
};
const waitingReason = (s: PodStatus | undefined) => s?.containerStatuses?.[0]?.state.waiting?.reason;

describe("pod workers (fake clock, in-memory runtime)", () => {
  it("shows ErrImagePull, then ImagePullBackOff on retries inside the growing backoff, then runs once pullable", async () => {
    const clock = createFakeClock();
    let pullable = false;
    const base = createVirtualRuntime();
    const runtime: PodRuntime = {
      ...base,
      async ensureImage(p, c, s) {
        if (!pullable)
          throw new RuntimeStepError("ErrImagePull", "rpc error: code = NotFound desc = not found");
        return base.ensureImage(p, c, s);
      },
    };
    const { sink, statuses, history } = statusSink();
    const workers = createPodWorkers({
      runtime,
      status: sink,
      clock,
      logger: silentLogger,
      nodeIPs: ["192.0.2.1"],
      pullSecrets: async () => [],
      admit: async () => ({ admit: true }),
    });
    workers.update(pod);
    await clock.step(0);
    expect(waitingReason(statuses.get("u1"))).toBe("ErrImagePull");
    const reasons: string[] = [];
    for (let t = 0; t < 60; t++) {
      await clock.step(1000);
      const r = waitingReason(statuses.get("u1"));
      if (r && reasons.at(-1) !== r) reasons.push(r);
    }
    // 10 s: retry pulls (fails, backoff 20 s); 20 s: inside the backoff; 30 s: pulls again ...
    expect(reasons.slice(0, 3)).toEqual(["ErrImagePull", "ImagePullBackOff", "ErrImagePull"]);
    pullable = true;
    await clock.step(120_000);
    expect(statuses.get("u1")?.containerStatuses?.[0]?.state.running).toBeDefined();
    expect(history.length).toBeGreaterThan(3);
    await workers.stop();
  });

  it("posts FailedCreatePodSandBox with the runtime's error when the sandbox cannot be created, and retries", async () => {
    const clock = createFakeClock();
    let failures = 1;
    const base = createVirtualRuntime();
    const runtime: PodRuntime = {
      ...base,
      async runSandbox(p, attempt) {
        if (failures-- > 0)
          throw new RuntimeStepError(
            "CreatePodSandboxError",
            "Failed to create pod sandbox: rpc error: code = DeadlineExceeded desc = Deadline exceeded",
          );
        return base.runSandbox(p, attempt);
      },
    };
    const events: { reason: string; type: string; message: string }[] = [];
    const { sink, statuses } = statusSink();
    const workers = createPodWorkers({
      runtime,
      status: sink,
      clock,
      logger: silentLogger,
      nodeIPs: ["192.0.2.1"],
      pullSecrets: async () => [],
      admit: async () => ({ admit: true }),
      events: { record: (_p, e) => events.push(e) },
    });
    workers.update(pod);
    await clock.step(0);
    expect(events).toEqual([
      {
        type: "Warning",
        reason: "FailedCreatePodSandBox",
        message: "Failed to create pod sandbox: rpc error: code = DeadlineExceeded desc = Deadline exceeded",
      },
    ]);
    await clock.step(15_000);
    expect(statuses.get("u1")?.containerStatuses?.[0]?.state.running).toBeDefined();
    await workers.stop();
  });
});
