// Steady state of the kubelet process at 0 and N running pods: RSS and CPU (cores, averaged over a
// window), and PLEG relist time (the CRI runtime module's listPods, as the kubelet calls it every
// second) at N pods. Upstream ceilings: 300 MiB and 0.35 cores at 100 pods; relist ~5.7 ms.
//
//   node --import ./test/fixtures/ts-hook.ts bench/steady-state.ts [--pods 110] [--window 30]
//
// Needs root (containerd) and a built dist/ (npm run build).

import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { silentLogger } from "@kubenode/kube";
import { waitFor } from "@kubenode/testkit";
import { createCriRuntime } from "../dist/index.js";
import {
  type BenchRig,
  deleteAllPods,
  nodeFlags,
  percentile,
  processUsage,
  sleeperPod,
  startBenchRig,
} from "./common.js";

const { values } = parseArgs({
  options: { pods: { type: "string", default: "110" }, window: { type: "string", default: "30" } },
});
const PODS = Number(values.pods);
const WINDOW_S = Number(values.window);

/** The kubelet's own view of its memory (V8 heap vs the rest), asked for with SIGUSR2. */
async function heap(rig: BenchRig): Promise<{ heapUsedMiB: number; heapTotalMiB: number }> {
  const before = rig.output().length;
  rig.kubelet.kill("SIGUSR2");
  const line = await waitFor("memory report", () =>
    rig
      .output()
      .slice(before)
      .split("\n")
      .find((l) => l.startsWith("{")),
  );
  const m = JSON.parse(line) as { heapUsed: number; heapTotal: number };
  return { heapUsedMiB: m.heapUsed / 2 ** 20, heapTotalMiB: m.heapTotal / 2 ** 20 };
}

async function sample(
  rig: BenchRig,
): Promise<{ rssMiB: number; cores: number; heapUsedMiB: number; heapTotalMiB: number }> {
  const pid = rig.kubelet.pid!;
  const a = processUsage(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000)); // the measurement window itself
  const b = processUsage(pid);
  const seconds = (performance.now() - t0) / 1000;
  return {
    rssMiB: b.rssBytes / 2 ** 20,
    cores: (b.cpuSeconds - a.cpuSeconds) / seconds,
    ...(await heap(rig)),
  };
}

const rig = await startBenchRig();
try {
  const idle = await sample(rig);
  await Promise.all(
    Array.from({ length: PODS }, (_, i) =>
      rig.admin.request({
        method: "POST",
        path: "/api/v1/namespaces/default/pods",
        body: sleeperPod(`s${i}`, rig.containerd.busyboxImage),
      }),
    ),
  );
  await waitFor(
    `${PODS} pods Running`,
    async () => {
      const { items } = await rig.admin.request<{ items: { status?: { phase?: string } }[] }>({
        method: "GET",
        path: "/api/v1/namespaces/default/pods",
      });
      return items.filter((p) => p.status?.phase === "Running").length >= PODS ? true : undefined;
    },
    { timeoutMs: 1_200_000, intervalMs: 1000 },
  );
  const busy = await sample(rig);

  // PLEG relist at N pods through the same runtime module the kubelet uses.
  const runtime = createCriRuntime({ endpoint: rig.containerd.endpoint, logger: silentLogger });
  await runtime.start();
  const first = await runtime.listPods();
  const times: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    await runtime.listPods();
    times.push(performance.now() - t0);
  }
  await runtime.stop();

  console.log(
    `kubelet steady state (load average ${loadavg()[0]!.toFixed(1)}, window ${WINDOW_S} s, node flags: ${nodeFlags().join(" ") || "none"})`,
  );
  console.log("| pods | RSS | V8 heap used / total | CPU |\n|---|---|---|---|");
  for (const [n, u] of [
    [0, idle],
    [PODS, busy],
  ] as const) {
    console.log(
      `| ${n} | ${u.rssMiB.toFixed(0)} MiB | ${u.heapUsedMiB.toFixed(0)} / ${u.heapTotalMiB.toFixed(0)} MiB | ${u.cores.toFixed(3)} cores |`,
    );
  }
  console.log(
    `PLEG relist (listPods) at ${first.length} pods: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms (100 relists)`,
  );
  console.log(
    JSON.stringify({
      pods: PODS,
      idle,
      busy,
      relistP50Ms: percentile(times, 50),
      relistP99Ms: percentile(times, 99),
    }),
  );
  await deleteAllPods(rig.admin);
} finally {
  await rig.stop();
}
