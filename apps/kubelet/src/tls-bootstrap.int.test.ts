// Kubelet TLS bootstrap with the built binary: from a bootstrap token to a node client certificate
// (a CSR auto-approved and signed by the simulator's csrapproving and csrsigning controllers), the
// kubeconfig written for it, and the node registered under the issued identity system:node:<name>.
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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
const NODE = "tls-node";
const BOOTSTRAP_USER = "system:bootstrap:abcdef";
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
  spec: { username: string; groups: string[]; signerName: string; usages: string[] };
  status: { certificate?: string; conditions?: { type: string; reason: string }[] };
}

describe.runIf(realComponents)("kubenode-kubelet --bootstrap-kubeconfig (TLS bootstrap)", () => {
  let dir: string;
  let containerd: Containerd;
  let server: ApiServer;
  let admin: KubeClient;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    builtBin(APP); // the dist/ npm test built; never rebuilt here
    dir = await mkdtemp(join(tmpdir(), "kubenode-tls-bootstrap-"));
    [containerd, server] = await Promise.all([
      startContainerd(),
      startApiServer({ controllers: { nodeLifecycle: false } }),
    ]);
    admin = createKubeClient(loadKubeConfig({ path: server.kubeconfigPath }));
  }, 180_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
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

  /** Starts the kubelet with the bootstrap flags; resolves once it exited (code) via `exited`. */
  async function startKubelet(config: string) {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        `--config=${config}`,
        `--bootstrap-kubeconfig=${join(dir, "bootstrap-kubelet.conf")}`,
        `--kubeconfig=${join(dir, "kubelet.conf")}`,
        `--cert-dir=${join(dir, "pki")}`,
        `--container-runtime-endpoint=${containerd.endpoint}`,
        `--hostname-override=${NODE}`,
        "--node-ip=127.0.0.1",
        `--root-dir=${join(dir, "root")}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    /** Rejects if the kubelet exits while `p` is pending (a failed bootstrap ends the process). */
    const whileRunning = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        exited.then((code) => {
          throw new Error(`the kubelet exited (code ${code}):\n${stderr}`);
        }),
      ]);
    return { child, exited, whileRunning, stderr: () => stderr };
  }

  const csrs = async () =>
    (
      await admin.request<{ items: Csr[] }>({
        method: "GET",
        path: "/apis/certificates.k8s.io/v1/certificatesigningrequests",
      })
    ).items;

  it("requests a node client certificate with a bootstrap token, writes the kubeconfig, registers as system:node:<name>; a restart reuses it", async () => {
    // A bootstrap token as `kubeadm token create` makes one (a kube-system Secret), and a bootstrap
    // kubeconfig as kubeadm writes one: the cluster's CA and the token, which may only create and
    // read CSRs.
    const b64 = (v: string) => Buffer.from(v).toString("base64");
    await admin.request({
      method: "POST",
      path: "/api/v1/namespaces/kube-system/secrets",
      body: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "bootstrap-token-abcdef" },
        type: "bootstrap.kubernetes.io/token",
        data: {
          "token-id": b64("abcdef"),
          "token-secret": b64("0123456789abcdef"),
          "usage-bootstrap-authentication": b64("true"),
          expiration: b64(new Date(Date.now() + 3_600_000).toISOString()),
        },
      },
    });
    const token = "abcdef.0123456789abcdef";
    await writeFile(
      join(dir, "bootstrap-kubelet.conf"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "sim",
            cluster: {
              server: server.url,
              "certificate-authority-data": Buffer.from(server.caPem!).toString("base64"),
            },
          },
        ],
        users: [{ name: "bootstrap", user: { token } }],
        contexts: [{ name: "bootstrap", context: { cluster: "sim", user: "bootstrap" } }],
        "current-context": "bootstrap",
      }),
    );
    const config = join(dir, "kubelet.yaml");
    await writeFile(
      config,
      [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        `podLogsDir: ${join(dir, "logs")}`,
        "nodeStatusUpdateFrequency: 1s",
        "rotateCertificates: true",
        "address: 127.0.0.1",
        `port: ${await freePort()}`,
        `healthzPort: ${await freePort()}`,
        "",
      ].join("\n"),
    );
    server.requests.length = 0;
    const first = await startKubelet(config);
    await first
      .whileRunning(
        waitFor(
          `node ${NODE} Ready`,
          async () => {
            const n = await admin
              .request<{ status?: { conditions?: { type: string; status: string }[] } }>({
                method: "GET",
                path: `/api/v1/nodes/${NODE}`,
              })
              .catch(() => undefined);
            return n?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
              ? true
              : undefined;
          },
          { timeoutMs: 90_000, intervalMs: 250 },
        ),
      )
      .catch((err) => {
        throw new Error(`${(err as Error).message}\nkubelet stderr:\n${first.stderr()}`);
      });

    // One CSR, filed by the bootstrap identity, shaped as upstream's kubelet files it, auto-approved.
    const [csr, ...more] = await csrs();
    expect(more).toEqual([]);
    expect(csr?.metadata.name).toMatch(/^node-csr-[A-Za-z0-9_-]{43}$/);
    expect(csr?.spec).toMatchObject({
      username: BOOTSTRAP_USER,
      groups: ["system:bootstrappers", "system:authenticated"],
      signerName: "kubernetes.io/kube-apiserver-client-kubelet",
      usages: ["digital signature", "client auth"],
    });
    expect(csr?.status.conditions?.[0]).toMatchObject({ type: "Approved", reason: "AutoApproved" });

    // The kubeconfig points at kubelet-client-current.pem, a link to the issued pair.
    const written = JSON.parse(await readFile(join(dir, "kubelet.conf"), "utf8"));
    const current = join(dir, "pki", "kubelet-client-current.pem");
    expect(written.users[0].user).toEqual({ "client-certificate": current, "client-key": current });
    expect(written.clusters[0].cluster.server).toBe(server.url);
    expect(await readlink(current)).toMatch(/^kubelet-client-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$/);
    const pem = await readFile(current, "utf8");
    expect(pem).toMatch(/-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN EC PRIVATE KEY-----/);
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe(`O=system:nodes\nCN=system:node:${NODE}`);
    expect(cert.verify(new X509Certificate(server.caPem!).publicKey)).toBe(true);
    expect(Buffer.from(csr?.status.certificate ?? "", "base64").toString()).toContain(
      cert.toString().split("\n")[1],
    );
    // The pending request's key was removed once the certificate was stored.
    expect((await readdir(join(dir, "pki"))).filter((f) => f.endsWith(".key.tmp"))).toEqual([]);

    // The API server saw the node registered and its status written by the issued identity, and the
    // bootstrap token used for nothing but the CSR.
    const byUser = (user: string) => server.requests.filter((r) => r.user === user);
    expect(byUser(`system:node:${NODE}`)).toContainEqual(
      expect.objectContaining({ verb: "create", resource: "nodes", code: 201 }),
    );
    await waitFor(
      "a node status update from the kubelet",
      () =>
        byUser(`system:node:${NODE}`).some(
          (r) => r.verb === "patch" && r.subresource === "status" && r.name === NODE && r.code === 200,
        ) || undefined,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(new Set(byUser(BOOTSTRAP_USER).map((r) => `${r.verb} ${r.resource}`))).toEqual(
      new Set(["create certificatesigningrequests", "get certificatesigningrequests"]),
    );
    expect(first.stderr()).toContain('"Certificate rotation deadline determined"');

    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    // Restarted with a valid certificate in the kubeconfig: no new CSR, the same identity.
    server.requests.length = 0;
    const second = await startKubelet(config);
    await second.whileRunning(
      waitFor(
        "the restarted kubelet to write node status",
        () => {
          return server.requests.some((r) => r.user === `system:node:${NODE}` && r.subresource === "status")
            ? true
            : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      ),
    );
    expect(second.stderr()).toContain('"Kubeconfig has a valid client certificate, not bootstrapping"');
    expect(await csrs()).toHaveLength(1);
    expect(server.requests.filter((r) => r.user === BOOTSTRAP_USER)).toEqual([]);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 300_000);
});
