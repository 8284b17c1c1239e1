import { describe, expect, it } from "vitest";
import type { RuntimeContainer, RuntimePod, RuntimeSandbox } from "../runtime/types.js";
import { DEFAULT_CONTAINER_GC_POLICY, planContainerGc } from "./container-gc.js";

function container(
  id: string,
  name: string,
  createdAtMs: number,
  extra: Partial<RuntimeContainer> = {},
): RuntimeContainer {
  return {
    id,
    name,
    sandboxId: "sb-1",
    state: "exited",
    restartCount: 0,
    hash: "",
    image: "img",
    imageRef: "sha256:img",
    createdAtMs,
    startedAtMs: createdAtMs,
    finishedAtMs: createdAtMs + 1,
    exitCode: 1,
    reason: "Error",
    message: "",
    ...extra,
  };
}

function sandbox(
  id: string,
  createdAtMs: number,
  state: RuntimeSandbox["state"] = "notready",
): RuntimeSandbox {
  return { id, state, attempt: 0, createdAtMs, ips: [], hostNetwork: false };
}

function pod(uid: string, containers: RuntimeContainer[], sandboxes: RuntimeSandbox[]): RuntimePod {
  return { uid, name: uid, namespace: "default", containers, sandboxes };
}

const ids = (list: { id: string }[]) => list.map((x) => x.id).sort();
const keepAll = () => false;

// Cases after upstream's kuberuntime_gc_test.go (TestContainerGC, TestSandboxGC).
describe("planContainerGc", () => {
  it("keeps the newest maxPerPodContainer dead instances per container and never a running one", () => {
    const p = pod(
      "u1",
      [
        container("run", "app", 50, { state: "running" }),
        container("d3", "app", 40),
        container("d2", "app", 30),
        container("d1", "app", 20),
        container("s1", "sidecar", 10),
      ],
      [sandbox("sb-1", 1, "ready")],
    );
    const plan = planContainerGc([p], keepAll, DEFAULT_CONTAINER_GC_POLICY, 100);
    expect(ids(plan.containers)).toEqual(["d1", "d2"]);
    expect(plan.sandboxes).toEqual([]);
    expect(
      ids(planContainerGc([p], keepAll, { maxPerPodContainer: 2, minAgeMs: 0 }, 100).containers),
    ).toEqual(["d1"]);
    expect(planContainerGc([p], keepAll, { maxPerPodContainer: -1, minAgeMs: 0 }, 100).containers).toEqual(
      [],
    );
    expect(
      ids(planContainerGc([p], keepAll, { maxPerPodContainer: 0, minAgeMs: 0 }, 100).containers),
    ).toEqual(["d1", "d2", "d3", "s1"]);
  });

  it("leaves dead containers younger than minAge and created ones about to start", () => {
    const p = pod(
      "u1",
      [
        container("new", "app", 95),
        container("old", "app", 10),
        container("older", "app", 5),
        container("c", "app", 1, { state: "created" }),
      ],
      [],
    );
    const plan = planContainerGc([p], keepAll, { maxPerPodContainer: 0, minAgeMs: 10 }, 100);
    expect(ids(plan.containers)).toEqual(["old", "older"]);
  });

  it("removes everything dead of a removable pod, then its dead sandboxes", () => {
    const gone = pod(
      "gone",
      [container("g1", "app", 10, { sandboxId: "sb-g" }), container("g2", "app", 20, { sandboxId: "sb-g" })],
      [sandbox("sb-g", 5), sandbox("sb-g0", 1)],
    );
    const plan = planContainerGc([gone], (uid) => uid === "gone", DEFAULT_CONTAINER_GC_POLICY, 100);
    expect(ids(plan.containers)).toEqual(["g1", "g2"]);
    expect(ids(plan.sandboxes)).toEqual(["sb-g", "sb-g0"]);
  });

  it("keeps a live pod's newest sandbox and any sandbox still holding a container", () => {
    const p = pod(
      "u1",
      [container("kept", "app", 30, { sandboxId: "sb-mid" })],
      [sandbox("sb-new", 40), sandbox("sb-mid", 20), sandbox("sb-old", 10)],
    );
    const plan = planContainerGc([p], keepAll, DEFAULT_CONTAINER_GC_POLICY, 100);
    expect(plan.containers).toEqual([]);
    expect(ids(plan.sandboxes)).toEqual(["sb-old"]);
    // A ready sandbox is never removed, even for a removable pod.
    const live = pod("u2", [], [sandbox("sb-ready", 5, "ready")]);
    expect(planContainerGc([live], () => true, DEFAULT_CONTAINER_GC_POLICY, 100).sandboxes).toEqual([]);
  });
});
