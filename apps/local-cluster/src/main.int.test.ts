import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { canUseRealComponents, run as runCommand, waitFor } from "@kubenode/testkit";
import { afterEach, describe, expect, it } from "vitest";

const real = await canUseRealComponents();
// The built binary, as users run it (turbo builds the app before its tests).
const main = join(import.meta.dirname, "..", "dist", "main.js");
const run = promisify(execFile);

let workDirs: string[] = [];
afterEach(async (ctx) => {
  // A failed run's evidence is in its agents' logs: print their tails before the directory goes.
  if (ctx.task.result?.state === "fail")
    for (const dir of workDirs) printLogTails(join(dir, ".kubenode", "logs"));
  for (const dir of workDirs) await rm(dir, { recursive: true, force: true });
  workDirs = [];
});

/** The last lines of every log the demo wrote under `logsDir`, on stderr. */
function printLogTails(logsDir: string, lines = 60): void {
  if (!existsSync(logsDir)) return;
  for (const file of readdirSync(logsDir).sort()) {
    if (!statSync(join(logsDir, file)).isFile()) continue;
    const tail = readFileSync(join(logsDir, file), "utf8").trimEnd().split("\n").slice(-lines);
    console.error(`--- last ${tail.length} lines of ${file} ---\n${tail.join("\n")}`);
  }
}
/** A directory standing in for where the user typed `npm run demo` (logs go under it). */
async function userDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kubenode-demo-test-"));
  workDirs.push(dir);
  return dir;
}

/** What a demo process with this pid could have left: instance dirs, processes, namespaces, mounts. */
async function leftoversOf(pid: number): Promise<string[]> {
  const tag = new RegExp(`^kn-[a-z]+-${pid}-`);
  const dirs = readdirSync(tmpdir()).filter((e) => tag.test(e));
  const processes = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
        return dirs.some((d) => cmd.includes(d)) || new RegExp(`/kn-[a-z]+-${pid}-`).test(cmd)
          ? [`process ${p}: ${cmd}`]
          : [];
      } catch {
        return [];
      }
    });
  // Pods' container processes: their mount tables name the containerd directory of the run.
  const containers = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        return readFileSync(`/proc/${p}/mountinfo`, "utf8").includes(`/kn-containerd-${pid}-`) &&
          !readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`kn-containerd-${pid}-`)
          ? [`container process ${p}: ${readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ")}`]
          : [];
      } catch {
        return [];
      }
    });
  const netns = (await runCommand(["ip", "netns", "list"])).stdout
    .split("\n")
    .filter((l) => l.startsWith(`kn-${pid}-`))
    .map((l) => `netns ${l.split(" ")[0]}`);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => new RegExp(`/kn-[a-z]+-${pid}-`).test(l))
    .map((l) => `mount ${l.split(" ")[4]}`);
  return [...dirs.map((d) => `dir ${d}`), ...processes, ...containers, ...netns, ...mounts];
}

describe.runIf(real)("kubenode-local-cluster demo", () => {
  it("brings a cluster up with the real kubelet and kube-proxy, drives it with kubectl, stays up with --keep until Ctrl-C, and tears down", async () => {
    const cwd = await userDir();
    const child = spawn(process.execPath, [main, "demo", "--keep"], { cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    await waitFor(
      "the demo to finish its walkthrough and stay up",
      () => {
        if (child.exitCode !== null)
          throw new Error(`the demo exited ${child.exitCode}:\n${stdout}\n${stderr}`);
        return stdout.includes("Ctrl-C tears it down") ? true : undefined;
      },
      { timeoutMs: 480_000, intervalMs: 200 },
    );
    // The user's own kubectl, with the kubeconfig the demo wrote where it was run.
    const kubeconfig = join(cwd, ".kubenode", "kubeconfig");
    const mine = await run("kubectl", ["--kubeconfig", kubeconfig, "get", "nodes,pods", "-o", "wide"]);
    expect(mine.stdout).toMatch(/node\/kubenode-1\s+Ready\s/);
    expect(mine.stdout).toMatch(
      /pod\/web-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running\s.*10\.244\.1\.\d+\s+kubenode-1/,
    );
    // kubectl logs, exec and port-forward: through the simulator on the host to the kubelet's :10250
    // in the node's namespace.
    const k = (args: string[]) => run("kubectl", ["--kubeconfig", kubeconfig, ...args], { timeout: 60_000 });
    const pods = JSON.parse((await k(["get", "pods", "-l", "app=web", "-o", "json"])).stdout) as {
      items: { metadata: { name: string; deletionTimestamp?: string }; status: { phase: string } }[];
    };
    const pod = pods.items.find((p) => p.status.phase === "Running" && !p.metadata.deletionTimestamp)
      ?.metadata.name;
    expect(pod).toBeDefined();
    expect((await k(["logs", `${pod}`])).stdout).toContain(`serving as ${pod} on :8080\n`);
    expect((await k(["exec", `${pod}`, "--", "echo", "hello", "from", "exec"])).stdout).toBe(
      "hello from exec\n",
    );
    const failed = await k(["exec", `${pod}`, "--", "sh", "-c", "echo out; exit 3"]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed).toMatchObject({ code: 3, stdout: "out\n" });
    const pf = spawn("kubectl", [
      "--kubeconfig",
      kubeconfig,
      "port-forward",
      `pod/${pod}`,
      ":8080",
      "--address=127.0.0.1",
    ]);
    try {
      let forwarding = "";
      pf.stdout.on("data", (d: Buffer) => {
        forwarding += d.toString();
      });
      const port = await waitFor(
        "kubectl port-forward to listen",
        () => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(forwarding)?.[1],
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const answer = await fetch(`http://127.0.0.1:${port}/`);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe(`hello from ${pod}\n`);
    } finally {
      pf.kill("SIGINT");
    }
    // The kubelet's Summary API and metrics through the nodes/proxy subresource.
    const summary = JSON.parse(
      (await k(["get", "--raw", "/api/v1/nodes/kubenode-1/proxy/stats/summary"])).stdout,
    );
    expect(summary.node.nodeName).toBe("kubenode-1");
    expect(summary.node.memory.workingSetBytes).toBeGreaterThan(0);
    expect(summary.pods.map((p: { podRef: { name: string } }) => p.podRef.name)).toContain(pod);
    const metrics = (await k(["get", "--raw", "/api/v1/nodes/kubenode-1/proxy/metrics"])).stdout;
    expect(metrics).toMatch(/^kubelet_node_name\{node="kubenode-1"\} 1$/m);
    expect(metrics).toMatch(/^kubelet_running_pods(\{[^}]*\})? [1-9]\d*$/m);
    child.kill("SIGINT");
    expect(await exited, `${stdout}\n${stderr}`).toBe(0);

    // The agents are the real binaries, each its own process with a log.
    expect(stdout).toMatch(/started kubelet on kubenode-1: pid \d+/);
    expect(stdout).toMatch(/started kube-proxy on kubenode-1: pid \d+/);
    expect(stdout).toMatch(/\$ kubenode-1\s+Ready\s+<none>\s+\S+\s+v[\d.]+\s+10\.77\.0\.10/);
    expect(stdout).toMatch(
      /\$ web-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s+\S+\s+10\.244\.1\.\d+\s+kubenode-1/,
    );
    // The Service spreads over different pods, on its ClusterIP and on a NodePort from outside.
    expect(stdout).toMatch(
      /20 requests to http:\/\/10\.\d+\.\d+\.\d+\/ from kubenode-1: [23] different pods answered/,
    );
    expect(stdout).toMatch(
      /20 requests to NodePort http:\/\/10\.77\.0\.10:3\d{4}\/ from a client outside the cluster: [23] different pods answered/,
    );
    expect(stdout).toMatch(/5 pods answer through the ClusterIP .* 5 different pods answered/);
    expect(stdout).toMatch(/deployment "web" successfully rolled out/);
    expect(stdout).toMatch(/rolled out in .*; meanwhile \d+ requests answered/);
    expect(stdout).toMatch(/\$ web-[a-z0-9]+\s+5\s+5\s+5\s+\S+\s+busybox\s+\S+kubenode\/busybox:2\.0/);
    // kubectl logs, exec (output and exit code) and port-forward as the demo shows them, and a Job.
    expect(stdout).toMatch(/\$ kubectl logs (web-[a-z0-9]+-[a-z0-9]{5}) --tail=3 .*\n\s+\$ \S/);
    expect(stdout).toMatch(
      /\$ kubectl exec (web-[a-z0-9]+-[a-z0-9]{5}) -- echo hello from exec .*\n\s+\$ hello from exec\n\s+\$ \1 runs Linux\n/,
    );
    expect(stdout).toMatch(/\$ kubectl exec web-\S+ -- sh -c 'exit 3' +-> kubectl exits 3/);
    expect(stdout).toMatch(/\$ Forwarding from 127\.0\.0\.1:\d+ -> 8080/);
    expect(stdout).toMatch(
      /GET http:\/\/127\.0\.0\.1:\d+\/ on this machine: hello from web-[a-z0-9]+-[a-z0-9]{5} /,
    );
    expect(stdout).toMatch(
      /\$ kubectl get --raw \/api\/v1\/nodes\/kubenode-1\/proxy\/stats\/summary .*\n\s+node kubenode-1: CPU \d+m, memory working set \d+ MiB; \d+ pods: web-/,
    );
    expect(stdout).toMatch(
      /\$ kubectl get --raw \/api\/v1\/nodes\/kubenode-1\/proxy\/metrics .*\n(.*\n)*\s+kubelet_node_name\{node="kubenode-1"\} 1\n/,
    );
    expect(stdout).toMatch(/\$ count\s+Complete\s+1\/1/);
    expect(stdout).toMatch(/\$ step 3\n.*\$ done\n/);
    // A pod with a configMap volume and probes: Ready through its readiness probe, the configMap's
    // content served, and an update reaching the running container.
    expect(stdout).toMatch(/\$ site\s+1\/1\s+Running\s/);
    expect(stdout).toContain("$ kubectl exec site -- cat /site/index.html   -> hello from a configMap");
    expect(stdout).toMatch(/the running pod reads "hello again" .* after the patch .*same container/);
    // Teardown says what it removed, and it really is gone, the kubeconfig too.
    for (const what of [
      "kubenode-1's kubelet port forwarder",
      "kube-proxy on kubenode-1",
      "kubelet on kubenode-1",
      "containerd on kubenode-1",
      "registry",
      "node network namespaces",
      "API server",
    ])
      expect(stdout).toContain(`done: ${what}`);
    expect(await leftoversOf(child.pid ?? 0)).toEqual([]);
    expect(existsSync(kubeconfig)).toBe(false);
    // Component logs outlive the teardown, where the user ran the demo.
    const logs = join(cwd, ".kubenode", "logs");
    expect(stdout).toContain(`logs: ${logs}`);
    for (const f of ["containerd-kubenode-1.log", "kubelet-kubenode-1.log", "kube-proxy-kubenode-1.log"])
      expect(existsSync(join(logs, f)), f).toBe(true);
    expect(readFileSync(join(logs, "kubelet-kubenode-1.log"), "utf8")).toContain("Started kubelet");
  }, 600_000);

  it("--nodes 3 --virtual-nodes 200: pods spread over three nodes reach each other, every NodePort answers, drain moves pods off a node; virtual nodes are Ready and get no pods", async () => {
    const cwd = await userDir();
    const child = spawn(process.execPath, [main, "demo", "--nodes", "3", "--virtual-nodes", "200"], { cwd });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code, stdout).toBe(0);
    for (const [n, ip] of [
      [1, 10],
      [2, 11],
      [3, 12],
    ]) {
      expect(stdout).toMatch(
        new RegExp(`\\$ kubenode-${n}\\s+Ready\\s+<none>\\s+\\S+\\s+v[\\d.]+\\s+10\\.77\\.0\\.${ip}`),
      );
      expect(stdout).toMatch(
        new RegExp(
          `20 requests to NodePort http://10\\.77\\.0\\.${ip}:3\\d{4}/ from a client outside the cluster: [23] different pods`,
        ),
      );
    }
    // The scheduler spreads the three pods, one per node, on each node's own pod subnet.
    for (const n of [1, 2, 3])
      expect(stdout).toMatch(
        new RegExp(`\\$ web-\\S+\\s+1/1\\s+Running\\s.*10\\.244\\.${n}\\.\\d+\\s+kubenode-${n}`),
      );
    // Pod to pod across nodes, through the routes between the node namespaces.
    const crossNode = [
      ...stdout.matchAll(
        /(web-\S+) \((kubenode-\d), [\d.]+\) -> (web-\S+) \((kubenode-\d), [\d.]+:8080\): hello from (\S+)/g,
      ),
    ];
    expect(crossNode.length).toBe(2);
    for (const [, , fromNode, to, toNode, answered] of crossNode) {
      expect(toNode).not.toBe(fromNode);
      expect(answered).toBe(to);
    }
    expect(stdout).toMatch(/10 requests from web-\S+ to the Service [\d.]+:80: [23] different pods answered/);
    expect(stdout).toContain("node/kubenode-3 drained");
    expect(stdout).toMatch(/drained and back to 5 Ready pods in .*: (web-\S+ on kubenode-[12](, )?){5}$/m);
    expect(stdout).toContain("node/kubenode-3 uncordoned");
    // Virtual nodes: registered and Ready, leases renewed, and no pod ever placed on one.
    expect(stdout).toMatch(/200 nodes registered in /);
    expect(stdout).toMatch(/kubectl get nodes: 203 nodes in /);
    expect(stdout).toMatch(/\$ virtual-0001\s+Ready\s/);
    // (A renewal may fail under heavy load and is retried; every lease is fresh at the end.)
    expect(stdout).toMatch(/virtual nodes: \d+ lease renewals, \d+ failed, 200\/200 fresh at the end/);
    const podRows = stdout.split("\n").filter((l) => /^\s+\$ (web|count)-\S+ /.test(l));
    expect(podRows.length).toBeGreaterThan(0);
    expect(podRows.filter((l) => l.includes("virtual-"))).toEqual([]);
    for (const n of [1, 2, 3]) {
      expect(stdout).toContain(`done: kubelet on kubenode-${n}`);
      expect(stdout).toContain(`done: containerd on kubenode-${n}`);
    }
    expect(await leftoversOf(child.pid ?? 0)).toEqual([]);
  }, 600_000);

  it("--down removes everything a demo killed with SIGKILL mid-run left behind", async () => {
    const cwd = await userDir();
    const child = spawn(process.execPath, [main, "demo"], { cwd });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // Killed while everything runs: containerd with pods, the kubelet, kube-proxy, the registry.
    await waitFor(
      "the demo to run its pods",
      () => {
        if (child.exitCode !== null) throw new Error(`the demo exited ${child.exitCode}:\n${stdout}`);
        return stdout.includes("service/web exposed") ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 100 },
    );
    child.kill("SIGKILL");
    await exited;
    const pid = child.pid ?? 0;
    const left = await leftoversOf(pid);
    for (const what of ["containerd", "kn-kubelet-", "kn-proxy-"])
      expect(
        left.some((l) => l.startsWith("process ") && l.includes(what)),
        what,
      ).toBe(true);
    expect(
      left.some((l) => l.startsWith("container process ") && l.includes("httpd")),
      left.join("\n"),
    ).toBe(true);
    expect(left.some((l) => l.startsWith("netns "))).toBe(true);
    expect(existsSync(join(cwd, ".kubenode", "kubeconfig"))).toBe(true);

    const down = await run(process.execPath, [main, "demo", "--down"], { cwd, timeout: 120_000 });
    expect(down.stdout).toMatch(/^removed:/m);
    expect(down.stdout).toContain(`kn-containerd-${pid}-`);
    expect(down.stdout).toContain(`kn-kubelet-${pid}-`);
    expect(down.stdout).toContain(join(cwd, ".kubenode", "kubeconfig"));
    expect(await leftoversOf(pid)).toEqual([]);
    expect(existsSync(join(cwd, ".kubenode", "kubeconfig"))).toBe(false);
    // A second sweep finds nothing of this run.
    const again = await run(process.execPath, [main, "demo", "--down"], { cwd, timeout: 120_000 });
    expect(again.stdout).not.toContain(`-${pid}-`);
  }, 600_000);

  it("refuses a bad --nodes, naming it", async () => {
    const err = await run(process.execPath, [main, "demo", "--nodes", "0"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2, stderr: expect.stringContaining('--nodes wants 1 to 5, got "0"') });
  });

  it("prints usage and exits 2 for an unknown command", async () => {
    const err = await run(process.execPath, [main, "bogus"]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stdout: string }).stdout).toMatch(/Usage: kubenode-local-cluster demo/);
  });
});
