import { createFakeClock, silentLogger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import {
  diskStats,
  diskSummary,
  FakeKiller,
  FakeRecorder,
  FakeStats,
  Gi,
  makePod,
  memoryStats,
  memorySummary,
  pidSummary,
  resources,
} from "../test/fixtures.js";
import { createEvictionManager } from "./manager.js";
import { parseThresholdConfig } from "./thresholds.js";
import type { EvictionPod, PodStats, Threshold } from "./types.js";

const MINUTE = 60_000;

function hard(signal: Threshold["signal"], quantity: number, minReclaim?: number): Threshold {
  return {
    signal,
    operator: "LessThan",
    value: { quantity, format: "BinarySI" },
    gracePeriodMs: 0,
    ...(minReclaim === undefined ? {} : { minReclaim: { quantity: minReclaim } }),
  };
}
function soft(signal: Threshold["signal"], quantity: number, gracePeriodMs: number): Threshold {
  return { signal, operator: "LessThan", value: { quantity, format: "BinarySI" }, gracePeriodMs };
}

// Mirrors upstream TestMemoryPressure's pod table (with priorities).
const memoryPods: Array<
  [
    string,
    { priority?: number; requests?: ReturnType<typeof resources>; limits?: ReturnType<typeof resources> },
    string,
  ]
> = [
  [
    "guaranteed-low-priority-high-usage",
    { priority: -1, requests: resources("100m", "1Gi"), limits: resources("100m", "1Gi") },
    "900Mi",
  ],
  [
    "burstable-below-requests",
    { requests: resources("100m", "100Mi"), limits: resources("200m", "1Gi") },
    "50Mi",
  ],
  [
    "burstable-above-requests",
    { requests: resources("100m", "100Mi"), limits: resources("200m", "1Gi") },
    "400Mi",
  ],
  ["best-effort-high-priority-high-usage", { priority: 1 }, "400Mi"],
  ["best-effort-low-priority-low-usage", { priority: -1 }, "100Mi"],
];

function memoryWorld(thresholds: Threshold[], extra: { maxPodGracePeriodSeconds?: number } = {}) {
  const pods: EvictionPod[] = [];
  const podStats: PodStats[] = [];
  for (const [name, spec, ws] of memoryPods) {
    const pod = makePod(name, spec);
    pods.push(pod);
    podStats.push(memoryStats(pod, ws));
  }
  const clock = createFakeClock();
  const stats = new FakeStats(memorySummary("2Gi", podStats));
  const killer = new FakeKiller();
  const recorder = new FakeRecorder();
  const manager = createEvictionManager({
    thresholds,
    stats,
    pods: { activePods: () => pods },
    killer,
    clock,
    recorder,
    nodeName: "test",
    maxPodGracePeriodSeconds: extra.maxPodGracePeriodSeconds ?? 5,
    pressureTransitionPeriodMs: 5 * MINUTE,
  });
  const setAvailable = (a: string) => {
    stats.summary = memorySummary(a, podStats);
  };
  return { pods, podStats, clock, stats, killer, recorder, manager, setAvailable };
}

describe("synchronize: memory pressure (upstream TestMemoryPressure)", () => {
  it("walks soft grace, hard eviction, transition period and admission", async () => {
    const w = memoryWorld([hard("memory.available", 1 * Gi), soft("memory.available", 2 * Gi, 2 * MINUTE)]);
    const bestEffort = makePod("best-admit");
    const burstable = makePod("burst-admit", {
      requests: resources("100m", "100Mi"),
      limits: resources("200m", "200Mi"),
    });
    const admits = () => [w.manager.admit(bestEffort).admit, w.manager.admit(burstable).admit];

    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(false);
    expect(admits()).toEqual([true, true]);

    // induce soft threshold: pressure, but no kill before the grace period
    await w.clock.step(MINUTE);
    w.setAvailable("1500Mi");
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(true);
    expect(w.killer.requests).toHaveLength(0);

    // past the grace period: the right pod, with evictionMaxPodGracePeriod
    await w.clock.step(3 * MINUTE);
    await w.manager.synchronize();
    expect(w.killer.lastPod).toBe("best-effort-low-priority-low-usage");
    expect(w.killer.requests[0]!.gracePeriodSeconds).toBe(5);
    w.killer.reset();

    // remove pressure
    await w.clock.step(20 * MINUTE);
    w.setAvailable("3Gi");
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(false);

    // hard threshold: immediate eviction with the 1 s grace period
    await w.clock.step(MINUTE);
    w.setAvailable("500Mi");
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(true);
    expect(w.killer.lastPod).toBe("best-effort-low-priority-low-usage");
    expect(w.killer.requests[0]!.gracePeriodSeconds).toBe(1);
    expect(admits()).toEqual([false, true]);
    expect(w.manager.admit(bestEffort)).toEqual({
      admit: false,
      reason: "Evicted",
      message: "The node had condition: [MemoryPressure]. ",
    });
    w.killer.reset();

    // pressure relieved, but still reported within the transition period
    await w.clock.step(MINUTE);
    w.setAvailable("2Gi");
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(true);
    expect(w.killer.requests).toHaveLength(0);
    expect(admits()).toEqual([false, true]);

    // past the transition period
    await w.clock.step(5 * MINUTE);
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(false);
    expect(w.killer.requests).toHaveLength(0);
    expect(admits()).toEqual([true, true]);
  });

  it("records the upstream pod status, DisruptionTarget condition and Evicted event", async () => {
    const below = makePod("below-requests", { requests: resources("", "1Gi"), limits: resources("", "1Gi") });
    const above = makePod("above-requests", {
      requests: resources("", "100Mi"),
      limits: resources("", "1Gi"),
    });
    const stats = new FakeStats(
      memorySummary("1500Mi", [memoryStats(below, "900Mi"), memoryStats(above, "700Mi")]),
    );
    const killer = new FakeKiller();
    const recorder = new FakeRecorder();
    const m = createEvictionManager({
      thresholds: [hard("memory.available", 2 * Gi)],
      stats,
      pods: { activePods: () => [below, above] },
      killer,
      recorder,
      nodeName: "test",
      clock: createFakeClock(),
    });
    await m.synchronize();
    const msg = "The node was low on resource: memory. Threshold quantity: 2Gi, available: 1500Mi. ";
    expect(killer.lastPod).toBe("above-requests");
    expect(killer.requests[0]!.status).toEqual({
      phase: "Failed",
      reason: "Evicted",
      message: msg,
      conditions: [
        { type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet", message: msg },
      ],
    });
    expect(recorder.events).toEqual([
      {
        involvedObject: { kind: "Node", name: "test" },
        type: "Warning",
        reason: "EvictionThresholdMet",
        message: "Attempting to reclaim memory",
      },
      expect.objectContaining({
        involvedObject: {
          kind: "Pod",
          name: "above-requests",
          namespace: "default",
          uid: "uid-above-requests",
        },
        type: "Warning",
        reason: "Evicted",
        message: msg,
      }),
    ]);
  });

  it("names the containers using more than their request in the message", async () => {
    const pod = makePod("hog", { requests: resources("", "100Mi") });
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: [hard("memory.available", 100 * 2 ** 20)],
      stats: new FakeStats(memorySummary("50Mi", [memoryStats(pod, "300Mi", true)])),
      pods: { activePods: () => [pod] },
      killer,
      clock: createFakeClock(),
    });
    await m.synchronize();
    expect(killer.requests[0]!.status.message).toBe(
      "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container hog was using 300Mi, request is 100Mi, has larger consumption of memory. ",
    );
    expect(killer.requests[0]!.annotations).toEqual({
      offending_containers: "hog",
      offending_containers_usage: "300Mi",
      starved_resource: "memory",
    });
  });

  it("caps the soft grace period by the pod's own terminationGracePeriodSeconds; negative max defers to the pod", async () => {
    for (const [max, own, want] of [
      [60, 10, 10],
      [5, 30, 5],
      [-1, 45, 45],
    ] as const) {
      const pod = makePod("p", { terminationGracePeriodSeconds: own });
      const killer = new FakeKiller();
      const clock = createFakeClock();
      const m = createEvictionManager({
        thresholds: [soft("memory.available", 2 * Gi, MINUTE)],
        stats: new FakeStats(memorySummary("1Gi", [memoryStats(pod, "1Gi")])),
        pods: { activePods: () => [pod] },
        killer,
        clock,
        maxPodGracePeriodSeconds: max,
      });
      await m.synchronize();
      await clock.step(MINUTE);
      await m.synchronize();
      expect(killer.requests[0]!.gracePeriodSeconds).toBe(want);
    }
  });
});

describe("synchronize: minimum reclaim (upstream TestMinReclaim)", () => {
  it("keeps evicting until available >= threshold + minReclaim", async () => {
    const w = memoryWorld([hard("memory.available", 1 * Gi, 500 * 2 ** 20)]);
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(false);

    await w.clock.step(MINUTE);
    w.setAvailable("500Mi");
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(true);
    expect(w.killer.requests).toHaveLength(1);
    w.killer.reset();

    // 1.2Gi is above the threshold but below threshold + min reclaim: still evicting
    await w.clock.step(MINUTE);
    w.setAvailable("1.2Gi");
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(true);
    expect(w.killer.requests).toHaveLength(1);
    w.killer.reset();

    // 2Gi satisfies min reclaim: no eviction, pressure held by the transition period
    await w.clock.step(MINUTE);
    w.setAvailable("2Gi");
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(true);
    expect(w.killer.requests).toHaveLength(0);

    await w.clock.step(5 * MINUTE);
    await w.manager.synchronize();
    expect(w.manager.isUnderMemoryPressure()).toBe(false);
    expect(w.killer.requests).toHaveLength(0);
  });
});

describe("synchronize: disk pressure and node-level reclaim (upstream TestDiskPressureNodeFs, TestNodeReclaimFuncs)", () => {
  const diskPods: Array<[string, Parameters<typeof makePod>[1], string, string, string]> = [
    ["low-priority-high-usage", { priority: -1, requests: resources("", "", "100Mi") }, "", "", "800Mi"],
    ["below-requests", { requests: resources("", "", "1Gi") }, "600Mi", "", ""],
    ["above-requests", { requests: resources("", "", "100Mi") }, "700Mi", "", ""],
    ["high-priority-high-usage", { priority: 1, requests: resources("", "", "100Mi") }, "", "800Mi", ""],
    ["low-priority-low-usage", { priority: -1, requests: resources("", "", "100Mi") }, "", "200Mi", ""],
  ];

  function diskWorld(reclaimFrees: boolean) {
    const pods: EvictionPod[] = [];
    const podStats: PodStats[] = [];
    for (const [name, spec, root, logs, vol] of diskPods) {
      const pod = makePod(name, { ...spec, volumes: [{ name: "local", emptyDir: {} }] });
      pods.push(pod);
      podStats.push(diskStats(pod, root, logs, vol));
    }
    const stats = new FakeStats(diskSummary("16Gi", "200Gi", podStats));
    const calls: string[] = [];
    const killer = new FakeKiller();
    const clock = createFakeClock();
    const m = createEvictionManager({
      thresholds: [hard("nodefs.available", 1 * Gi), soft("nodefs.available", 2 * Gi, 2 * MINUTE)],
      stats,
      pods: { activePods: () => pods },
      killer,
      clock,
      maxPodGracePeriodSeconds: 5,
      reclaim: {
        deleteAllUnusedContainers: async () => {
          calls.push("containers");
        },
        deleteUnusedImages: async () => {
          calls.push("images");
          if (reclaimFrees) stats.summary = diskSummary("16Gi", "200Gi", podStats);
        },
      },
    });
    return { pods, podStats, stats, calls, killer, clock, m };
  }

  it("evicts the pod above its ephemeral-storage request with the lowest priority and largest usage", async () => {
    const w = diskWorld(false);
    await w.m.synchronize();
    expect(w.m.isUnderDiskPressure()).toBe(false);
    await w.clock.step(MINUTE);
    w.stats.summary = diskSummary("500Mi", "200Gi", w.podStats);
    const r = await w.m.synchronize();
    expect(w.calls).toEqual(["containers", "images"]);
    expect(r.resourceToReclaim).toBe("ephemeral-storage");
    expect(w.m.isUnderDiskPressure()).toBe(true);
    expect(w.killer.lastPod).toBe("low-priority-high-usage");
    expect(w.killer.requests[0]!.gracePeriodSeconds).toBe(1);
    // Disk pressure refuses every non-critical pod.
    expect(w.m.admit(makePod("new", { requests: resources("1", "1Gi") }))).toEqual({
      admit: false,
      reason: "Evicted",
      message: "The node had condition: [DiskPressure]. ",
    });
    expect(
      w.m.admit(makePod("static", { annotations: { "kubernetes.io/config.source": "file" } })).admit,
    ).toBe(true);
  });

  it("skips pod eviction when container and image GC free enough", async () => {
    const w = diskWorld(true);
    await w.m.synchronize();
    await w.clock.step(MINUTE);
    w.stats.summary = diskSummary("500Mi", "200Gi", w.podStats);
    const r = await w.m.synchronize();
    expect(w.calls).toEqual(["containers", "images"]);
    expect(r.reclaimedByNode).toBe(true);
    expect(w.killer.requests).toHaveLength(0);
    // the condition is still reported: it was observed this cycle
    expect(w.m.isUnderDiskPressure()).toBe(true);
  });

  it("does not run reclaim hooks for memory pressure", async () => {
    const calls: string[] = [];
    const pod = makePod("p");
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats: new FakeStats(memorySummary("500Mi", [memoryStats(pod, "100Mi")])),
      pods: { activePods: () => [pod] },
      killer,
      clock: createFakeClock(),
      reclaim: { deleteUnusedImages: async () => void calls.push("images") },
    });
    await m.synchronize();
    expect(calls).toEqual([]);
    expect(killer.lastPod).toBe("p");
  });
});

describe("synchronize: PID pressure (upstream TestPIDPressure)", () => {
  it("evicts the lowest priority pod, then the one with most processes", async () => {
    const low = makePod("low", { priority: -1 });
    const def = makePod("default");
    const busy = makePod("default-busy");
    const podStats: PodStats[] = [
      { uid: low.metadata!.uid!, processCount: 5 },
      { uid: def.metadata!.uid!, processCount: 400 },
      { uid: busy.metadata!.uid!, processCount: 800 },
    ];
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: [
        {
          signal: "pid.available",
          operator: "LessThan",
          value: { quantity: 1200, format: "DecimalSI" },
          gracePeriodMs: 0,
        },
      ],
      stats: new FakeStats(pidSummary(1500, 1000, podStats)),
      pods: { activePods: () => [def, busy, low] },
      killer,
      clock: createFakeClock(),
    });
    await m.synchronize();
    expect(m.isUnderPIDPressure()).toBe(true);
    expect(killer.lastPod).toBe("low");
    expect(killer.requests[0]!.status.message).toBe(
      "The node was low on resource: pids. Threshold quantity: 1200, available: 500. ",
    );
    expect(m.nodeConditions().find((c) => c.type === "PIDPressure")).toEqual({
      type: "PIDPressure",
      status: "True",
      reason: "KubeletHasInsufficientPID",
      message: "kubelet has insufficient PID available",
    });
  });
});

describe("synchronize: critical pods (upstream TestCriticalPodsAreNotEvicted)", () => {
  it.each([
    ["static", { annotations: { "kubernetes.io/config.source": "file" } }],
    ["mirror", { annotations: { "kubernetes.io/config.mirror": "abc" } }],
    ["system-critical priority", { priority: 2_000_000_000 }],
  ] as const)("never evicts a %s pod", async (_label, spec) => {
    const critical = makePod("critical", spec);
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats: new FakeStats(memorySummary("500Mi", [memoryStats(critical, "800Mi")])),
      pods: { activePods: () => [critical] },
      killer,
      clock: createFakeClock(),
    });
    const r = await m.synchronize();
    expect(m.isUnderMemoryPressure()).toBe(true);
    expect(killer.requests).toHaveLength(0);
    expect(r.evicted).toEqual([]);
  });

  it("evicts the next ranked pod when the first is critical", async () => {
    const critical = makePod("critical", { priority: 2_000_000_000 });
    const normal = makePod("normal", { requests: resources("", "1Gi") });
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats: new FakeStats(
        memorySummary("500Mi", [memoryStats(critical, "900Mi"), memoryStats(normal, "10Mi")]),
      ),
      pods: { activePods: () => [critical, normal] },
      killer,
      clock: createFakeClock(),
    });
    await m.synchronize();
    expect(killer.lastPod).toBe("normal");
  });
});

describe("synchronize: allocatable memory (upstream TestAllocatableMemoryPressure)", () => {
  it("drives MemoryPressure from allocatableMemory.available", async () => {
    const pod = makePod("hog");
    const stats = new FakeStats({
      node: {
        memory: { availableBytes: 10 * Gi, workingSetBytes: 1 * Gi },
        allocatableMemory: { availableBytes: 100 * 2 ** 20, workingSetBytes: 4 * Gi },
      },
      pods: [memoryStats(pod, "4Gi")],
    });
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: parseThresholdConfig({
        evictionHard: "memory.available<1Gi",
        enforceNodeAllocatable: ["pods"],
        mergeDefaultEvictionSettings: false,
      }),
      stats,
      pods: { activePods: () => [pod] },
      killer,
      clock: createFakeClock(),
    });
    const r = await m.synchronize();
    expect(r.thresholds.map((t) => t.signal)).toEqual(["allocatableMemory.available"]);
    expect(m.isUnderMemoryPressure()).toBe(true);
    expect(killer.lastPod).toBe("hog");
  });
});

describe("synchronize: local storage limits (upstream TestStorageLimitEvictions)", () => {
  it.each([
    [
      "emptyDir over its sizeLimit",
      { volumes: [{ name: "cache", emptyDir: { sizeLimit: "1Gi" } }] },
      (uid: string): PodStats => ({ uid, volumes: [{ name: "cache", usedBytes: 2 * Gi }] }),
      'Usage of EmptyDir volume "cache" exceeds the limit "1Gi". ',
    ],
    [
      "pod over its ephemeral-storage limit",
      { limits: resources("", "", "1Gi") },
      (uid: string): PodStats => ({ uid, ephemeralStorageUsedBytes: 3 * Gi }),
      "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. ",
    ],
    [
      "container over its ephemeral-storage limit",
      { limits: resources("", "", "1Gi") },
      (uid: string): PodStats => ({
        uid,
        containers: [{ name: "p", rootfs: { usedBytes: Gi }, logs: { usedBytes: Gi } }],
      }),
      'Container p exceeded its local ephemeral storage limit "1Gi". ',
    ],
  ] as const)("evicts a pod with %s, before any threshold", async (_label, spec, mkStats, message) => {
    const pod = makePod("p", spec as Parameters<typeof makePod>[1]);
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: [],
      stats: new FakeStats({ node: {}, pods: [mkStats(pod.metadata!.uid!)] }),
      pods: { activePods: () => [pod] },
      killer,
      clock: createFakeClock(),
    });
    const r = await m.synchronize();
    expect(r.evicted.map((p) => p.metadata?.name)).toEqual(["p"]);
    expect(killer.requests[0]).toMatchObject({ gracePeriodSeconds: 1, status: { message, conditions: [] } });
  });
});

describe("synchronize: robustness", () => {
  it("does nothing when stats fail, and logs it", async () => {
    const errors: string[] = [];
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats: { getSummary: async () => Promise.reject(new Error("cadvisor gone")) },
      pods: { activePods: () => [] },
      killer: new FakeKiller(),
      clock: createFakeClock(),
      logger: { ...silentLogger, error: (msg, err) => errors.push(`${msg}: ${(err as Error).message}`) },
    });
    const r = await m.synchronize();
    expect(r.evicted).toEqual([]);
    expect(errors).toEqual(["eviction manager: failed to get summary stats: cadvisor gone"]);
  });

  it("counts a failed kill as this cycle's eviction (one pod per cycle)", async () => {
    const w = memoryWorld([hard("memory.available", Gi)]);
    w.killer.fail = true;
    w.setAvailable("500Mi");
    const r = await w.manager.synchronize();
    expect(r.evicted).toHaveLength(1);
    expect(w.killer.requests).toHaveLength(1);
  });

  it("does not act twice on the same stats sample", async () => {
    const pod = makePod("p");
    const killer = new FakeKiller();
    const stats = new FakeStats(memorySummary("500Mi", [memoryStats(pod, "1Gi")], 1000));
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats,
      pods: { activePods: () => [pod] },
      killer,
      clock: createFakeClock(),
    });
    await m.synchronize();
    await m.synchronize();
    expect(killer.requests).toHaveLength(1);
    stats.summary = memorySummary("500Mi", [memoryStats(pod, "1Gi")], 2000);
    await m.synchronize();
    expect(killer.requests).toHaveLength(2);
  });

  it("rejects a bad loop interval", () => {
    expect(() =>
      createEvictionManager({
        thresholds: [],
        stats: new FakeStats(memorySummary("1Gi", [])),
        pods: { activePods: () => [] },
        killer: new FakeKiller(),
        monitoringIntervalMs: 0,
      }),
    ).toThrow("monitoringIntervalMs must be > 0, got 0");
  });
});

describe("start/stop loop", () => {
  it("runs every 10 s on the clock, waits for cleanup after an eviction, and stops cleanly", async () => {
    const w = memoryWorld([hard("memory.available", Gi)]);
    const cleaned = new Set<string>();
    const clock = createFakeClock();
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats: w.stats,
      pods: { activePods: () => w.pods.filter((p) => !cleaned.has(p.metadata!.name!)) },
      killer: {
        killPod: async (req) => {
          w.killer.requests.push(req);
        },
      },
      podCleanedUp: (p) => cleaned.has(p.metadata!.name!),
      clock,
    });
    m.start();
    await clock.step(0);
    expect(w.stats.calls).toBe(1);
    await clock.step(10_000);
    expect(w.stats.calls).toBe(2);

    w.setAvailable("500Mi");
    await clock.step(10_000);
    expect(w.killer.requests.map((r) => r.pod.metadata?.name)).toEqual([
      "best-effort-low-priority-low-usage",
    ]);
    // waiting for cleanup: polls every second, no new cycle meanwhile
    await clock.step(5_000);
    expect(w.stats.calls).toBe(3);
    cleaned.add("best-effort-low-priority-low-usage");
    await clock.step(1_000);
    // cleaned up: next cycle runs at once (new stats sample needed to act again)
    expect(w.stats.calls).toBe(4);
    await m.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe("admission (upstream Admit)", () => {
  it("admits a BestEffort pod tolerating memory-pressure under MemoryPressure only", async () => {
    const pod = makePod("p");
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats: new FakeStats(memorySummary("500Mi", [memoryStats(pod, "1Gi")])),
      pods: { activePods: () => [] },
      killer: new FakeKiller(),
      clock: createFakeClock(),
    });
    await m.synchronize();
    const tolerating = makePod("tolerating", {
      tolerations: [{ key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" }],
    });
    const wrongTaint = makePod("wrong", {
      tolerations: [{ key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" }],
    });
    expect(m.admit(tolerating)).toEqual({ admit: true });
    expect(m.admit(wrongTaint).admit).toBe(false);
    expect(m.admit(makePod("critical", { priority: 2_000_001_000 }))).toEqual({ admit: true });
    expect(m.nodeConditions()).toEqual([
      {
        type: "MemoryPressure",
        status: "True",
        reason: "KubeletHasInsufficientMemory",
        message: "kubelet has insufficient memory available",
      },
      {
        type: "DiskPressure",
        status: "False",
        reason: "KubeletHasNoDiskPressure",
        message: "kubelet has no disk pressure",
      },
      {
        type: "PIDPressure",
        status: "False",
        reason: "KubeletHasSufficientPID",
        message: "kubelet has sufficient PID available",
      },
    ]);
  });
});

describe("synchronize: inode pressure (upstream TestInodePressureFsInodes)", () => {
  it("evicts the pod using the most inodes and reports inode counts in the message", async () => {
    const few = makePod("few-inodes");
    const many = makePod("many-inodes");
    const inodeStats = (p: EvictionPod, n: number): PodStats => ({
      uid: p.metadata!.uid!,
      containers: [
        {
          name: p.metadata!.name!,
          rootfs: { usedBytes: 0, inodesUsed: n },
          logs: { usedBytes: 0, inodesUsed: 0 },
        },
      ],
    });
    const killer = new FakeKiller();
    const m = createEvictionManager({
      thresholds: parseThresholdConfig({
        evictionHard: "nodefs.inodesFree<1M",
        mergeDefaultEvictionSettings: false,
      }),
      stats: new FakeStats({
        node: {
          nodeFs: {
            availableBytes: 100 * Gi,
            capacityBytes: 200 * Gi,
            inodesFree: 500_000,
            inodes: 4_000_000,
          },
        },
        pods: [inodeStats(few, 100), inodeStats(many, 900_000)],
      }),
      pods: { activePods: () => [few, many] },
      killer,
      clock: createFakeClock(),
    });
    await m.synchronize();
    expect(m.isUnderDiskPressure()).toBe(true);
    expect(killer.lastPod).toBe("many-inodes");
    expect(killer.requests[0]!.status.message).toBe(
      "The node was low on resource: inodes. Threshold quantity: 1M, available: 500k. ",
    );
  });
});

describe("stop()", () => {
  it("aborts a stats call in flight so shutdown is not held up", async () => {
    let seen: AbortSignal | undefined;
    const m = createEvictionManager({
      thresholds: [hard("memory.available", Gi)],
      stats: {
        getSummary: (signal) =>
          new Promise((_resolve, reject) => {
            seen = signal;
            signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
          }),
      },
      pods: { activePods: () => [] },
      killer: new FakeKiller(),
      clock: createFakeClock(),
    });
    m.start();
    await new Promise((r) => setImmediate(r));
    expect(seen?.aborted).toBe(false);
    await m.stop();
    expect(seen?.aborted).toBe(true);
  });
});
