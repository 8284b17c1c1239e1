// Time from a real memory threshold crossing to the kill call, on this host, with the polling
// notifier (100 ms) vs the plain 10 s loop. Writes to /dev/shm (tmpfs pages are charged to the
// memory cgroup and are not inactive file cache), so usage rises at once.
// Run: npm run bench:notifier (after npm run build).
import { rmSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import {
  createEvictionManager,
  createHostStatsProvider,
  createMemoryThresholdNotifiers,
  type Threshold,
} from "../dist/index.js";

const Mi = 2 ** 20;
const host = createHostStatsProvider();
const file = `/dev/shm/kubenode-eviction-bench-${process.pid}`;
const hog = {
  metadata: { name: "hog", namespace: "bench", uid: "uid-hog" },
  spec: { containers: [{ name: "hog" }] },
};

async function once(withNotifier: boolean): Promise<number> {
  const before = await host.getSummary();
  const available = before.node.memory!.availableBytes!;
  const threshold: Threshold = {
    signal: "memory.available",
    operator: "LessThan",
    value: { quantity: available - 384 * Mi, format: "BinarySI" },
    gracePeriodMs: 0,
  };
  let killedAt = 0;
  let resolveKill!: () => void;
  const killed = new Promise<void>((r) => {
    resolveKill = r;
  });
  const manager = createEvictionManager({
    thresholds: [threshold],
    stats: {
      getSummary: async () => {
        const s = await host.getSummary();
        return { ...s, pods: [{ uid: "uid-hog", memoryWorkingSetBytes: 1024 * Mi }] };
      },
    },
    pods: { activePods: () => [hog] },
    killer: {
      killPod: async () => {
        killedAt = performance.now();
        rmSync(file, { force: true });
        resolveKill();
      },
    },
    notifiers: withNotifier ? createMemoryThresholdNotifiers([threshold], { intervalMs: 100 }) : [],
  });
  manager.start();
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 2000)); // land anywhere in the loop period
  writeFileSync(file, Buffer.alloc(1024 * Mi, 1));
  const crossedAt = performance.now();
  await Promise.race([killed, new Promise((r) => setTimeout(r, 30_000))]);
  await manager.stop();
  rmSync(file, { force: true });
  return killedAt === 0 ? Number.NaN : killedAt - crossedAt;
}

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(0)} ms, median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms (n=${s.length})`;
};

try {
  const withN: number[] = [];
  for (let i = 0; i < 7; i++) withN.push(await once(true));
  console.log(`notifier on (poll 100 ms): ${fmt(withN)}`);
  const without: number[] = [];
  for (let i = 0; i < 3; i++) without.push(await once(false));
  console.log(`notifier off (10 s loop):  ${fmt(without)}`);
} finally {
  rmSync(file, { force: true });
}
