// Pod startup latency: 30 pods created at once in the API -> Running observed by a watch (image
// present), side by side in the same run with the floor: the same 30 sandboxes + containers created
// directly through cri-client, no kubelet. Upstream's SLO is p99 <= 5 s.
//
//   node --import ./test/fixtures/ts-hook.ts bench/pod-startup.ts [--pods 30] [--rounds 2]
//
// Needs root (containerd) and a built dist/ (npm run build).
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CriClient, createCriClient } from "@kubenode/cri-client";
import { waitFor } from "@kubenode/testkit";
import { type BenchRig, deleteAllPods, percentile, sleeperPod, startBenchRig } from "./common.js";

const { values } = parseArgs({
  options: { pods: { type: "string", default: "30" }, rounds: { type: "string", default: "2" } },
});
const PODS = Number(values.pods);
const ROUNDS = Number(values.rounds);

interface WatchedPod {
  metadata: { name: string };
  status?: { containerStatuses?: { state?: { running?: unknown } }[] };
}

async function kubeletRound(rig: BenchRig, round: number): Promise<number[]> {
  const created = new Map<string, number>();
  const running = new Map<string, number>();
  const abort = new AbortController();
  const { resourceVersion } = (
    await rig.admin.request<{ metadata: { resourceVersion: string } }>({
      method: "GET",
      path: "/api/v1/namespaces/default/pods",
    })
  ).metadata;
  const watching = (async () => {
    for await (const ev of rig.admin.watch<WatchedPod>(
      "/api/v1/namespaces/default/pods",
      { resourceVersion },
      abort.signal,
    )) {
      const p = ev.object;
      const cs = p.status?.containerStatuses ?? [];
      if (!running.has(p.metadata.name) && cs.length > 0 && cs.every((c) => c.state?.running))
        running.set(p.metadata.name, performance.now());
    }
  })();
  await Promise.all(
    Array.from({ length: PODS }, async (_, i) => {
      const name = `r${round}-p${i}`;
      created.set(name, performance.now());
      await rig.admin.request({
        method: "POST",
        path: "/api/v1/namespaces/default/pods",
        body: sleeperPod(name, rig.containerd.busyboxImage),
      });
    }),
  );
  await waitFor(`${PODS} pods Running`, () => (running.size >= PODS ? true : undefined), {
    timeoutMs: 600_000,
    intervalMs: 50,
  });
  abort.abort();
  await watching;
  await deleteAllPods(rig.admin);
  return [...created].map(([name, t]) => running.get(name)! - t);
}

async function floorRound(rig: BenchRig, cri: CriClient, round: number): Promise<number[]> {
  const logDirectory = join(rig.podLogsDir, `floor-${round}`);
  await mkdir(logDirectory, { recursive: true });
  const sandboxes: string[] = [];
  const latencies = await Promise.all(
    Array.from({ length: PODS }, async (_, i) => {
      const t0 = performance.now();
      const config = {
        metadata: { name: `floor-${round}-${i}`, namespace: "default", uid: randomUUID(), attempt: 0 },
        hostname: `f${i}`,
        logDirectory,
      };
      const { podSandboxId } = await cri.runPodSandbox({ config });
      sandboxes.push(podSandboxId);
      const { containerId } = await cri.createContainer({
        podSandboxId,
        sandboxConfig: config,
        config: {
          metadata: { name: "main", attempt: 0 },
          image: { image: rig.containerd.busyboxImage },
          command: ["sleep", "3600"],
          logPath: `${i}.log`,
        },
      });
      await cri.startContainer({ containerId });
      return performance.now() - t0;
    }),
  );
  for (const id of sandboxes) {
    await cri.stopPodSandbox({ podSandboxId: id });
    await cri.removePodSandbox({ podSandboxId: id });
  }
  return latencies;
}

const rig = await startBenchRig();
const cri = createCriClient({ endpoint: rig.containerd.endpoint });
try {
  // Warm-up: one pod through the kubelet, one sandbox directly.
  await rig.admin.request({
    method: "POST",
    path: "/api/v1/namespaces/default/pods",
    body: sleeperPod("warmup", rig.containerd.busyboxImage),
  });
  await waitFor(
    "warm-up pod Running",
    async () => {
      const p = await rig.admin.request<WatchedPod>({
        method: "GET",
        path: "/api/v1/namespaces/default/pods/warmup",
      });
      return p.status?.containerStatuses?.[0]?.state?.running ? true : undefined;
    },
    { timeoutMs: 120_000 },
  );
  await deleteAllPods(rig.admin);
  const kubelet: number[] = [];
  const floor: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    kubelet.push(...(await kubeletRound(rig, r)));
    floor.push(...(await floorRound(rig, cri, r)));
  }
  const row = (name: string, v: number[]) =>
    `| ${name} | ${v.length} | ${percentile(v, 50).toFixed(0)} ms | ${percentile(v, 99).toFixed(0)} ms | ${Math.max(...v).toFixed(0)} ms |`;
  console.log(
    `pod startup, ${PODS} pods at once x ${ROUNDS} rounds (load average ${(await import("node:os")).loadavg()[0]!.toFixed(1)})`,
  );
  console.log("| path | pods | p50 | p99 | max |\n|---|---|---|---|---|");
  console.log(row("kubelet: API create -> Running seen by watch", kubelet));
  console.log(row("floor: RunPodSandbox + CreateContainer + StartContainer via cri-client", floor));
  console.log(`kubelet p99 / floor p99 = ${(percentile(kubelet, 99) / percentile(floor, 99)).toFixed(2)}`);
  console.log(
    JSON.stringify({
      pods: PODS,
      rounds: ROUNDS,
      kubeletP50: percentile(kubelet, 50),
      kubeletP99: percentile(kubelet, 99),
      floorP50: percentile(floor, 50),
      floorP99: percentile(floor, 99),
    }),
  );
} finally {
  cri.close();
  await rig.stop();
}
