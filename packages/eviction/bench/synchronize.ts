// One synchronize() over 110 pods with realistic stats: time per call and bytes allocated per call.
// Run: npm run bench (builds first through turbo) or `node --expose-gc --max-semi-space-size=128 bench/synchronize.ts`
// after `npm run build`.
// Allocation per call is measured as heap growth over a batch run with a young generation large
// enough that no scavenge happens inside the batch (checked by comparing GC counts).
import { PerformanceObserver, performance } from "node:perf_hooks";
import { createFakeClock } from "@kubenode/kube";
import {
  createEvictionManager,
  type EvictionPod,
  type PodStats,
  parseThresholdConfig,
} from "../dist/index.js";

const Mi = 2 ** 20;
const Gi = 2 ** 30;
const PODS = 110;

function makeWorld(pressure: boolean) {
  const pods: EvictionPod[] = [];
  const stats: PodStats[] = [];
  for (let i = 0; i < PODS; i++) {
    const qos = i % 3;
    const containers = [0, 1].map((c) => ({
      name: `c${c}`,
      resources:
        qos === 0
          ? { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "100m", memory: "128Mi" } }
          : qos === 1
            ? { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "512Mi" } }
            : {},
    }));
    pods.push({
      metadata: {
        name: `pod-${i}`,
        namespace: `ns-${i % 7}`,
        uid: `uid-${i}`,
        annotations: { "kubernetes.io/config.source": "api" },
      },
      spec: { priority: (i % 5) * 100, containers, volumes: [{ name: "cache", emptyDir: {} }] },
    });
    const ws = (20 + ((i * 37) % 200)) * Mi;
    stats.push({
      uid: `uid-${i}`,
      memoryWorkingSetBytes: ws,
      processCount: 3 + (i % 11),
      containers: containers.map((c, k) => ({
        name: c.name,
        memoryWorkingSetBytes: ws / 2,
        rootfs: { usedBytes: (1 + k) * 4 * Mi, inodesUsed: 40 },
        logs: { usedBytes: 1 * Mi, inodesUsed: 2 },
      })),
      volumes: [{ name: "cache", usedBytes: 8 * Mi, inodesUsed: 10 }],
      ephemeralStorageUsedBytes: 20 * Mi,
    });
  }
  let t = 0;
  const available = pressure ? 80 * Mi : 6 * Gi;
  const clock = createFakeClock();
  let kills = 0;
  const manager = createEvictionManager({
    thresholds: parseThresholdConfig({}),
    clock,
    stats: {
      getSummary: async () => {
        t++;
        return {
          node: {
            memory: {
              availableBytes: available,
              workingSetBytes: 16 * Gi - available,
              usageBytes: 17 * Gi,
              timeMs: t,
            },
            nodeFs: {
              availableBytes: 80 * Gi,
              capacityBytes: 200 * Gi,
              inodesFree: 9e6,
              inodes: 1e7,
              timeMs: t,
            },
            imageFs: {
              availableBytes: 80 * Gi,
              capacityBytes: 200 * Gi,
              inodesFree: 9e6,
              inodes: 1e7,
              timeMs: t,
            },
            rlimit: { maxPid: 32768, runningProcesses: 900, timeMs: t },
          },
          pods: stats,
        };
      },
    },
    pods: { activePods: () => pods },
    killer: {
      killPod: async () => {
        kills++;
      },
    },
  });
  return { manager, kills: () => kills };
}

let gcCount = 0;
new PerformanceObserver((list) => {
  gcCount += list.getEntries().length;
}).observe({ entryTypes: ["gc"] });
const gc = (globalThis as { gc?: () => void }).gc;

async function measure(label: string, pressure: boolean) {
  const { manager, kills } = makeWorld(pressure);
  for (let i = 0; i < 2000; i++) await manager.synchronize(); // warm up
  const N = 20000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await manager.synchronize();
  const perCallUs = ((performance.now() - t0) / N) * 1000;

  const B = 50;
  let alloc = Number.NaN;
  for (let attempt = 0; attempt < 20 && Number.isNaN(alloc); attempt++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
    const g0 = gcCount;
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < B; i++) await manager.synchronize();
    const h1 = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, 10));
    if (gcCount === g0) alloc = (h1 - h0) / B;
  }
  console.log(
    `${label}: ${perCallUs.toFixed(1)} µs/synchronize, ${Number.isNaN(alloc) ? "n/a (GC inside batch)" : `${(alloc / 1024).toFixed(1)} KiB allocated/call`}, evictions=${kills()}`,
  );
}

console.log(`node ${process.version}, ${PODS} pods, default thresholds`);
await measure("no pressure  ", false);
await measure("memory pressure (rank 110 pods + evict 1)", true);
