// serverTLSBootstrap with the built binary: the kubelet asks the cluster for its serving certificate
// (a kubernetes.io/kubelet-serving CSR that, as upstream, nobody approves automatically), serves
// nothing until `kubectl certificate approve`, then serves :10250 with a certificate of the cluster
// CA naming the node IP; a renewal is swapped into the running server, and kubectl logs works
// through it.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { get as httpsGet } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect } from "node:tls";
import { fileURLToPath } from "node:url";
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
const NODE = "serving-node";
const HOUR_MS = 3_600_000;
/** kube-controller-manager's default --cluster-signing-duration: what the signer issues. */
const SIGNING_DURATION_MS = 8760 * HOUR_MS;
const realComponents = await canUseRealComponents();

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Csr {
  metadata: { name: string };
  spec: { username: string; signerName: string; usages: string[]; request: string };
  status: { certificate?: string; conditions?: { type: string; reason?: string }[] };
}

/** What a TLS client verifying against `caPem` sees on 127.0.0.1:`port`: the peer's serial, or the error. */
function handshake(
  port: number,
  caPem: string,
): Promise<{ serial: string; sans: string } | { error: string }> {
  return new Promise((resolve) => {
    // host 127.0.0.1 and no servername: the certificate must name IP 127.0.0.1 to pass.
    const socket = connect({ host: "127.0.0.1", port, ca: caPem, ALPNProtocols: ["http/1.1"] }, () => {
      const peer = socket.getPeerX509Certificate();
      resolve({ serial: peer?.serialNumber ?? "", sans: peer?.subjectAltName ?? "" });
      socket.end();
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error("handshake timed out")));
    socket.on("error", (err) => resolve({ error: err.message }));
  });
}

describe.runIf(realComponents)("kubenode-kubelet serverTLSBootstrap (kubelet-serving CSR)", () => {
  let dir: string;
  let containerd: Containerd;
  let server: ApiServer;
  let admin: KubeClient;
  let child: ChildProcess | undefined;
  // The simulator's clock runs this far behind (see the rotation step); 0 = in time.
  let signerLagMs = 0;

  beforeAll(async () => {
    builtBin(APP); // the dist/ npm test built; never rebuilt here
    dir = await mkdtemp(join(tmpdir(), "kubenode-server-tls-bootstrap-"));
    [containerd, server] = await Promise.all([
      startContainerd(),
      startApiServer({
        controllers: { nodeLifecycle: false },
        clock: { now: () => Date.now() - signerLagMs },
      }),
    ]);
    admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    admin?.close();
    const results = await Promise.allSettled([containerd?.stop(), server?.stop()]);
    await rm(dir, { recursive: true, force: true });
    const failed = results.filter((x) => x.status === "rejected");
    if (failed.length > 0)
      throw new AggregateError(
        failed.map((f) => f.reason),
        "cleanup failed",
      );
  });

  const servingCsrs = async () =>
    (
      await admin.request<{ items: Csr[] }>({
        method: "GET",
        path: "/apis/certificates.k8s.io/v1/certificatesigningrequests",
      })
    ).items.filter((c) => c.spec.signerName === "kubernetes.io/kubelet-serving");

  /** Runs kubectl as the admin; resolves with stdout, stderr and the exit code. */
  const kubectl = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "kubectl",
        ["--kubeconfig", server.kubeconfigPath, "--cache-dir", join(dir, "kubectl-cache"), ...args],
        { timeout: 60_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
      );
    });

  it("requests, waits for approval, serves the issued certificate, and swaps in a renewal without a restart", async () => {
    const caPem = server.caPem!;
    const port = await freePort();
    const config = join(dir, "kubelet.yaml");
    await writeFile(join(dir, "client-ca.crt"), caPem);
    await writeFile(
      config,
      [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        `podLogsDir: ${join(dir, "logs")}`,
        "nodeStatusUpdateFrequency: 1s",
        "serverTLSBootstrap: true",
        "address: 127.0.0.1",
        `port: ${port}`,
        `healthzPort: ${await freePort()}`,
        "authentication:",
        "  x509:",
        `    clientCAFile: ${join(dir, "client-ca.crt")}`,
        "",
      ].join("\n"),
    );
    const certDir = join(dir, "pki");
    child = spawn(
      process.execPath,
      [
        MAIN,
        `--config=${config}`,
        `--kubeconfig=${await server.kubeconfigFor(`system:node:${NODE}`, ["system:nodes"])}`,
        `--cert-dir=${certDir}`,
        `--container-runtime-endpoint=${containerd.endpoint}`,
        `--hostname-override=${NODE}`,
        "--node-ip=127.0.0.1",
        `--root-dir=${join(dir, "root")}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const kubelet = child;
    let stderr = "";
    kubelet.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const withLog = (err: unknown) => {
      throw new Error(`${(err as Error).message}\nkubelet stderr:\n${stderr}`);
    };

    // 1. The CSR: filed by the node itself, for the kubelet-serving signer, naming the node's
    //    hostname and IP; left Pending (no controller approves kubelet-serving requests).
    const first = await waitFor("a kubelet-serving CSR", async () => (await servingCsrs())[0], {
      timeoutMs: 90_000,
      intervalMs: 250,
    }).catch(withLog);
    expect(first.metadata.name).toMatch(/^csr-[a-z0-9]+$/);
    expect(first.spec).toMatchObject({
      username: `system:node:${NODE}`,
      signerName: "kubernetes.io/kubelet-serving",
      usages: ["digital signature", "server auth"],
    });
    const described = await kubectl("describe", "csr", first.metadata.name);
    expect(described.stdout).toMatch(/Common Name:\s+system:node:serving-node/);
    expect(described.stdout).toMatch(/Organization:\s+system:nodes/);
    expect(described.stdout).toMatch(/DNS Names:\s+serving-node/);
    expect(described.stdout).toMatch(/IP Addresses:\s+127\.0\.0\.1/);
    expect((await kubectl("get", "csr", first.metadata.name)).stdout).toMatch(/\sPending\s*$/m);

    // 2. Until it is issued the port is open but no handshake succeeds, as upstream's kubelet.
    const before = await handshake(port, caPem);
    expect(before).toHaveProperty("error");
    await waitFor(
      "the kubelet to log the refused handshake",
      () => stderr.includes("no serving certificate available for the kubelet") || undefined,
      { timeoutMs: 10_000, intervalMs: 100 },
    );

    // 3. Approved by a human: issued by the cluster CA, and served. The simulator's clock is set
    //    back so that this certificate was issued 95% of a signing duration ago: still valid, but
    //    past its 70-90% rotation deadline, so the kubelet renews it at once.
    signerLagMs = 0.95 * SIGNING_DURATION_MS;
    const approved = await kubectl("certificate", "approve", first.metadata.name);
    expect(approved.stdout).toContain(
      `certificatesigningrequest.certificates.k8s.io/${first.metadata.name} approved`,
    );
    const served = await waitFor(
      "the kubelet to serve the issued certificate",
      async () => {
        const h = await handshake(port, caPem);
        return "serial" in h ? h : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch(withLog);
    expect(served.sans).toBe(`DNS:${NODE}, IP Address:127.0.0.1`);
    const current = join(certDir, "kubelet-server-current.pem");
    expect(await readlink(current)).toMatch(/^kubelet-server-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$/);
    const stored = await readFile(current, "utf8");
    expect(stored).toMatch(/-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN EC PRIVATE KEY-----/);

    // 4. The renewal: a second CSR, filed by the running kubelet. Approved with the clock right,
    //    its certificate is what a NEW connection gets; the process is the same.
    const second = await waitFor(
      "a second kubelet-serving CSR (the renewal)",
      async () => (await servingCsrs()).find((c) => c.metadata.name !== first.metadata.name),
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch(withLog);
    signerLagMs = 0;
    await kubectl("certificate", "approve", second.metadata.name);
    const renewed = await waitFor(
      "a new connection to get the renewed certificate",
      async () => {
        const h = await handshake(port, caPem);
        return "serial" in h && h.serial !== served.serial ? h : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch(withLog);
    expect(renewed.sans).toBe(`DNS:${NODE}, IP Address:127.0.0.1`);
    expect(kubelet.exitCode).toBeNull();
    expect(stderr.match(/"Starting to listen"/g)).toHaveLength(1);
    // Renewed for its whole life now: no third request.
    expect(stderr).toContain('"Serving certificate rotated"');
    expect((await servingCsrs()).map((c) => c.metadata.name).sort()).toEqual(
      [first.metadata.name, second.metadata.name].sort(),
    );

    // The certificate manager's metrics, under upstream's names: seconds until the served
    // certificate expires (the signer's 8760 h less its 5 minutes of backdating, less the test's time).
    const adminUser = JSON.parse(server.kubeconfigText()).users[0].user;
    const metrics = await new Promise<string>((resolve, reject) => {
      httpsGet(
        {
          host: "127.0.0.1",
          port,
          path: "/metrics",
          ca: caPem,
          cert: Buffer.from(adminUser["client-certificate-data"], "base64"),
          key: Buffer.from(adminUser["client-key-data"], "base64"),
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d.toString();
          });
          res.on("end", () => resolve(body));
        },
      ).on("error", reject);
    });
    const ttl = Number(/^kubelet_certificate_manager_server_ttl_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(ttl).toBeGreaterThan(SIGNING_DURATION_MS / 1000 - 3600);
    expect(ttl).toBeLessThanOrEqual(SIGNING_DURATION_MS / 1000 - 300);
    expect(metrics).toMatch(/^kubelet_server_expiration_renew_errors 0$/m);
    // One rotation, of a certificate backdated to 95% of a year's signing duration: the 1-year bucket
    // (bounds printed as Go's client prints them).
    expect(metrics).toMatch(/^kubelet_certificate_manager_server_rotation_seconds_count 1$/m);
    expect(metrics).toMatch(
      /^kubelet_certificate_manager_server_rotation_seconds_bucket\{le="1\.5552e\+07"\} 0$/m,
    );
    expect(metrics).toMatch(
      /^kubelet_certificate_manager_server_rotation_seconds_bucket\{le="3\.1104e\+07"\} 1$/m,
    );

    // 5. kubectl logs reaches the kubelet through the renewed certificate.
    await admin.request({
      method: "POST",
      path: "/api/v1/namespaces/default/pods",
      body: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "greeter", namespace: "default" },
        spec: {
          nodeName: NODE,
          hostNetwork: true,
          containers: [
            {
              name: "main",
              image: containerd.busyboxImage,
              imagePullPolicy: "Never",
              command: ["sh", "-c", "echo hello from the renewed certificate; sleep 3600"],
            },
          ],
        },
      },
    });
    const logs = await waitFor(
      "kubectl logs greeter",
      async () => {
        const r = await kubectl("logs", "greeter");
        return r.code === 0 && r.stdout.includes("hello") ? r.stdout : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    ).catch(withLog);
    expect(logs).toBe("hello from the renewed certificate\n");
    const after = await handshake(port, caPem);
    expect(after).toEqual(renewed);

    kubelet.kill("SIGTERM");
    expect(await new Promise((r) => kubelet.once("exit", r))).toBe(0);
  }, 300_000);
});
