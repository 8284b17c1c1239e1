// End to end through the API server: kubectl logs / exec / port-forward reach the kubelet's :10250
// server (the simulator proxies pods/log|exec|portforward to the node's InternalIP and kubelet
// port with its kubelet-client certificate), which reads CRI log files and relays CRI streams.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { get } from "node:http";
import { get as httpsGet } from "node:https";
import { cpus } from "node:os";
import { join } from "node:path";
import { createRealClock } from "@kubenode/kube";
import { waitFor } from "@kubenode/testkit";
import parsePrometheusTextFormat, { type PrometheusFamily } from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pod } from "../src/api.js";
import { createKubeletAuth } from "../src/server/auth.js";
import { metricsHandlers } from "../src/server/index.js";
import { createKubeletMetrics } from "../src/server/metrics.js";
import { createKubeletServer, type KubeletServer } from "../src/server/server.js";
import { loadServingCert } from "../src/server/serving-cert.js";
import type { Summary } from "../src/server/stats.js";
import { httpd, NODE, type Rig, realComponents, recordingLogger, startRig } from "./rig.js";

const running = (p: Pod) =>
  p.status?.phase === "Running" && (p.status.containerStatuses ?? []).every((c) => c.ready);

describe.runIf(realComponents)("kubelet server through the API server (kubectl, containerd)", () => {
  let rig: Rig;
  let server: KubeletServer;
  let served: ReturnType<typeof metricsHandlers> | undefined;
  let image: string;
  const children: ChildProcess[] = [];

  /** Runs kubectl as the admin; resolves with stdout, stderr and the exit code (never rejects). */
  function kubectl(
    args: string[],
    stdin?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = execFile(
        "kubectl",
        ["--kubeconfig", rig.server.kubeconfigPath, "--cache-dir", join(rig.tmp, "kubectl-cache"), ...args],
        { timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      if (stdin !== undefined) child.stdin!.end(stdin);
    });
  }

  /** Starts a long-running kubectl and collects its stdout. */
  function kubectlStream(args: string[]): { child: ChildProcess; out: () => string; err: () => string } {
    let out = "";
    let err = "";
    const child = spawn(
      "kubectl",
      ["--kubeconfig", rig.server.kubeconfigPath, "--cache-dir", join(rig.tmp, "kubectl-cache"), ...args],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    return { child, out: () => out, err: () => err };
  }

  /** GET straight to the kubelet with a client certificate of `identity` (default the admin). */
  async function kubeletGet(path: string, identity = "admin"): Promise<{ status: number; body: string }> {
    if (identity !== "admin") await rig.server.kubeconfigFor(identity);
    const user = JSON.parse(rig.server.kubeconfigText(identity)).users[0].user;
    return new Promise((resolve, reject) => {
      httpsGet(
        {
          host: "127.0.0.1",
          port: server.port,
          path,
          rejectUnauthorized: false,
          cert: Buffer.from(user["client-certificate-data"], "base64"),
          key: Buffer.from(user["client-key-data"], "base64"),
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d.toString();
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      ).on("error", reject);
    });
  }

  beforeAll(async () => {
    rig = await startRig();
    image = rig.containerd.busyboxImage;
    const metrics = createKubeletMetrics(NODE);
    const kubelet = await rig.startKubelet({ backoffInitialMs: 500, backoffMaxMs: 1000, metrics });
    const { logger } = recordingLogger();
    const clock = createRealClock();
    const tls = await loadServingCert({
      certDir: join(rig.tmp, "pki"),
      hostname: NODE,
      ips: ["127.0.0.1"],
      logger,
    });
    served = metricsHandlers({
      nodeName: NODE,
      kubelet,
      cri: rig.cri,
      metrics,
      rootDir: rig.tmp,
      podLogsDir: rig.podLogsDir,
      clock,
    });
    server = createKubeletServer({
      kubelet,
      cri: rig.cri,
      auth: createKubeletAuth({
        nodeName: NODE,
        client: rig.nodeClient,
        authentication: { clientCAPem: rig.server.caPem! },
        clock,
      }),
      tls,
      clientCAPem: rig.server.caPem!,
      address: "127.0.0.1",
      port: 0,
      healthzPort: null,
      handlers: served.handlers,
      clock,
      logger,
    });
    await server.start();
    // What the node-status block reports on a full kubelet: where the API server finds :10250.
    await rig.admin.request({
      method: "PATCH",
      path: `/api/v1/nodes/${NODE}/status`,
      contentType: "application/merge-patch+json",
      body: {
        status: {
          addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
          daemonEndpoints: { kubeletEndpoint: { Port: server.port } },
        },
      },
    });
    await rig.createPod({
      metadata: { name: "talker" },
      spec: {
        containers: [
          {
            name: "talker",
            image,
            command: ["sh", "-c", 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.2; done'],
            // A real probe for /metrics/probes.
            readinessProbe: { exec: { command: ["true"] }, periodSeconds: 1 },
          },
        ],
      },
    });
    await rig.waitPod("talker", "running", running);
  }, 240_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    served?.stop();
    await server?.stop();
    await rig?.stop();
  });

  it("kubectl logs --tail returns the last lines of the container's CRI log", async () => {
    await waitFor(
      "talker wrote 5 lines",
      async () => ((await kubectl(["logs", "talker"])).stdout.split("\n").length > 5 ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 300,
      },
    );
    const r = await kubectl(["logs", "talker", "--tail=2"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => Number(/^line (\d+)$/.exec(l)?.[1]));
    expect(b).toBe(a! + 1);
  });

  it("kubectl logs --timestamps and --since, --limit-bytes", async () => {
    const ts = await kubectl(["logs", "talker", "--tail=1", "--timestamps"]);
    expect(ts.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) line \d+\n$/);
    const recent = await kubectl(["logs", "talker", "--since=1h"]);
    expect(recent.stdout).toContain("line 0\n");
    const limited = await kubectl(["logs", "talker", "--limit-bytes=4"]);
    expect(limited.stdout).toBe("line");
  });

  it("kubectl logs -f streams lines written after it started", async () => {
    const before = (await kubectl(["logs", "talker", "--tail=1"])).stdout;
    const last = Number(/line (\d+)/.exec(before)?.[1]);
    const f = kubectlStream(["logs", "-f", "talker", "--tail=1"]);
    await waitFor(
      "kubectl logs -f shows newer lines",
      async () => {
        const seen = [...f.out().matchAll(/line (\d+)/g)].map((m) => Number(m[1]));
        return seen.some((n) => n >= last + 5) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; stdout: ${f.out()}; stderr: ${f.err()}`);
    });
    f.child.kill("SIGINT");
  });

  it("kubectl logs --previous shows the last terminated instance; errors as upstream without one", async () => {
    await rig.createPod({
      metadata: { name: "crasher" },
      spec: {
        containers: [
          {
            name: "crasher",
            image,
            command: ["sh", "-c", "echo started $(cat /proc/sys/kernel/random/uuid); exit 1"],
          },
        ],
      },
    });
    await rig.waitPod(
      "crasher",
      "restarted once",
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
    );
    const prev = await kubectl(["logs", "crasher", "--previous"]);
    expect(prev.code, prev.stderr).toBe(0);
    expect(prev.stdout).toMatch(/^started [0-9a-f-]{36}\n$/);
    // The current instance is another run with its own id.
    const current = await kubectl(["logs", "crasher"]);
    if (current.code === 0 && current.stdout) expect(current.stdout).not.toBe(prev.stdout);
    const none = await kubectl(["logs", "talker", "--previous"]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("Error from server (BadRequest)");
    // The kubelet's own answer (kube-apiserver turns it into the Status message; the simulator
    // passes only the code on).
    const direct = await kubeletGet("/containerLogs/default/talker/talker?previous=true");
    expect(direct).toEqual({
      status: 400,
      body: 'previous terminated container "talker" in pod "talker" not found',
    });
  });

  it("kubectl exec returns output and the command's exit code", async () => {
    const ok = await kubectl(["exec", "talker", "--", "sh", "-c", "echo out; echo err >&2"]);
    expect(ok).toMatchObject({ code: 0, stdout: "out\n" });
    expect(ok.stderr).toContain("err\n");
    const failed = await kubectl(["exec", "talker", "--", "sh", "-c", "exit 3"]);
    expect(failed.code).toBe(3);
  });

  it("kubectl exec -i passes stdin to the command", async () => {
    const r = await kubectl(["exec", "-i", "talker", "--", "head", "-n", "1"], "hello from stdin\nsecond\n");
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: "hello from stdin\n" });
  });

  it("kubectl exec -it runs the command on a TTY (kubectl on a pty from script(1))", async () => {
    const cmd = [
      "kubectl",
      "--kubeconfig",
      rig.server.kubeconfigPath,
      "--cache-dir",
      join(rig.tmp, "kubectl-cache"),
      "exec",
      "-it",
      "talker",
      "--",
      "sh",
      "-c",
      // quoted for the shell script(1) runs the command line with
      "'tty; exit 7'",
    ].join(" ");
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile("script", ["-qec", cmd, "/dev/null"], { timeout: 60_000 }, (err, stdout) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout }),
      );
    });
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(7);
    // Without -t there is no terminal in the container.
    const plain = await kubectl(["exec", "talker", "--", "tty"]);
    expect(plain.stdout).toBe("not a tty\n");
  });

  it("kubectl port-forward carries HTTP to a container port", async () => {
    await rig.createPod({
      metadata: { name: "web" },
      spec: { containers: [{ name: "web", image, command: httpd("hello-through-port-forward") }] },
    });
    await rig.waitPod("web", "running", running);
    const pf = kubectlStream(["port-forward", "pod/web", ":8080", "--address=127.0.0.1"]);
    const port = await waitFor(
      "kubectl port-forward listening",
      async () => {
        const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(pf.out());
        return m ? Number(m[1]) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; stderr: ${pf.err()}`);
    });
    const fetchOnce = () =>
      new Promise<string>((resolve, reject) => {
        get({ host: "127.0.0.1", port, path: "/" }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d.toString();
          });
          res.on("end", () => resolve(body));
        }).on("error", reject);
      });
    expect(await fetchOnce()).toBe("hello-through-port-forward\n");
    expect(await fetchOnce()).toBe("hello-through-port-forward\n");
    pf.child.kill("SIGINT");
  });

  const family = (families: PrometheusFamily[], name: string) => {
    const f = families.find((x) => x.name === name);
    if (!f) throw new Error(`metric ${name} missing from the scrape`);
    return f;
  };

  it("/metrics parses as Prometheus text with upstream kubelet metric names", async () => {
    const r = await kubeletGet("/metrics");
    expect(r.status).toBe(200);
    const families = parsePrometheusTextFormat(r.body);
    expect(family(families, "kubelet_node_name").metrics).toEqual([{ labels: { node: NODE }, value: "1" }]);
    expect(Number(family(families, "kubelet_running_pods").metrics[0]?.value)).toBeGreaterThanOrEqual(1);
    const running = family(families, "kubelet_running_containers").metrics.find(
      (m) => m.labels?.container_state === "running",
    );
    expect(Number(running?.value)).toBeGreaterThanOrEqual(1);
    const starts = family(families, "kubelet_pod_start_duration_seconds");
    expect(starts.type).toBe("HISTOGRAM");
    expect(Number(starts.metrics[0]?.count)).toBeGreaterThanOrEqual(1);
    expect(
      Number(family(families, "kubelet_pleg_relist_duration_seconds").metrics[0]?.count),
    ).toBeGreaterThan(0);
  });

  it("/metrics/probes counts the talker's readiness probe with upstream's names and labels", async () => {
    const pod = await rig.admin.request<Pod>({
      method: "GET",
      path: "/api/v1/namespaces/default/pods/talker",
    });
    const { families, body } = await waitFor(
      "two successful readiness probes of talker",
      async () => {
        const r = await kubeletGet("/metrics/probes");
        expect(r.status).toBe(200);
        const f = parsePrometheusTextFormat(r.body);
        const ok = family(f, "prober_probe_total").metrics.find((m) => m.labels?.result === "successful");
        return Number(ok?.value) >= 2 ? { families: f, body: r.body } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const total = family(families, "prober_probe_total");
    expect(total.type).toBe("COUNTER");
    expect(total.metrics.map((m) => m.labels)).toEqual([
      {
        probe_type: "Readiness",
        result: "successful",
        container: "talker",
        pod: "talker",
        namespace: "default",
        pod_uid: pod.metadata.uid,
      },
    ]);
    const duration = family(families, "prober_probe_duration_seconds");
    expect(duration.type).toBe("HISTOGRAM");
    // (The parser drops a histogram's labels: read them from the text.)
    const count = /^prober_probe_duration_seconds_count\{(.*)\} (\S+)$/m.exec(body);
    expect(count?.[1]).toBe('probe_type="Readiness",container="talker",pod="talker",namespace="default"');
    expect(Number(count?.[2])).toBeGreaterThanOrEqual(2);
    expect(Number(family(families, "process_start_time_seconds").metrics[0]?.value)).toBeGreaterThan(0);
  });

  /** The cgroup v1 cpuacct usage (ns) of a container's main process, read from the host. */
  async function containerCpuNs(containerId: string): Promise<number> {
    const { info } = await rig.cri.containerStatus({ containerId, verbose: true });
    const pid = JSON.parse(info.info ?? "{}").pid as number;
    const cgroups = await readFile(`/proc/${pid}/cgroup`, "utf8");
    const v1 = /^\d+:[^:]*cpuacct[^:]*:(.*)$/m.exec(cgroups)?.[1];
    if (v1 !== undefined) return Number(await readFile(`/sys/fs/cgroup/cpuacct${v1}/cpuacct.usage`, "utf8"));
    const v2 = /^0::(.*)$/m.exec(cgroups)![1]!;
    const stat = await readFile(`/sys/fs/cgroup${v2}/cpu.stat`, "utf8");
    return Number(/^usage_usec (\d+)$/m.exec(stat)![1]) * 1000;
  }

  it("/stats/summary has the upstream shape; node and container numbers match the cgroup files", async () => {
    const { containers } = await rig.cri.listContainers({
      filter: { labelSelector: { "io.kubernetes.pod.name": "talker" }, state: { state: 1 } },
    });
    const id = containers[0]!.id;
    const readNodeCpu = async () => Number(await readFile("/sys/fs/cgroup/cpuacct/cpuacct.usage", "utf8"));
    const before = { node: await readNodeCpu(), container: await containerCpuNs(id) };
    const r = await kubeletGet("/stats/summary");
    const after = { node: await readNodeCpu(), container: await containerCpuNs(id) };
    expect(r.status).toBe(200);
    const summary = JSON.parse(r.body) as Summary;
    expect(summary.node.nodeName).toBe(NODE);
    expect(summary.node.startTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const nodeCpu = summary.node.cpu!.usageCoreNanoSeconds!;
    expect(nodeCpu).toBeGreaterThanOrEqual(before.node);
    expect(nodeCpu).toBeLessThanOrEqual(after.node);
    // A rate already on the first request (the kubelet sampled CPU when it started), in nanocores:
    // more than nothing, at most every core busy. A few per mille over that is the millisecond
    // clock's share on a saturated machine; a units mistake would be 1000x.
    expect(summary.node.cpu!.usageNanoCores).toBeGreaterThan(0);
    expect(summary.node.cpu!.usageNanoCores).toBeLessThanOrEqual(cpus().length * 1e9 * 1.01);
    expect(summary.node.memory!.workingSetBytes).toBeGreaterThan(0);
    expect(summary.node.fs!.capacityBytes).toBeGreaterThan(summary.node.fs!.availableBytes!);
    const talker = summary.pods.find((p) => p.podRef.name === "talker");
    expect(talker?.podRef).toMatchObject({ namespace: "default", uid: expect.any(String) });
    const c = talker!.containers.find((x) => x.name === "talker")!;
    // The first stats request reads the runtime, and containerd samples the cgroup when asked: the
    // value lies between our two reads.
    expect(c.cpu!.usageCoreNanoSeconds).toBeGreaterThanOrEqual(before.container);
    expect(c.cpu!.usageCoreNanoSeconds).toBeLessThanOrEqual(after.container);
    expect(c.memory!.workingSetBytes).toBeGreaterThan(0);
    expect(c.logs!.usedBytes).toBeGreaterThan(0);
    expect(talker!["ephemeral-storage"]!.usedBytes).toBeGreaterThanOrEqual(c.logs!.usedBytes!);
    expect(talker!.cpu!.usageCoreNanoSeconds).toBe(c.cpu!.usageCoreNanoSeconds);
  });

  it("/metrics/resource carries node, pod and container usage under upstream names", async () => {
    const r = await kubeletGet("/metrics/resource");
    expect(r.status).toBe(200);
    const families = parsePrometheusTextFormat(r.body);
    expect(family(families, "resource_scrape_error").metrics[0]?.value).toBe("0");
    expect(Number(family(families, "node_cpu_usage_seconds_total").metrics[0]?.value)).toBeGreaterThan(0);
    const cpu = family(families, "container_cpu_usage_seconds_total").metrics.find(
      (m) => m.labels?.pod === "talker" && m.labels.container === "talker",
    );
    expect(cpu?.labels).toEqual({ container: "talker", namespace: "default", pod: "talker" });
    expect(Number(cpu?.value)).toBeGreaterThan(0);
    expect(
      family(families, "pod_memory_working_set_bytes").metrics.some((m) => m.labels?.pod === "talker"),
    ).toBe(true);
  });

  it("every endpoint: 200 for the admin, 403 naming the subresource for a user without rights", async () => {
    const endpoints: [string, string][] = [
      ["/healthz", "healthz proxy"],
      ["/pods", "pods proxy"],
      ["/runningpods/", "pods proxy"],
      ["/metrics", "metrics"],
      ["/metrics/resource", "metrics"],
      ["/metrics/probes", "metrics"],
      ["/stats/summary", "stats"],
      ["/containerLogs/default/talker/talker?tailLines=1", "proxy"],
    ];
    for (const [path, subresources] of endpoints) {
      const admin = await kubeletGet(path);
      expect(admin.status, `${path}: ${admin.body}`).toBe(200);
      expect(await kubeletGet(path, "mallory")).toEqual({
        status: 403,
        body: `Forbidden (user=mallory, verb=get, resource=nodes, subresource(s)=[${subresources}])`,
      });
    }
    const running = JSON.parse((await kubeletGet("/runningpods/")).body);
    expect(running.items.map((p: Pod) => p.metadata.name)).toContain("talker");
  });

  it("kubectl attach streams the container's output", async () => {
    const a = kubectlStream(["attach", "talker"]);
    await waitFor(
      "kubectl attach shows output",
      async () => ((a.out().match(/line \d+\n/g) ?? []).length >= 3 ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; stdout: ${a.out()}; stderr: ${a.err()}`);
    });
    a.child.kill("SIGINT");
  });
});
