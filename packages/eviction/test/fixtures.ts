import { parseQuantity, quantityValue } from "@kubenode/kube";
import type {
  EvictionEvent,
  EvictionPod,
  KillRequest,
  PodKiller,
  PodStats,
  ResourceList,
  StatsProvider,
  StatsSummary,
} from "../src/types.js";

export const Mi = 2 ** 20;
export const Gi = 2 ** 30;

/** Bytes from a quantity string, for readable tables. */
export const q = (s: string): number => quantityValue(parseQuantity(s));

export interface PodSpecInput {
  priority?: number;
  requests?: ResourceList;
  limits?: ResourceList;
  annotations?: Record<string, string>;
  volumes?: NonNullable<EvictionPod["spec"]>["volumes"];
  terminationGracePeriodSeconds?: number;
  tolerations?: NonNullable<EvictionPod["spec"]>["tolerations"];
}

export function makePod(name: string, input: PodSpecInput = {}): EvictionPod {
  const resources: { requests?: ResourceList; limits?: ResourceList } = {};
  if (input.requests) resources.requests = input.requests;
  if (input.limits) resources.limits = input.limits;
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      ...(input.annotations ? { annotations: input.annotations } : {}),
    },
    spec: {
      ...(input.priority === undefined ? {} : { priority: input.priority }),
      ...(input.terminationGracePeriodSeconds === undefined
        ? {}
        : { terminationGracePeriodSeconds: input.terminationGracePeriodSeconds }),
      containers: [{ name, resources }],
      ...(input.volumes ? { volumes: input.volumes } : {}),
      ...(input.tolerations ? { tolerations: input.tolerations } : {}),
    },
  };
}

/** Resource list with cpu and memory, omitting empty strings (upstream's newResourceList). */
export function resources(cpu: string, memory: string, ephemeral = ""): ResourceList {
  const out: Record<string, string> = {};
  if (cpu) out.cpu = cpu;
  if (memory) out.memory = memory;
  if (ephemeral) out["ephemeral-storage"] = ephemeral;
  return out;
}

export function memoryStats(pod: EvictionPod, workingSet: string, withContainers = false): PodStats {
  const ws = q(workingSet);
  return {
    uid: pod.metadata!.uid!,
    memoryWorkingSetBytes: ws,
    ...(withContainers
      ? { containers: [{ name: pod.spec!.containers![0]!.name, memoryWorkingSetBytes: ws }] }
      : {}),
  };
}

export function diskStats(pod: EvictionPod, rootfs: string, logs: string, perVolume: string): PodStats {
  const r = rootfs ? q(rootfs) : 0;
  const l = logs ? q(logs) : 0;
  const v = perVolume ? q(perVolume) : 0;
  const vols = (pod.spec?.volumes ?? []).map((x) => ({ name: x.name, usedBytes: v, inodesUsed: 0 }));
  return {
    uid: pod.metadata!.uid!,
    containers: [
      {
        name: pod.spec!.containers![0]!.name,
        rootfs: { usedBytes: r, inodesUsed: 0 },
        logs: { usedBytes: l, inodesUsed: 0 },
      },
    ],
    volumes: vols,
    ephemeralStorageUsedBytes: r + l + vols.reduce((a, b) => a + (b.usedBytes ?? 0), 0),
  };
}

/** Node memory summary like upstream's makeMemoryStats: available = workingSet = X (capacity 2X). */
export function memorySummary(available: string, pods: PodStats[], timeMs?: number): StatsSummary {
  const a = q(available);
  const mem = { availableBytes: a, workingSetBytes: a, ...(timeMs === undefined ? {} : { timeMs }) };
  return { node: { memory: mem, allocatableMemory: { ...mem } }, pods };
}

/** Disk summary like upstream's makeDiskStats: capacity = 2 x available. */
export function diskSummary(
  nodeFsAvailable: string,
  imageFsAvailable: string,
  pods: PodStats[],
): StatsSummary {
  const n = q(nodeFsAvailable);
  const i = q(imageFsAvailable);
  return {
    node: {
      nodeFs: { availableBytes: n, capacityBytes: 2 * n, inodesFree: 1e6, inodes: 2e6 },
      imageFs: { availableBytes: i, capacityBytes: 2 * i, inodesFree: 1e6, inodes: 2e6 },
    },
    pods,
  };
}

export function pidSummary(maxPid: number, running: number, pods: PodStats[]): StatsSummary {
  return { node: { rlimit: { maxPid, runningProcesses: running } }, pods };
}

export class FakeStats implements StatsProvider {
  calls = 0;
  constructor(public summary: StatsSummary) {}
  async getSummary(): Promise<StatsSummary> {
    this.calls++;
    return this.summary;
  }
}

export class FakeKiller implements PodKiller {
  requests: KillRequest[] = [];
  fail = false;
  async killPod(request: KillRequest): Promise<void> {
    this.requests.push(request);
    if (this.fail) throw new Error("runtime is down");
  }
  get lastPod(): string | undefined {
    return this.requests.at(-1)?.pod.metadata?.name;
  }
  reset(): void {
    this.requests = [];
  }
}

export class FakeRecorder {
  events: EvictionEvent[] = [];
  record(e: EvictionEvent): void {
    this.events.push(e);
  }
}
