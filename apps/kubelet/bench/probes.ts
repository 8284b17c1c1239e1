// Probe cost at N pods: each pod has an exec readiness probe and an httpGet liveness probe on a
// 10 s period. Measures the kubelet process's CPU with the probes against the same N pods without
// probes (same run), and the latency from a readiness change in a container to the API showing the
// pod's Ready condition flipped (goal: within one period + 1 s, i.e. 11 s; the readiness probe has
// failureThreshold 1 so that one probe decides).
//
//   node --import ./test/fixtures/ts-hook.ts bench/probes.ts [--pods 110] [--window 60] [--flips 20]
//
// Needs root (containerd) and a built dist/ (npm run build).

import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createCriClient } from "@kubenode/cri-client";
import { waitFor } from "@kubenode/testkit";
import { type BenchRig, deleteAllPods, NODE, percentile, processUsage, startBenchRig } from "./common.js";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "110" },
    window: { type: "string", default: "60" },
    flips: { type: "string", default: "20" },
  },
});
const PODS = Number(values.pods);
const WINDOW_S = Number(values.window);
const FLIPS = Number(values.flips);
const PERIOD_S = 10;

interface PodView {
  metadata: { name: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { containerID?: string }[];
  };
}

function webPod(name: string, image: string, probes: boolean) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      nodeName: NODE,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "web",
          image,
          command: [
            "sh",
            "-c",
            "mkdir -p /www && echo ok > /www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www",
          ],
          ports: [{ name: "http", containerPort: 8080 }],
          ...(probes
            ? {
                // failureThreshold 1: the first probe after a change changes the result, so the
                // change-to-API time is the probe-to-status time plus the wait for that probe.
                readinessProbe: {
                  exec: { command: ["test", "-f", "/www/ready"] },
                  periodSeconds: PERIOD_S,
                  failureThreshold: 1,
                },
                livenessProbe: { httpGet: { path: "/index.html", port: "http" }, periodSeconds: PERIOD_S },
              }
            : {}),
        },
      ],
    },
  };
}

async function listPods(rig: BenchRig): Promise<PodView[]> {
  const { items } = await rig.admin.request<{ items: PodView[] }>({
    method: "GET",
    path: "/api/v1/namespaces/default/pods",
  });
  return items;
}

const ready = (p: PodView) => p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";

async function runPods(rig: BenchRig, probes: boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: PODS }, (_, i) =>
      rig.admin.request({
        method: "POST",
        path: "/api/v1/namespaces/default/pods",
        body: webPod(`w${i}`, rig.containerd.busyboxImage, probes),
      }),
    ),
  );
  const started = performance.now();
  let lastReport = started;
  await waitFor(
    `${PODS} pods Ready`,
    async () => {
      const pods = await listPods(rig);
      const n = pods.filter(ready).length;
      if (performance.now() - lastReport > 30_000) {
        // Progress, so a run that never gets there shows where it stands.
        lastReport = performance.now();
        const running = pods.filter((p) => p.status?.phase === "Running").length;
        console.error(
          `${((lastReport - started) / 1000).toFixed(0)} s: ${running} Running, ${n} Ready of ${PODS} (load average ${loadavg()[0]!.toFixed(1)})`,
        );
      }
      return n >= PODS ? true : undefined;
    },
    { timeoutMs: 1_800_000, intervalMs: 1000 },
  );
}

async function cpu(rig: BenchRig): Promise<number> {
  const pid = rig.kubelet.pid!;
  const a = processUsage(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000)); // the measurement window itself
  const b = processUsage(pid);
  return (b.cpuSeconds - a.cpuSeconds) / ((performance.now() - t0) / 1000);
}

const rig = await startBenchRig();
const cri = createCriClient({ endpoint: rig.containerd.endpoint });
try {
  const load0 = loadavg()[0]!;
  await runPods(rig, false);
  const baseline = await cpu(rig);
  await deleteAllPods(rig.admin);

  await runPods(rig, true);
  const withProbes = await cpu(rig);
  const load1 = loadavg()[0]!;

  // Readiness flips: remove the file in one pod at a time, time until the API says not Ready, put
  // it back, time until Ready again.
  const latencies: number[] = [];
  const pods = (await listPods(rig)).slice(0, FLIPS);
  for (const pod of pods) {
    const id = pod.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
    for (const [cmd, want] of [
      [["rm", "/www/ready"], false],
      [["touch", "/www/ready"], true],
    ] as const) {
      await cri.execSync({ containerId: id, cmd: [...cmd], timeout: 10n });
      const t0 = performance.now();
      await waitFor(
        `${pod.metadata.name} Ready=${want}`,
        async () => {
          const p = await rig.admin.request<PodView>({
            method: "GET",
            path: `/api/v1/namespaces/default/pods/${pod.metadata.name}`,
          });
          return ready(p) === want ? true : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 50 },
      );
      latencies.push((performance.now() - t0) / 1000);
    }
  }

  console.log(
    `probes at ${PODS} pods, exec readiness + httpGet liveness every ${PERIOD_S} s (load average ${load0.toFixed(1)} / ${load1.toFixed(1)}, CPU window ${WINDOW_S} s)`,
  );
  console.log(
    `kubelet CPU: ${baseline.toFixed(3)} cores without probes, ${withProbes.toFixed(3)} with; added ${(withProbes - baseline).toFixed(3)} cores`,
  );
  console.log(
    `readiness change -> API Ready flipped (${latencies.length} changes): p50 ${percentile(latencies, 50).toFixed(2)} s, p99 ${percentile(latencies, 99).toFixed(2)} s, max ${Math.max(...latencies).toFixed(2)} s (bound: period + 1 s = ${PERIOD_S + 1} s)`,
  );
  console.log(
    JSON.stringify({
      pods: PODS,
      baselineCores: baseline,
      probeCores: withProbes,
      latencyP50S: percentile(latencies, 50),
      latencyP99S: percentile(latencies, 99),
      latencyMaxS: Math.max(...latencies),
    }),
  );
  await deleteAllPods(rig.admin);
} finally {
  cri.close();
  await rig.stop();
}
