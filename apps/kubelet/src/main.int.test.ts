// The kubenode-kubelet binary, built and run as a user runs it: command-line errors, and a real
// run against the API simulator and a private containerd that registers the node, runs a static
// pod with its mirror pod, and stops cleanly on SIGTERM.
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createCriClient } from "@kubenode/cri-client";
import { createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import {
  type ApiServer,
  type Containerd,
  canUseRealComponents,
  startApiServer,
  startContainerd,
  waitFor,
} from "@kubenode/testkit";
import { builtBin } from "@kubenode/vitest-config/built";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP = join(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(APP, "dist", "main.js");
const execFileAsync = promisify(execFile);

let dir: string;

beforeAll(async () => {
  builtBin(APP); // the dist/ npm test built; never rebuilt here
  dir = await mkdtemp(join(tmpdir(), "kubenode-kubelet-cli-"));
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A port free on 127.0.0.1 right now (the kubelet's ports must be fixed numbers). */
async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** GET over HTTP(S) on 127.0.0.1, not verifying the kubelet's self-signed certificate. */
function fetchLocal(
  port: number,
  path: string,
  tls?: { cert?: string; key?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const done = (res: import("node:http").IncomingMessage) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = tls
      ? httpsRequest({ host: "127.0.0.1", port, path, rejectUnauthorized: false, ...tls }, done)
      : httpGet({ host: "127.0.0.1", port, path }, done);
    req.on("error", reject);
    req.end();
  });
}

function kubelet(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("kubenode-kubelet command line", () => {
  it("prints --version and --help and exits 0", () => {
    const version = kubelet("--version");
    expect(version).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^kubenode-kubelet v\d+\.\d+\.\d+/),
    });
    const raw = kubelet("--version=raw");
    expect(JSON.parse(raw.stdout)).toMatchObject({
      gitVersion: expect.stringMatching(/^v/),
      nodeVersion: process.version,
    });
    const help = kubelet("--help");
    expect(help.code).toBe(0);
    for (const flag of [
      "--config",
      "--kubeconfig",
      "--container-runtime-endpoint",
      "--hostname-override",
      "--node-ip",
      "--node-labels",
      "--register-with-taints",
      "--register-node",
      "--pod-manifest-path",
      "--root-dir",
      "--max-pods",
      "--cluster-dns",
      "--cluster-domain",
      "--runtime-request-timeout",
      "--eviction-hard",
      "--eviction-soft",
      "--eviction-soft-grace-period",
      "--eviction-minimum-reclaim",
      "--v",
      "--logging-format",
    ])
      expect(help.stdout).toContain(flag);
  });

  it("exits 1 naming an unknown flag or a bad flag value", () => {
    const unknown = kubelet("--no-such-flag");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^E\d{4} [\d:.]+ +\d+ kubelet\] "command failed" err="failed to parse kubelet flag: unknown flag: --no-such-flag"\n/,
    );
    expect(unknown.stderr).toContain("Run 'kubenode-kubelet --help' for usage.");
    const bad = kubelet("--max-pods=many");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid argument \\"many\\" for \\"--max-pods\\" flag');
  });

  it("exits 1 naming unknown and mistyped fields of the config file", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPod: 20\nregisterNode: sometimes\n",
    );
    const r = kubelet(`--config=${file}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `failed to load kubelet config file, path: ${file}, error: strict decoding error: unknown field \\"maxPod\\"`,
    );
    const typed = join(dir, "typed.yaml");
    await writeFile(
      typed,
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nregisterNode: sometimes\n",
    );
    expect(kubelet(`--config=${typed}`).stderr).toContain(
      "cannot unmarshal string into field registerNode of type bool",
    );
  });

  it("refuses to start with a node label in a kubernetes.io namespace outside the allowed set", () => {
    const r = kubelet("--node-labels=node-role.kubernetes.io/worker=,team=a");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [node-role.kubernetes.io/worker]",
    );
  });

  it("exits 1 naming an unreachable runtime socket or a missing kubeconfig", () => {
    const socket = join(dir, "no-such.sock");
    const runtime = kubelet(
      `--container-runtime-endpoint=unix://${socket}`,
      `--root-dir=${join(dir, "root-x")}`,
    );
    expect(runtime.code).toBe(1);
    expect(runtime.stderr).toContain(
      `"command failed" err="cannot reach the CRI runtime at unix://${socket}`,
    );
    const kubeconfig = kubelet(`--kubeconfig=${join(dir, "missing.conf")}`);
    expect(kubeconfig.code).toBe(1);
    expect(kubeconfig.stderr).toContain(`invalid kubeconfig \\"${join(dir, "missing.conf")}\\"`);
  });

  it("exits 1 for an unsupported --logging-format", () => {
    const r = kubelet("--logging-format=xml");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'logging.format: Unsupported value: \\"xml\\": supported values: \\"json\\", \\"text\\"',
    );
  });
});

const realComponents = await canUseRealComponents();

describe.runIf(realComponents)("kubenode-kubelet against the API simulator and containerd", () => {
  let containerd: Containerd;
  let server: ApiServer;
  let admin: KubeClient;
  let child: ChildProcess | undefined;
  let stderr = "";
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    [containerd, server] = await Promise.all([
      startContainerd(),
      startApiServer({ controllers: { nodeLifecycle: false } }),
    ]);
    cleanup.push(
      () => containerd.stop(),
      () => server.stop(),
    );
    admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
    cleanup.push(async () => admin.close());
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    const errors: unknown[] = [];
    for (const fn of cleanup.reverse()) await fn().catch((e) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  });

  it("registers the node Ready, runs a static pod with its mirror pod, and exits 0 on SIGTERM", async () => {
    const manifests = join(dir, "manifests");
    const root = join(dir, "root");
    await rm(manifests, { recursive: true, force: true });
    const { mkdir } = await import("node:fs/promises");
    await mkdir(manifests, { recursive: true });
    await writeFile(
      join(manifests, "static-web.yaml"),
      [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        "  name: static-web",
        "  namespace: default",
        "spec:",
        "  hostNetwork: true",
        "  containers:",
        "    - name: sleeper",
        `      image: ${containerd.busyboxImage}`,
        "      imagePullPolicy: Never",
        '      command: ["sleep", "3600"]',
        "",
      ].join("\n"),
    );
    const config = join(dir, "kubelet.yaml");
    await writeFile(
      config,
      [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        `staticPodPath: ${manifests}`,
        `podLogsDir: ${join(dir, "logs")}`,
        "fileCheckFrequency: 1s",
        "nodeStatusUpdateFrequency: 1s",
        "maxPods: 20",
        "address: 127.0.0.1",
        `port: ${await freePort()}`,
        `healthzPort: ${await freePort()}`,
        "authentication:",
        "  x509:",
        `    clientCAFile: ${join(dir, "client-ca.crt")}`,
        "",
      ].join("\n"),
    );
    await writeFile(join(dir, "client-ca.crt"), server.caPem!);
    const kubeconfig = await server.kubeconfigFor("system:node:cli-node");
    child = spawn(
      process.execPath,
      [
        MAIN,
        `--config=${config}`,
        `--kubeconfig=${kubeconfig}`,
        `--container-runtime-endpoint=${containerd.endpoint}`,
        "--hostname-override=CLI-Node",
        "--node-ip=127.0.0.1",
        "--node-labels=node.kubernetes.io/pool=cli",
        `--root-dir=${root}`,
        "--max-pods=15",
        "--v=2",
        "--logging-format=json",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));

    const node = await waitFor(
      "node cli-node Ready",
      async () => {
        const n = await admin
          .request<{
            metadata: { labels?: Record<string, string> };
            status?: { capacity?: Record<string, string>; conditions?: { type: string; status: string }[] };
          }>({
            method: "GET",
            path: "/api/v1/nodes/cli-node",
          })
          .catch(() => undefined);
        return n?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? n : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\nkubelet stderr:\n${stderr}`);
    });
    expect(node.metadata.labels?.["node.kubernetes.io/pool"]).toBe("cli");
    // The flag overrides the file.
    expect(node.status?.capacity?.pods).toBe("15");

    const mirror = await waitFor(
      "mirror pod of static-web Running",
      async () => {
        const p = await admin
          .request<{ metadata: { annotations?: Record<string, string> }; status?: { phase?: string } }>({
            method: "GET",
            path: "/api/v1/namespaces/default/pods/static-web-cli-node",
          })
          .catch(() => undefined);
        return p?.status?.phase === "Running" ? p : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\nkubelet stderr:\n${stderr}`);
    });
    expect(mirror.metadata.annotations?.["kubernetes.io/config.mirror"]).toBeTruthy();
    // kubectl, an independent client, sees a normal node and pod. (Asynchronously: the simulator
    // serves from this process.)
    const kubectl = async (...args: string[]) =>
      (await execFileAsync("kubectl", ["--kubeconfig", server.kubeconfigPath, ...args])).stdout;
    const nodes = await kubectl("get", "nodes", "-o", "wide");
    // (The simulator's node table stops at INTERNAL-IP; a real API server adds OS, kernel and runtime.)
    expect(nodes).toMatch(/^cli-node\s+Ready\s+<none>\s+\S+\s+v\d+\.\d+\.\d+\s+127\.0\.0\.1\b/m);
    const pods = await kubectl("get", "pods", "-o", "wide");
    expect(pods).toMatch(/^static-web-cli-node\s+1\/1\s+Running\s+0\s+\S+\s+\S+\s+cli-node\s/m);

    const records = () =>
      stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records()).toContainEqual(
      expect.objectContaining({ msg: "Started kubelet", v: 0, node: "cli-node", ts: expect.any(Number) }),
    );
    // The :10250 server (on the configured port) lists the pod for the admin's client certificate
    // and refuses requests without credentials; /healthz answers on the healthz port.
    const conf = await import("node:fs/promises").then((fs) => fs.readFile(config, "utf8"));
    const port = Number(/^port: (\d+)$/m.exec(conf)![1]);
    const healthzPort = Number(/^healthzPort: (\d+)$/m.exec(conf)![1]);
    const adminUser = JSON.parse(server.kubeconfigText()).users[0].user;
    const adminTls = {
      cert: Buffer.from(adminUser["client-certificate-data"], "base64").toString(),
      key: Buffer.from(adminUser["client-key-data"], "base64").toString(),
    };
    const podList = await fetchLocal(port, "/pods", adminTls);
    expect(podList.status).toBe(200);
    expect(
      JSON.parse(podList.body).items.map((p: { metadata: { name: string } }) => p.metadata.name),
    ).toContain("static-web-cli-node");
    expect(await fetchLocal(port, "/pods", {})).toEqual({ status: 401, body: "Unauthorized" });
    expect(await fetchLocal(healthzPort, "/healthz")).toEqual({ status: 200, body: "ok" });

    child.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000)),
    ]);
    expect(code, `kubelet stderr:\n${stderr}`).toBe(0);
    expect(records()).toContainEqual(
      expect.objectContaining({ msg: "Received signal, shutting down", signal: "SIGTERM" }),
    );
    // Every line on stderr is a JSON record.
    expect(stderr.split("\n").filter((l) => l !== "" && !l.startsWith("{"))).toEqual([]);

    // The static pod's container keeps running after the kubelet stops (adopted by the next
    // start); remove it so the private containerd stops clean.
    const listed = await containerd.ctr(["containers", "list", "-q"]);
    expect(listed.trim()).not.toBe("");
  }, 240_000);

  it("without --kubeconfig runs static pods only (standalone) and exits 0 on SIGINT", async () => {
    const manifests = join(dir, "standalone-manifests");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(manifests, { recursive: true });
    await writeFile(
      join(manifests, "solo.json"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "solo", namespace: "default" },
        spec: {
          hostNetwork: true,
          containers: [
            {
              name: "solo",
              image: containerd.busyboxImage,
              imagePullPolicy: "Never",
              command: ["sleep", "3600"],
            },
          ],
        },
      }),
    );
    let err = "";
    const solo = spawn(
      process.execPath,
      [
        MAIN,
        `--pod-manifest-path=${manifests}`,
        `--container-runtime-endpoint=${containerd.endpoint}`,
        "--hostname-override=solo-node",
        `--root-dir=${join(dir, "standalone-root")}`,
        "--address=127.0.0.1",
        `--port=${await freePort()}`,
        "--healthz-port=0",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    cleanup.push(async () => {
      if (solo.exitCode === null) solo.kill("SIGKILL");
    });
    solo.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => solo.once("exit", (code) => resolve(code)));
    // The static pod's container runs on containerd, labelled as the kubelet labels it.
    await waitFor(
      "static pod solo running on containerd",
      async () => {
        const out = await containerd.ctr(["containers", "list"]);
        const labels = await Promise.all(
          out
            .split("\n")
            .slice(1)
            .map((l) => l.split(/\s+/)[0])
            .filter((id): id is string => Boolean(id))
            .map((id) => containerd.ctr(["containers", "info", id]).catch(() => "")),
        );
        return labels.some((info) => info.includes('"io.kubernetes.pod.name": "solo-solo-node"'))
          ? true
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\nkubelet stderr:\n${err}`);
    });
    expect(err).toContain('"Standalone mode, no API client: running static pods only"');
    // No Node was registered for it.
    await expect(admin.request({ method: "GET", path: "/api/v1/nodes/solo-node" })).rejects.toMatchObject({
      code: "NotFound",
    });
    solo.kill("SIGINT");
    const code = await Promise.race([
      exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000)),
    ]);
    expect(code, `kubelet stderr:\n${err}`).toBe(0);
    expect(err).toContain('"Received signal, shutting down" signal="SIGINT"');
  }, 240_000);

  it("with shutdownGracePeriod, SIGTERM terminates regular pods, then critical ones, and reports upstream's reasons", async () => {
    const root = join(dir, "shutdown-root");
    const manifests = join(dir, "shutdown-manifests");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(manifests, { recursive: true });
    // The static pod is critical (upstream IsCriticalPod); `sleep` as PID 1 ignores SIGTERM, so it
    // only goes at the end of its grace period.
    await writeFile(
      join(manifests, "critical.json"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "critical", namespace: "default" },
        spec: {
          hostNetwork: true,
          containers: [
            {
              name: "c",
              image: containerd.busyboxImage,
              imagePullPolicy: "Never",
              command: ["sleep", "3600"],
            },
          ],
        },
      }),
    );
    const config = join(dir, "shutdown.yaml");
    await writeFile(
      config,
      [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        `staticPodPath: ${manifests}`,
        `podLogsDir: ${join(dir, "shutdown-logs")}`,
        "fileCheckFrequency: 1s",
        "nodeStatusUpdateFrequency: 1s",
        "address: 127.0.0.1",
        `port: ${await freePort()}`,
        "healthzPort: 0",
        "shutdownGracePeriod: 8s",
        "shutdownGracePeriodCriticalPods: 3s",
        "",
      ].join("\n"),
    );
    let err = "";
    const child = spawn(
      process.execPath,
      [
        MAIN,
        `--config=${config}`,
        `--kubeconfig=${await server.kubeconfigFor("system:node:shut-node")}`,
        `--container-runtime-endpoint=${containerd.endpoint}`,
        "--hostname-override=shut-node",
        "--node-ip=127.0.0.1",
        `--root-dir=${root}`,
        "--v=4",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await admin.request({
      method: "POST",
      path: "/api/v1/namespaces/default/pods",
      body: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "regular" },
        spec: {
          nodeName: "shut-node",
          hostNetwork: true,
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: "r",
              image: containerd.busyboxImage,
              imagePullPolicy: "Never",
              command: ["sh", "-c", 'trap "exit 0" TERM; while true; do sleep 0.2; done'],
            },
          ],
        },
      },
    });
    type ApiPod = {
      status?: {
        phase?: string;
        reason?: string;
        message?: string;
        conditions?: { type: string; status: string; reason?: string; message?: string }[];
      };
    };
    const getPod = (name: string) =>
      admin
        .request<ApiPod>({ method: "GET", path: `/api/v1/namespaces/default/pods/${name}` })
        .catch(() => undefined);
    await waitFor(
      "regular and critical pods Running",
      async () =>
        (await getPod("regular"))?.status?.phase === "Running" &&
        (await getPod("critical-shut-node"))?.status?.phase === "Running"
          ? true
          : undefined,
      { timeoutMs: 90_000, intervalMs: 250 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\nkubelet stderr:\n${err}`);
    });

    child.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 90_000)),
    ]);
    expect(code, `kubelet stderr:\n${err}`).toBe(0);

    const regular = await getPod("regular");
    expect(regular?.status).toMatchObject({
      phase: "Failed",
      reason: "Terminated",
      message: "Pod was terminated in response to imminent node shutdown.",
    });
    expect(regular?.status?.conditions).toContainEqual(
      expect.objectContaining({
        type: "DisruptionTarget",
        status: "True",
        reason: "TerminationByKubelet",
        message: "Pod was terminated in response to imminent node shutdown.",
      }),
    );
    expect((await getPod("critical-shut-node"))?.status, `kubelet stderr:\n${err}`).toMatchObject({
      phase: "Failed",
      reason: "Terminated",
    });
    const node = await admin.request<{
      status?: { conditions?: { type: string; status: string; message?: string }[] };
    }>({
      method: "GET",
      path: "/api/v1/nodes/shut-node",
    });
    expect(node.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      message: "node is shutting down",
    });
    // Order: the regular pod's container ended before the critical pod's was stopped.
    const cri = createCriClient({ endpoint: containerd.endpoint });
    try {
      const finished = async (pod: string) => {
        const { containers } = await cri.listContainers({
          filter: { labelSelector: { "io.kubernetes.pod.name": pod } },
        });
        const { status } = await cri.containerStatus({ containerId: containers[0]!.id });
        return status!.finishedAt;
      };
      const regularEnd = await finished("regular");
      const criticalEnd = await finished("critical-shut-node");
      expect(regularEnd).toBeGreaterThan(0n);
      expect(criticalEnd).toBeGreaterThan(regularEnd);
    } finally {
      cri.close();
    }
  }, 240_000);
});
